"""Sidecar settings from command-line flags and `HOMEIQ_SIDECAR_*` environment variables."""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
import ipaddress
import os
from pathlib import Path

ENV_PREFIX = "HOMEIQ_SIDECAR_"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8018
DEFAULT_MAX_QUEUE = 8
DEFAULT_IDLE_UNLOAD_S = 900.0
DEFAULT_MEMORY_BUDGET_MB = 1024.0
ROLE_FLAGS = {"embed": "embed_model", "rerank": "rerank_model", "classify": "classify_model"}


class SettingsError(ValueError):
    """The flags or environment do not describe a runnable sidecar."""


@dataclass(frozen=True, kw_only=True)
class Settings:
    """Everything the server needs; built once at start-up."""

    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    data_dir: Path = field(default_factory=lambda: Path("homeiq-data"))
    token: str | None = None
    no_auth: bool = False
    models: Mapping[str, str] = field(default_factory=dict)
    precision: str = "int8"
    max_queue: int = DEFAULT_MAX_QUEUE
    max_concurrency: int = 1
    idle_unload_s: float | None = DEFAULT_IDLE_UNLOAD_S
    memory_budget_mb: float | None = DEFAULT_MEMORY_BUDGET_MB
    allow_convert: bool = True
    log_level: str = "INFO"

    @property
    def model_cache_dir(self) -> Path:
        """Converted models live here (the models engineer's ModelManager cache)."""
        return self.data_dir / "models"

    @property
    def text_cache_path(self) -> Path:
        """Embeddings, classifications and pair scores cached by text."""
        return self.data_dir / "cache" / "text-cache.sqlite3"


def is_loopback(host: str) -> bool:
    """True for addresses only this machine can reach."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _env_flag(value: str | None) -> bool:
    return value is not None and value.strip().lower() in {"1", "true", "yes", "on"}


def parse_model_pair(text: str) -> tuple[str, str]:
    """`ROLE=SOURCE` -> (role, source); ValueError says what is wrong with it."""
    role, sep, source = text.partition("=")  # the first "=": a path may hold more
    role, source = role.strip(), source.strip()
    if not sep or not role or not source:
        raise ValueError(f"expected ROLE=SOURCE, got {text!r}")
    if role not in ROLE_FLAGS:
        raise ValueError(f"unknown model role {role!r} (roles: {', '.join(ROLE_FLAGS)})")
    return role, source


def _model_pair_arg(text: str) -> tuple[str, str]:
    try:
        return parse_model_pair(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from err


def model_map(pairs: Sequence[tuple[str, str]]) -> dict[str, str]:
    """Role -> source; a role given twice is refused (which one was meant?)."""
    models: dict[str, str] = {}
    for role, source in pairs:
        if role in models:
            raise ValueError(f"the {role} model is given twice")
        models[role] = source
    return models


def _env_models(env: Mapping[str, str]) -> dict[str, str]:
    """HOMEIQ_SIDECAR_MODELS: comma-separated ROLE=SOURCE pairs."""
    raw = env.get(ENV_PREFIX + "MODELS") or ""
    try:
        return model_map([parse_model_pair(item) for item in raw.split(",") if item.strip()])
    except ValueError as err:
        raise SettingsError(f"{ENV_PREFIX}MODELS: {err}") from err


def build_parser() -> argparse.ArgumentParser:
    """Flags; every default may come from the matching environment variable."""
    parser = argparse.ArgumentParser(
        prog="homeiq_sidecar",
        description="HomeIQ sidecar: pattern mining and OpenVINO models over HTTP.",
        epilog=(
            f"Every flag can also be set as {ENV_PREFIX}<FLAG> (e.g. {ENV_PREFIX}PORT; "
            f"{ENV_PREFIX}MODELS takes comma-separated pairs: embed=ID,rerank=PATH); flags win "
            "over environment variables. A role's model, first found wins: --embed-model etc., "
            f"--models, {ENV_PREFIX}EMBED_MODEL etc., {ENV_PREFIX}MODELS, the default."
        ),
    )
    parser.add_argument("--host", help=f"bind address (default {DEFAULT_HOST})")
    parser.add_argument(
        "--port", type=int, help=f"TCP port, 0 = pick a free one (default {DEFAULT_PORT})"
    )
    parser.add_argument("--data-dir", type=Path, help="model cache and text caches (required)")
    parser.add_argument("--token", help="bearer token (prefer --token-file: argv is visible)")
    parser.add_argument("--token-file", type=Path, help="file holding the bearer token")
    parser.add_argument(
        "--no-auth", action="store_true", default=None, help="no token (loopback only)"
    )
    parser.add_argument(
        "--models",
        nargs="+",
        action="extend",
        type=_model_pair_arg,
        metavar="ROLE=SOURCE",
        help="models by role (embed, rerank, classify): hub id or local path, e.g. "
        "--models embed=sentence-transformers/all-MiniLM-L6-v2 rerank=/models/bge; "
        "--embed-model etc. win over it",
    )
    parser.add_argument("--embed-model", help="hub id or local path of the embedding model")
    parser.add_argument("--rerank-model", help="hub id or local path of the reranker")
    parser.add_argument("--classify-model", help="hub id or local path of the seq2seq classifier")
    parser.add_argument(
        "--precision", choices=["int8", "fp32"], help="model precision (default int8)"
    )
    parser.add_argument(
        "--max-queue", type=int, help=f"waiting requests before 429 (default {DEFAULT_MAX_QUEUE})"
    )
    parser.add_argument(
        "--idle-unload", type=float, help="unload idle models after S seconds, 0 = never"
    )
    parser.add_argument(
        "--memory-budget",
        type=float,
        help="MiB: above it, models idle for 10 s unload too, as do those not in use when an "
        f"analysis ends (default {DEFAULT_MEMORY_BUDGET_MB:.0f}, 0 = no budget)",
    )
    parser.add_argument(
        "--no-convert", action="store_true", default=None, help="only load already converted models"
    )
    parser.add_argument("--log-level", help="DEBUG, INFO, WARNING (default INFO)")
    return parser


def parse_settings(
    argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None
) -> Settings:
    """Merge flags over environment variables over defaults, and check the result."""
    env = os.environ if env is None else env
    parser = build_parser()
    args = parser.parse_args(argv)

    def env_only(name: str) -> str | None:
        return env.get(ENV_PREFIX + name.upper()) or None

    def pick(name: str) -> str | None:
        value = getattr(args, name)
        if value is not None:
            return str(value)
        return env_only(name)

    host = pick("host") or DEFAULT_HOST
    try:
        port = int(pick("port") or DEFAULT_PORT)
        max_queue = int(pick("max_queue") or DEFAULT_MAX_QUEUE)
        idle_raw = pick("idle_unload")
        idle = float(idle_raw) if idle_raw is not None else DEFAULT_IDLE_UNLOAD_S
        budget_raw = pick("memory_budget")
        budget = float(budget_raw) if budget_raw is not None else DEFAULT_MEMORY_BUDGET_MB
    except ValueError as err:
        raise SettingsError(f"not a number: {err}") from err
    if not 0 <= port <= 65535:
        raise SettingsError(f"port {port} is out of range")
    if max_queue < 0:
        raise SettingsError("--max-queue must be 0 or more")

    data_dir_raw = pick("data_dir")
    if not data_dir_raw:
        raise SettingsError("--data-dir (or HOMEIQ_SIDECAR_DATA_DIR) is required")

    token = pick("token")
    token_file = pick("token_file")
    if token_file:
        try:
            token = Path(token_file).read_text(encoding="utf-8").strip()
        except OSError as err:
            raise SettingsError(f"cannot read the token file: {err.strerror}") from err
    no_auth = bool(args.no_auth) or _env_flag(env.get(ENV_PREFIX + "NO_AUTH"))
    if no_auth:
        if not is_loopback(host):
            raise SettingsError("--no-auth is allowed only on a loopback address")
        token = None
    elif not token:
        raise SettingsError("a token is required (--token, --token-file or HOMEIQ_SIDECAR_TOKEN)")

    try:
        flag_models = model_map(args.models or [])
    except ValueError as err:
        parser.error(f"argument --models: {err}")  # exits 2, like a malformed pair
    models = _env_models(env)
    # Lowest to highest: MODELS env, per-role env, --models, per-role flags.
    models.update({role: value for role, flag in ROLE_FLAGS.items() if (value := env_only(flag))})
    models.update(flag_models)
    models.update(
        {role: value for role, flag in ROLE_FLAGS.items() if (value := getattr(args, flag))}
    )
    precision = pick("precision") or "int8"
    if precision not in {"int8", "fp32"}:
        raise SettingsError(f"unknown precision {precision!r}")
    no_convert = bool(args.no_convert) or _env_flag(env.get(ENV_PREFIX + "NO_CONVERT"))

    return Settings(
        host=host,
        port=port,
        data_dir=Path(data_dir_raw).expanduser(),
        token=token,
        no_auth=no_auth,
        models=models,
        precision=precision,
        max_queue=max_queue,
        idle_unload_s=idle if idle > 0 else None,
        memory_budget_mb=budget if budget > 0 else None,
        allow_convert=not no_convert,
        log_level=(pick("log_level") or "INFO").upper(),
    )
