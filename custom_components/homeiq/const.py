"""Constants for the HomeIQ integration."""

from __future__ import annotations

import logging
from typing import Final

DOMAIN: Final = "homeiq"
LOGGER: Final = logging.getLogger(__package__)

CONF_MODE: Final = "mode"
CONF_URL: Final = "url"
CONF_TOKEN: Final = "token"  # noqa: S105 - a config key, not a secret

MODE_MANAGED: Final = "managed"
MODE_EXTERNAL: Final = "external"

# Options (options flow).
CONF_ANALYSIS_TIME: Final = "analysis_time"
CONF_LOOKBACK_DAYS: Final = "lookback_days"
CONF_MIN_CONFIDENCE: Final = "min_confidence"
CONF_MAX_SUGGESTIONS: Final = "max_suggestions"
CONF_PRECISION: Final = "precision"
CONF_INCLUDE_ENTITIES: Final = "include_entities"
CONF_EXCLUDE_ENTITIES: Final = "exclude_entities"
CONF_INCLUDE_DOMAINS: Final = "include_domains"
CONF_EXCLUDE_DOMAINS: Final = "exclude_domains"
CONF_INCLUDE_AREAS: Final = "include_areas"
CONF_EXCLUDE_AREAS: Final = "exclude_areas"

DEFAULT_ANALYSIS_TIME: Final = "03:00:00"
DEFAULT_LOOKBACK_DAYS: Final = 30
DEFAULT_MIN_CONFIDENCE: Final = 0.6
DEFAULT_MAX_SUGGESTIONS: Final = 20
DEFAULT_PRECISION: Final = "int8"
PRECISIONS: Final = ("int8", "fp32")
MAX_LOOKBACK_DAYS: Final = 365

# Domains whose state changes can be habits; sensors with numeric noise are left out.
DEFAULT_DOMAINS: Final = (
    "alarm_control_panel",
    "binary_sensor",
    "button",
    "climate",
    "cover",
    "device_tracker",
    "event",
    "fan",
    "humidifier",
    "input_boolean",
    "input_button",
    "input_select",
    "light",
    "lock",
    "media_player",
    "person",
    "scene",
    "script",
    "select",
    "switch",
    "vacuum",
    "valve",
    "water_heater",
)

CATEGORIES: Final = ("energy", "comfort", "security", "convenience", "maintenance")

# Suggestion decisions.
STATUS_NEW: Final = "new"
STATUS_ACCEPTED: Final = "accepted"
STATUS_DISMISSED: Final = "dismissed"

# Service (action) fields.
ATTR_CONFIG_ENTRY_ID: Final = "config_entry_id"
ATTR_LOOKBACK_DAYS: Final = "lookback_days"
ATTR_ENTITY_ID: Final = "entity_id"
ATTR_SUGGESTION_ID: Final = "suggestion_id"
ATTR_ENABLED: Final = "enabled"
ATTR_STATUS: Final = "status"

SERVICE_ANALYZE_PATTERNS: Final = "analyze_patterns"
SERVICE_GET_SUGGESTIONS: Final = "get_suggestions"
SERVICE_ACCEPT_SUGGESTION: Final = "accept_suggestion"
SERVICE_DISMISS_SUGGESTION: Final = "dismiss_suggestion"

# Environment variable naming an existing interpreter for the managed sidecar (tests, demo,
# developers): when set, no runtime environment is created under the config folder.
ENV_SIDECAR_PYTHON: Final = "HOMEIQ_SIDECAR_PYTHON"
