"""Repair issues HomeIQ raises and clears by itself."""

from __future__ import annotations

from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import issue_registry as ir

from .const import DOMAIN

ISSUE_SIDECAR_UNREACHABLE = "sidecar_unreachable"
ISSUE_RUNTIME_INSTALLING = "runtime_installing"
ISSUE_RUNTIME_INSTALL_FAILED = "runtime_install_failed"
ISSUE_MODELS_FAILED = "models_failed"
ISSUE_MODELS_MISSING = "models_missing"
ISSUE_SAVE_FAILED = "save_failed"
ISSUE_RESULTS_RECOVERED = "results_recovered"
ALL_ISSUES = (
    ISSUE_SIDECAR_UNREACHABLE,
    ISSUE_RUNTIME_INSTALLING,
    ISSUE_RUNTIME_INSTALL_FAILED,
    ISSUE_MODELS_FAILED,
    ISSUE_MODELS_MISSING,
    ISSUE_SAVE_FAILED,
    ISSUE_RESULTS_RECOVERED,
)
_SEVERITY = {
    ISSUE_SIDECAR_UNREACHABLE: ir.IssueSeverity.ERROR,
    ISSUE_RUNTIME_INSTALLING: ir.IssueSeverity.WARNING,
    ISSUE_RUNTIME_INSTALL_FAILED: ir.IssueSeverity.ERROR,
    ISSUE_MODELS_FAILED: ir.IssueSeverity.ERROR,
    ISSUE_MODELS_MISSING: ir.IssueSeverity.WARNING,
    ISSUE_SAVE_FAILED: ir.IssueSeverity.ERROR,
    ISSUE_RESULTS_RECOVERED: ir.IssueSeverity.WARNING,
}


@callback
def async_raise(hass: HomeAssistant, issue_id: str, **placeholders: str) -> None:
    """Show (or update) an issue; its text is under `issues` in strings.json."""
    ir.async_create_issue(
        hass,
        DOMAIN,
        issue_id,
        is_fixable=False,
        severity=_SEVERITY[issue_id],
        translation_key=issue_id,
        translation_placeholders=placeholders or None,
    )


@callback
def async_clear(hass: HomeAssistant, *issue_ids: str) -> None:
    """Remove issues that no longer apply."""
    for issue_id in issue_ids:
        ir.async_delete_issue(hass, DOMAIN, issue_id)
