"""Request schemas (voluptuous) and the fast event-row converter for /v1/analyze."""

from __future__ import annotations

from collections.abc import Callable, Sequence
import math
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import voluptuous as vol

from homeiq_miner import Event
from homeiq_miner.errors import MAX_TS, MIN_TS

from .errors import ApiError

MAX_TEXTS = 2048
MAX_DOCUMENTS = 1000
MAX_CLASSIFY = 256
MAX_TEXT_CHARS = 4096
MAX_LABELS = 20


def _unicode(value: str) -> str:
    """Refuse lone surrogates: JSON's \\u escapes can carry them, but no tokenizer, SQLite
    text or UTF-8 log line can, so they would fail deep inside a model as a 500."""
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as err:
            raise vol.Invalid("not valid Unicode (lone surrogate)") from err
    return value


def _no_nul(value: str) -> str:
    """Refuse NUL: no home's text has one, and a (query, document) pair of NULs tokenizes to
    an empty pair that the reranker fails on (a 500 otherwise)."""
    if "\x00" in value:
        raise vol.Invalid("may not contain NUL characters")
    return value


def _time_zone(value: Any) -> str:
    name = vol.All(str, vol.Length(min=1, max=64), _unicode)(value)
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as err:
        raise vol.Invalid(f"unknown time zone {name!r}") from err
    return str(name)


def _unique(values: list[str]) -> list[str]:
    if len(set(values)) != len(values):
        raise vol.Invalid("labels must be unique")
    return values


TEXT = vol.All(str, vol.Length(min=1, max=MAX_TEXT_CHARS), _unicode, _no_nul)
LABEL = vol.All(
    str,
    vol.Length(min=1, max=64),
    vol.Match(r"\S", msg="labels may not be blank"),
    _unicode,
    _no_nul,
)
LABELS = vol.All([LABEL], vol.Length(min=2, max=MAX_LABELS), _unique)
# A model may be named by role or by its configured source; anything else is refused later.
MODEL_NAME = vol.All(str, vol.Length(min=1, max=200), _unicode)

EMBED_SCHEMA = vol.Schema(
    {
        vol.Required("texts"): vol.All([TEXT], vol.Length(min=1, max=MAX_TEXTS)),
        vol.Optional("model"): MODEL_NAME,
    }
)

RERANK_SCHEMA = vol.Schema(
    {
        vol.Required("query"): TEXT,
        vol.Required("documents"): vol.All([TEXT], vol.Length(min=1, max=MAX_DOCUMENTS)),
        vol.Optional("model"): MODEL_NAME,
    }
)

CLASSIFY_SCHEMA = vol.Schema(
    {
        vol.Required("texts"): vol.All([TEXT], vol.Length(min=1, max=MAX_CLASSIFY)),
        vol.Optional("categories"): LABELS,
        vol.Optional("priorities"): LABELS,
        vol.Optional("model"): MODEL_NAME,
    }
)

ANALYZE_OPTIONS_SCHEMA = vol.Schema(
    {
        vol.Optional("min_confidence"): vol.All(vol.Coerce(float), vol.Range(min=0.0, max=1.0)),
        vol.Optional("max_patterns"): vol.All(int, vol.Range(min=1, max=10000)),
        vol.Optional("categories"): LABELS,
        vol.Optional("priorities"): LABELS,
        vol.Optional("top_k"): vol.All(int, vol.Range(min=1, max=100)),
        vol.Optional("similar"): vol.All(int, vol.Range(min=0, max=50)),
    }
)

MAX_GROUPS = 10_000
MAX_GROUP_MEMBERS = 1_000
_ENTITY = vol.All(str, vol.Length(min=1, max=255), _unicode)

# Unix times of Home Assistant's starts (a restart a day for a year stays far below this).
MAX_RESTARTS = 10_000


def _unix_time(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise vol.Invalid("expected unix seconds (a finite number)")
    if not MIN_TS <= value < MAX_TS:
        raise vol.Invalid("expected unix seconds between 1970 and 2100")
    return float(value)


_TIMES = vol.All([_unix_time], vol.Length(max=MAX_RESTARTS))


def _degrees(limit: float) -> Callable[[Any], float]:
    """A finite number of degrees within +-limit."""

    def check(value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise vol.Invalid("expected degrees (a number)")
        if not -limit <= value <= limit:  # NaN fails too
            raise vol.Invalid(f"expected degrees from -{limit} to {limit}")
        return float(value)

    return check


# Rows are checked by `events_from_rows`: voluptuous per row is too slow for millions of rows.
ANALYZE_SCHEMA = vol.Schema(
    {
        vol.Required("events"): list,
        vol.Optional("automation_context_ids", default=list): vol.All(
            [vol.All(str, vol.Length(max=128), _unicode)]
        ),
        vol.Optional("time_zone", default="UTC"): _time_zone,
        # Friendly names make descriptions readable (and better to embed); ids stay the keys.
        vol.Optional("names", default=dict): {
            vol.All(str, vol.Length(max=255), _unicode): vol.All(str, vol.Length(max=255), _unicode)
        },
        vol.Optional("options", default=dict): ANALYZE_OPTIONS_SCHEMA,
        # A group's state follows its members': a group -> member pair is no reaction.
        vol.Optional("groups", default=dict): vol.All(
            {_ENTITY: vol.All([_ENTITY], vol.Length(max=MAX_GROUP_MEMBERS))},
            vol.Length(max=MAX_GROUPS),
        ),
        # Start-ups write every state at once; the miner does not take them for habits.
        vol.Optional("restarts", default=dict): {
            vol.Optional("recorder_starts", default=list): _TIMES,
            vol.Optional("started", default=list): _TIMES,
        },
        # The home's location (degrees): habits that follow sunrise or sunset.
        vol.Optional("location", default=None): vol.Any(
            None,
            {
                vol.Required("latitude"): _degrees(90),
                vol.Required("longitude"): _degrees(180),
            },
        ),
    }
)


class EventRowError(ValueError):
    """A row of `events` is malformed; the message names the row."""


def _opt_str(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise TypeError


def events_from_rows(rows: Sequence[Any]) -> list[Event]:
    """Convert `[ts, entity_id, state, ctx?, parent?, user?]` rows to miner events."""
    events: list[Event] = []
    append = events.append
    for index, row in enumerate(rows):
        try:
            if not isinstance(row, list) or not 3 <= len(row) <= 6:
                raise TypeError  # noqa: TRY301
            ts, entity_id, state = row[0], row[1], row[2]
            if isinstance(ts, bool) or not isinstance(ts, int | float) or not math.isfinite(ts):
                raise TypeError  # noqa: TRY301
            if not isinstance(entity_id, str) or "." not in entity_id or len(entity_id) > 255:
                raise TypeError  # noqa: TRY301
            if not isinstance(state, str):
                raise TypeError  # noqa: TRY301
            if not (entity_id.isascii() and state.isascii()):
                # Both end up in descriptions that are tokenized: no lone surrogates.
                entity_id.encode("utf-8")
                state.encode("utf-8")
            extra = [_opt_str(v) for v in row[3:]]
            extra += [None] * (3 - len(extra))
            append(Event(float(ts), entity_id, state, extra[0], extra[1], extra[2]))
        except (TypeError, UnicodeEncodeError) as err:
            raise EventRowError(
                f"events[{index}] must be [unix_ts, entity_id, state, context_id?, "
                "context_parent_id?, context_user_id?] with a domain.object entity id"
            ) from err
    return events


def validate(schema: vol.Schema, data: Any) -> dict[str, Any]:
    """Apply a voluptuous schema; 400 with the path of the first problem."""
    if not isinstance(data, dict):
        raise ApiError(400, "invalid_request", "The body must be a JSON object.")
    try:
        result: dict[str, Any] = schema(data)
    except vol.MultipleInvalid as err:
        raise ApiError(400, "invalid_request", humanize(err)) from err
    return result


def humanize(err: vol.Invalid) -> str:
    """'texts[2]: expected str' rather than voluptuous' repr."""
    path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in err.path).lstrip(".")
    return f"{path or 'body'}: {err.error_message}." if err.error_message else f"{path}: invalid."
