"""Coordinator: restores stored results, runs one analysis at a time, tracks the sidecar."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from datetime import datetime, time as dt_time, timedelta
from functools import partial
from io import BufferedRandom
import tempfile
import time
from typing import TYPE_CHECKING, Any

from homeassistant.components.automation import EVENT_AUTOMATION_RELOADED
from homeassistant.const import EVENT_STATE_CHANGED, STATE_UNAVAILABLE
from homeassistant.core import Context, Event, EventStateChangedData, HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers.debounce import Debouncer
from homeassistant.helpers.event import async_track_time_change, async_track_time_interval
from homeassistant.helpers.recorder import get_instance
from homeassistant.helpers.start import async_at_started
from homeassistant.helpers.storage import Store
from homeassistant.helpers.sun import get_astral_event_date
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator
from homeassistant.util import dt as dt_util
from homeassistant.util.hass_dict import HassKey
from sqlalchemy.exc import SQLAlchemyError

from . import backup, issues
from .api import (
    HomeIQApiError,
    HomeIQAuthError,
    HomeIQConnectionError,
    HomeIQModelLoadingError,
)
from .automations import async_create_automation, async_set_enabled, build_config
from .const import (
    CONF_ANALYSIS_TIME,
    CONF_LOOKBACK_DAYS,
    CONF_MAX_SUGGESTIONS,
    CONF_MIN_CONFIDENCE,
    DEFAULT_ANALYSIS_TIME,
    DEFAULT_LOOKBACK_DAYS,
    DEFAULT_MAX_SUGGESTIONS,
    DEFAULT_MIN_CONFIDENCE,
    DOMAIN,
    LOGGER,
    STATUS_ACCEPTED,
    STATUS_DISMISSED,
)
from .covered import async_covering
from .data import Decision, HomeIQData
from .history import async_build_selection, async_groups, write_analyze_body
from .sidecar import STATE_RUNNING, Sidecar

if TYPE_CHECKING:
    from . import HomeIQConfigEntry

STORAGE_VERSION = 1
HEALTH_INTERVAL = timedelta(seconds=60)
MAX_PATTERNS = 200
# A script or scene reload takes each changed one away and adds it again: one look at the
# automations once it is over, not one with it missing and one with it back.
RELOAD_SETTLE_S = 1.0


def storage_key(entry_id: str) -> str:
    """The .storage file of an entry's results and decisions."""
    return f"{DOMAIN}.{entry_id}"


# Results an unloaded entry could not save (disk full), by entry id: see async_unload.
UNSAVED: HassKey[dict[str, HomeIQData]] = HassKey(f"{DOMAIN}_unsaved")


def sun_minutes(hass: HomeAssistant) -> dict[str, int]:
    """Local minutes after midnight of today's sunrise and sunset at the home (those the sun
    has today): a time habit's place from the sun, for its decisions (data.sun_moved)."""
    today = dt_util.now().date()
    minutes = {}
    for event in ("sunrise", "sunset"):
        if (when := get_astral_event_date(hass, event, today)) is not None:
            local = dt_util.as_local(when)
            minutes[event] = local.hour * 60 + local.minute
    return minutes


def _close_made_file(opening: asyncio.Future[BufferedRandom]) -> None:
    if not opening.cancelled() and opening.exception() is None:
        opening.result().close()  # empty and unlinked: closing it does not wait on the disk


class HomeIQCoordinator(DataUpdateCoordinator[HomeIQData]):
    """Holds the latest analysis; never polls (daily schedule and on demand)."""

    config_entry: HomeIQConfigEntry

    def __init__(self, hass: HomeAssistant, entry: HomeIQConfigEntry, sidecar: Sidecar) -> None:
        """No I/O here; `async_restore` loads the store."""
        super().__init__(hass, LOGGER, config_entry=entry, name=DOMAIN, update_interval=None)
        self.sidecar = sidecar
        self.store: Store[dict[str, Any]] = Store(
            hass, STORAGE_VERSION, storage_key(entry.entry_id)
        )
        self.connected = False
        self._was_connected = False  # "reachable again" only after it once was
        self.models: dict[str, dict[str, Any]] = {}
        self._analysis: asyncio.Task[HomeIQData] | None = None
        self._backup_path = backup.backup_path(hass, entry.entry_id)
        self.save_failed = False
        self.data = HomeIQData()
        self._clocks: frozenset[str] = frozenset()  # see async_follow_automations

    @property
    def options(self) -> dict[str, Any]:
        """The entry's options."""
        return dict(self.config_entry.options)

    @property
    def max_suggestions(self) -> int:
        """How many new suggestions to show."""
        return int(self.options.get(CONF_MAX_SUGGESTIONS, DEFAULT_MAX_SUGGESTIONS))

    @property
    def analyzing(self) -> bool:
        """True while an analysis runs."""
        return self._analysis is not None and not self._analysis.done()

    async def async_restore(self) -> None:
        """Show the stored results at once: no analysis during setup.

        Decisions missing from the results file (HA moved a corrupt one aside, or it was lost)
        come back from their backup copy, and a repair issue says what happened.
        """
        unsaved = self.hass.data.get(UNSAVED, {}).pop(self.config_entry.entry_id, None)
        if unsaved is not None:
            # This entry's previous set-up could not save them (see async_unload): they are
            # newer than the files. Try again now; the repair issue stays until it works.
            self.data, self.save_failed = unsaved, True
            await self._async_persist(self.data)
            return
        self.data = HomeIQData.from_store(await self.store.async_load())
        copied = await self.hass.async_add_executor_job(backup.read_decisions, self._backup_path)
        recovered = {
            pid: Decision.from_dict(value)
            for pid, value in copied.items()
            if pid not in self.data.decisions
        }
        if recovered:
            LOGGER.warning(
                "HomeIQ's stored results were missing or unreadable; recovered %s accepted or"
                " dismissed suggestions from %s. Patterns come back with the next analysis",
                len(recovered), self._backup_path,
            )  # fmt: skip
            self.data.decisions.update(recovered)
            issues.async_raise(self.hass, issues.ISSUE_RESULTS_RECOVERED, count=str(len(recovered)))
            await self._async_persist(self.data)

    async def _async_update_data(self) -> HomeIQData:
        # Analyses are started explicitly (async_analyze); a refresh just republishes.
        return self.data

    @callback
    def async_schedule(self) -> None:
        """Daily analysis at the configured time, and a sidecar health check."""
        # The time selector stores "HH:MM:SS"; "HH:MM" (valid for the selector too, e.g. from
        # the API) must not fail the set-up.
        value = str(self.options.get(CONF_ANALYSIS_TIME, DEFAULT_ANALYSIS_TIME))
        at = dt_util.parse_time(value)
        if at is None:
            LOGGER.warning("Analysis time %r is not a time; using %s", value, DEFAULT_ANALYSIS_TIME)
            at = dt_time.fromisoformat(DEFAULT_ANALYSIS_TIME)
        self.config_entry.async_on_unload(
            async_track_time_change(
                self.hass, self._scheduled, hour=at.hour, minute=at.minute, second=at.second
            )
        )
        self.config_entry.async_on_unload(
            async_track_time_interval(self.hass, self._check_health, HEALTH_INTERVAL)
        )

    @callback
    def async_follow_automations(self) -> None:
        """Leave out suggestions the user's own automations already do (covered.py), worked
        out now or once HA has started (automations may load after HomeIQ), and again whenever
        automations, scripts or scenes are reloaded (written, edited or deleted in the
        editor) or a helper or sensor that sets a time trigger's time changes."""
        self.config_entry.async_on_unload(
            self.hass.bus.async_listen(EVENT_AUTOMATION_RELOADED, self._automations_changed)
        )
        self.config_entry.async_on_unload(async_at_started(self.hass, self._automations_changed))
        # Automations run scripts and scenes. Saving one in the editor reloads them, with no
        # event of its own: HA takes each changed one away (unavailable, or gone) and adds it
        # again.
        look_later = Debouncer(
            self.hass,
            LOGGER,
            cooldown=RELOAD_SETTLE_S,
            immediate=False,
            function=self._automations_changed,
        )
        self.config_entry.async_on_unload(look_later.async_cancel)

        @callback
        def replaced(data: EventStateChangedData) -> bool:
            # Runs for every state change in HA: a prefix test and a set lookup.
            entity_id, old, new = data["entity_id"], data["old_state"], data["new_state"]
            if entity_id in self._clocks:  # the wake-up helper set to 06:45, the next alarm
                return old is None or new is None or old.state != new.state
            return entity_id.startswith(("script.", "scene.")) and (
                old is None or new is None or STATE_UNAVAILABLE in (old.state, new.state)
            )

        @callback
        def look_again(_event: Event[EventStateChangedData]) -> None:
            look_later.async_schedule_call()

        self.config_entry.async_on_unload(
            self.hass.bus.async_listen(EVENT_STATE_CHANGED, look_again, event_filter=replaced)
        )

    @callback
    def _automations_changed(self, _event: Event | HomeAssistant | None = None) -> None:
        covered = self._look(self.data.patterns)
        if covered != self.data.covered:
            self.data.covered = covered
            self.async_update_listeners()

    @callback
    def _look(self, patterns: list[dict[str, Any]]) -> dict[str, str]:
        """Which suggestions the user's automations do; remembers what the answer read."""
        covering = async_covering(self.hass, patterns)
        self._clocks = covering.clocks
        return covering.by_pattern

    async def _scheduled(self, _now: datetime) -> None:
        try:
            await self.async_analyze()
        except HomeAssistantError as err:
            LOGGER.warning("Scheduled HomeIQ analysis failed: %s", err)

    async def _check_health(self, _now: datetime | None = None) -> None:
        if self.save_failed:
            # Disk full earlier: retry, so decisions reach the disk without a new change.
            await self._async_persist(self.data)
        await self.async_check_sidecar()

    async def async_check_sidecar(self) -> bool:
        """Ask the sidecar how it is; update connectivity and repair issues."""
        client = self.sidecar.client
        if client is None:
            self._set_connected(False)
            return False
        try:
            await client.health()
            self.models = await client.models()
        except HomeIQAuthError as err:
            self._async_auth_failed(err)
            return False
        except HomeIQApiError as err:
            LOGGER.debug("HomeIQ sidecar check failed: %s", err)
            self._set_connected(False, str(err))
            return False
        self._set_connected(True)
        self._update_model_issues()
        return True

    @callback
    def async_sidecar_changed(self) -> None:
        """The managed sidecar started or stopped."""
        if self.sidecar.state == STATE_RUNNING:
            self.config_entry.async_create_background_task(
                self.hass, self.async_check_sidecar(), "homeiq sidecar check"
            )
        else:
            self._set_connected(False)

    @callback
    def _async_auth_failed(self, err: HomeIQAuthError) -> None:
        """A container's token changed: ask the user for the new one. The reauthentication
        notice is the one message: an "unreachable" repair issue as well would send them
        looking for a network problem. (A managed sidecar gets its token from HA, so it cannot
        disagree; if it ever did, it is reported as unreachable.)"""
        self._set_connected(False, str(err), raise_issue=self.sidecar.managed)
        if not self.sidecar.managed:
            self.config_entry.async_start_reauth(self.hass)

    @callback
    def _set_connected(
        self, connected: bool, error: str | None = None, *, raise_issue: bool = True
    ) -> None:
        if connected != self.connected:
            # Logged once per change, not on every failed check.
            if connected:
                LOGGER.info(
                    "HomeIQ sidecar is reachable%s", " again" if self._was_connected else ""
                )
                self._was_connected = True
            else:
                LOGGER.warning("HomeIQ sidecar is unavailable: %s", error or self.sidecar.state)
        if connected or not raise_issue:
            issues.async_clear(self.hass, issues.ISSUE_SIDECAR_UNREACHABLE)
        elif error is not None or (
            self.sidecar.managed and self.sidecar.supervisor and self.sidecar.supervisor.restarts
        ):
            # A managed sidecar that is still installing or starting is not "unreachable".
            last = self.sidecar.supervisor.last_error if self.sidecar.supervisor else None
            issues.async_raise(
                self.hass,
                issues.ISSUE_SIDECAR_UNREACHABLE,
                url=self.sidecar.url or "managed",
                error=(error or last or "not running")[:500],
            )
        if connected != self.connected:
            self.connected = connected
            self.async_update_listeners()

    @callback
    def _update_model_issues(self) -> None:
        failed = {r: m["error"] for r, m in self.models.items() if m.get("error")}
        missing = [
            r for r, m in self.models.items() if not m.get("available") and not m.get("error")
        ]
        if failed:
            issues.async_raise(
                self.hass,
                issues.ISSUE_MODELS_FAILED,
                models=", ".join(f"{r}: {e}" for r, e in sorted(failed.items()))[:1000],
            )
        else:
            issues.async_clear(self.hass, issues.ISSUE_MODELS_FAILED)
        if missing:
            issues.async_raise(
                self.hass, issues.ISSUE_MODELS_MISSING, models=", ".join(sorted(missing))
            )
        else:
            issues.async_clear(self.hass, issues.ISSUE_MODELS_MISSING)

    async def async_analyze(
        self, lookback_days: int | None = None, entity_ids: Iterable[str] | None = None
    ) -> HomeIQData:
        """Run an analysis; a request while one runs joins it instead of starting another."""
        if self._analysis is None or self._analysis.done():
            self._analysis = self.config_entry.async_create_background_task(
                self.hass,
                self._analyze(lookback_days, None if entity_ids is None else list(entity_ids)),
                "homeiq analysis",
            )
        # shield: a caller that gives up (cancelled action) must not cancel the others' run.
        try:
            return await asyncio.shield(self._analysis)
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if current is not None and current.cancelling():
                raise  # the caller itself is being cancelled
            # The run was cancelled under the caller (the entry unloads: reload, removal,
            # HA stopping): answer it, or a UI call would wait for a reply forever.
            raise HomeAssistantError(
                translation_domain=DOMAIN, translation_key="analysis_cancelled"
            ) from None

    async def _new_body(self) -> BufferedRandom:
        """A temporary file for the request body, closed again if the run is cancelled while
        the executor makes it (an unload or HA stopping): else the open file is dropped."""
        opening = self.hass.async_add_executor_job(tempfile.TemporaryFile)
        try:
            return await asyncio.shield(opening)
        except asyncio.CancelledError:
            opening.add_done_callback(_close_made_file)
            raise

    async def _analyze(self, lookback_days: int | None, entity_ids: list[str] | None) -> HomeIQData:
        client = self.sidecar.client
        if client is None:
            raise HomeAssistantError(
                translation_domain=DOMAIN,
                translation_key="sidecar_not_running",
                translation_placeholders={"state": self.sidecar.state},
            )
        options = self.options
        days = lookback_days or int(options.get(CONF_LOOKBACK_DAYS, DEFAULT_LOOKBACK_DAYS))
        selection = async_build_selection(self.hass, options, entity_ids)
        end = time.time()
        extra = {
            "time_zone": self.hass.config.time_zone,
            # Stays in the house like everything else: for habits that follow the sun.
            "location": {
                "latitude": self.hass.config.latitude,
                "longitude": self.hass.config.longitude,
            },
            "groups": async_groups(self.hass, selection),
            "options": {
                "min_confidence": float(options.get(CONF_MIN_CONFIDENCE, DEFAULT_MIN_CONFIDENCE)),
                "max_patterns": MAX_PATTERNS,
            },
        }
        started = time.monotonic()
        # The body goes to a temporary file, not memory: a year of a large home is ~100 MB.
        body = await self._new_body()
        try:
            stats = await get_instance(self.hass).async_add_executor_job(
                partial(
                    write_analyze_body,
                    self.hass,
                    selection,
                    start_ts=end - days * 86400,
                    end_ts=end,
                    extra=extra,
                    out=body,
                )
            )
            await self.hass.async_add_executor_job(body.seek, 0)
            result = await client.analyze(body)
        except (SQLAlchemyError, OSError) as err:
            # A locked or busy database (backup, purge, another program) or a full disk for
            # the body: nothing is lost, the next run reads again.
            LOGGER.warning("HomeIQ could not read the recorder's history: %s", err)
            raise HomeAssistantError(
                translation_domain=DOMAIN,
                translation_key="history_failed",
                translation_placeholders={"error": str(err).splitlines()[0][:300]},
            ) from err
        except HomeIQAuthError as err:
            self._async_auth_failed(err)
            raise HomeAssistantError(
                translation_domain=DOMAIN, translation_key="sidecar_auth_failed"
            ) from err
        except HomeIQConnectionError as err:
            self._set_connected(False, str(err))
            raise HomeAssistantError(
                translation_domain=DOMAIN,
                translation_key="sidecar_unreachable",
                translation_placeholders={"error": str(err)},
            ) from err
        except HomeIQModelLoadingError as err:
            raise HomeAssistantError(
                translation_domain=DOMAIN, translation_key="models_loading"
            ) from err
        except HomeIQApiError as err:
            raise HomeAssistantError(
                translation_domain=DOMAIN,
                translation_key="analysis_failed",
                translation_placeholders={"error": str(err)},
            ) from err
        finally:
            await self.hass.async_add_executor_job(body.close)
        self._set_connected(True)
        sun = sun_minutes(self.hass)
        for pattern in result["patterns"]:
            if pattern.get("type") == "time_of_day":
                pattern["sun_minutes"] = sun
        data = HomeIQData(
            patterns=result["patterns"],
            decisions=self.data.decisions,
            summary=result["summary"],
            last_analysis=dt_util.utcnow(),
            duration_s=round(time.monotonic() - started, 3),
            events=stats.events,
        )
        data.covered = self._look(data.patterns)
        models = data.summary.get("models")  # which models ran, or the fallbacks (honest)
        LOGGER.info(
            "HomeIQ analysed %s state changes of %s entities in %.1f s: %s patterns; models: %s",
            stats.events, stats.entities, data.duration_s or 0.0, len(data.patterns),
            "; ".join(f"{role} {what}" for role, what in models.items())
            if isinstance(models, dict) and models else "not reported",
        )  # fmt: skip
        issues.async_clear(self.hass, issues.ISSUE_RESULTS_RECOVERED)
        await self._async_persist(data)
        self.async_set_updated_data(data)
        return data

    async def async_unload(self) -> None:
        """The entry unloads (reload, option change, removal, HA stopping): a last save.

        If the disk still refuses it, the unsaved results wait in hass.data for the entry's
        next set-up instead of being dropped with this coordinator; only a restart of HA
        loses them, as the repair issue warns.
        """
        if self.save_failed:
            await self._async_persist(self.data)
        if self.save_failed:
            self.hass.data.setdefault(UNSAVED, {})[self.config_entry.entry_id] = self.data

    async def async_save(self) -> None:
        """Persist decisions (atomic write) and tell the entities."""
        await self._async_persist(self.data)
        self.async_update_listeners()

    async def _async_persist(self, data: HomeIQData) -> None:
        """Write the results file and the decisions' backup copy.

        Store logs a failed write and carries on; the copy's write raises, so a full disk is
        noticed here: the decisions stay in memory, a repair issue says so, and the health
        check retries until a save succeeds.
        """
        await self.store.async_save(data.to_store())
        decisions = {pid: d.as_dict() for pid, d in data.decisions.items()}
        try:
            await self.hass.async_add_executor_job(
                backup.write_decisions, self._backup_path, decisions
            )
        except HomeAssistantError as err:
            if not self.save_failed:
                LOGGER.error(
                    "HomeIQ could not save its results and decisions (%s). Free disk space in"
                    " the config folder; they are kept in memory and saved again automatically",
                    err,
                )
            self.save_failed = True
            issues.async_raise(self.hass, issues.ISSUE_SAVE_FAILED, error=str(err)[:500])
            return
        if self.save_failed:
            LOGGER.info("HomeIQ saved its results and decisions again")
        self.save_failed = False
        issues.async_clear(self.hass, issues.ISSUE_SAVE_FAILED)

    def _suggested(self, pattern_id: str) -> dict[str, Any]:
        pattern = self.data.pattern(pattern_id)
        if (automation := self.data.covered.get(pattern_id)) is not None:
            raise ServiceValidationError(
                translation_domain=DOMAIN,
                translation_key="suggestion_covered",
                translation_placeholders={"suggestion_id": pattern_id, "automation": automation},
            )
        if pattern is None or self.data.status(pattern) is None:
            raise ServiceValidationError(
                translation_domain=DOMAIN,
                translation_key="unknown_suggestion",
                translation_placeholders={"suggestion_id": pattern_id},
            )
        return pattern

    async def async_accept(
        self, pattern_id: str, *, enabled: bool, context: Context | None = None
    ) -> str:
        """Create the suggested automation, on or off as asked; returns its automation id.

        ``context`` is the asking user's: the reload and the switch are logged as theirs.
        """
        pattern = self._suggested(pattern_id)
        config = build_config(pattern_id, pattern["suggestion"])
        await async_create_automation(self.hass, config, context)
        # Set once as asked (accepting again may re-enable it); the user's toggles then stick.
        await async_set_enabled(self.hass, config["id"], enabled, context)
        self.data.decide(pattern, STATUS_ACCEPTED, config["id"])
        await self.async_save()
        return str(config["id"])

    async def async_dismiss(self, pattern_id: str) -> None:
        """Do not suggest this habit again (unless it changes)."""
        pattern = self._suggested(pattern_id)
        self.data.decide(pattern, STATUS_DISMISSED, None)
        await self.async_save()
