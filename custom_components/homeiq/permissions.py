"""Who may change Home Assistant's configuration through HomeIQ."""

from __future__ import annotations

from homeassistant.core import Context, HomeAssistant
from homeassistant.exceptions import Unauthorized, UnknownUser


async def async_require_admin(hass: HomeAssistant, context: Context | None) -> None:
    """Raise unless the caller is an administrator, as HA's own admin actions do.

    Accepting a suggestion writes automations.yaml and reloads automations (admin-only in HA);
    the check runs before anything is written. Calls without a user (automations, scripts,
    HA itself) are trusted, like HA's ``async_register_admin_service``, which cannot be used
    here: on HA 2025.4 it takes no supports_response (accept answers with the automation id).
    """
    if context is None or context.user_id is None:
        return
    user = await hass.auth.async_get_user(context.user_id)
    if user is None:
        raise UnknownUser(context=context)
    if not user.is_admin:
        raise Unauthorized(context=context)
