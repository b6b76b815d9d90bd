"""Constants for the HomeIQ integration."""

from __future__ import annotations

from typing import Final

DOMAIN: Final = "homeiq"

CONF_MODE: Final = "mode"
CONF_URL: Final = "url"
CONF_TOKEN: Final = "token"  # noqa: S105 - a config key, not a secret

MODE_MANAGED: Final = "managed"
MODE_EXTERNAL: Final = "external"

CONF_ANALYSIS_TIME: Final = "analysis_time"
CONF_LOOKBACK_DAYS: Final = "lookback_days"
CONF_MIN_CONFIDENCE: Final = "min_confidence"
CONF_MAX_SUGGESTIONS: Final = "max_suggestions"

DEFAULT_ANALYSIS_TIME: Final = "03:00:00"
DEFAULT_LOOKBACK_DAYS: Final = 30
DEFAULT_MIN_CONFIDENCE: Final = 0.6
DEFAULT_MAX_SUGGESTIONS: Final = 20
