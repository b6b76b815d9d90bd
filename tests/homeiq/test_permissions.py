"""Only administrators change HA's configuration through HomeIQ, as with HA's own editors.

A household member (a non-admin user, who may control every entity) can see suggestions but
not accept or dismiss them: accepting writes automations.yaml and reloads automations.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from homeassistant.auth.const import GROUP_ID_ADMIN, GROUP_ID_USER
from homeassistant.auth.models import User
from homeassistant.const import ATTR_ENTITY_ID, EVENT_CALL_SERVICE
from homeassistant.core import Context, Event, HomeAssistant
from homeassistant.exceptions import ServiceValidationError, Unauthorized
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.homeiq.const import DOMAIN

pytestmark = pytest.mark.usefixtures("recorder_mock")

TODO = "todo.homeiq_suggestions"
HABIT = "tod-light-kitchen-on-0700"
PAIR = "ta-door-hallway"


@pytest.fixture
async def admin(hass: HomeAssistant) -> User:
    """The owner (HA makes the first user the owner, an admin whatever its groups)."""
    return await hass.auth.async_create_user("admin", group_ids=[GROUP_ID_ADMIN])


@pytest.fixture
async def member(hass: HomeAssistant, admin: User) -> User:
    """A non-admin user in HA's default user group (may control all entities)."""
    user = await hass.auth.async_create_user("member", group_ids=[GROUP_ID_USER])
    assert not user.is_admin
    return user


def _decisions(entry: MockConfigEntry) -> dict[str, Any]:
    return dict(entry.runtime_data.coordinator.data.decisions)


@pytest.mark.parametrize(
    ("domain", "service", "data"),
    [
        (DOMAIN, "accept_suggestion", {"suggestion_id": PAIR}),
        (DOMAIN, "dismiss_suggestion", {"suggestion_id": PAIR}),
        ("todo", "update_item", {ATTR_ENTITY_ID: TODO, "item": PAIR, "status": "completed"}),
        ("todo", "remove_item", {ATTR_ENTITY_ID: TODO, "item": [PAIR]}),
    ],
)
async def test_member_cannot_accept_or_dismiss(
    hass: HomeAssistant,
    loaded_with_results: MockConfigEntry,
    config_dir: Path,
    member: User,
    domain: str,
    service: str,
    data: dict[str, Any],
) -> None:
    """Refused before anything is written: no automation, no decision."""
    assert await async_setup_component(hass, "automation", {})
    if domain == DOMAIN:
        data = {"config_entry_id": loaded_with_results.entry_id, **data}
    before = _decisions(loaded_with_results)
    written = (config_dir / "automations.yaml").read_text()
    with pytest.raises(Unauthorized):
        await hass.services.async_call(
            domain, service, data, blocking=True, context=Context(user_id=member.id)
        )
    assert _decisions(loaded_with_results) == before
    assert (config_dir / "automations.yaml").read_text() == written
    # What a member may do: read the suggestions.
    result = await hass.services.async_call(
        DOMAIN,
        "get_suggestions",
        {"config_entry_id": loaded_with_results.entry_id},
        blocking=True,
        return_response=True,
        context=Context(user_id=member.id),
    )
    assert PAIR in [s["id"] for s in result["suggestions"]]  # type: ignore[index, union-attr]


async def test_admin_accepts_and_the_reload_is_theirs(
    hass: HomeAssistant, loaded_with_results: MockConfigEntry, config_dir: Path, admin: User
) -> None:
    """An admin's accept goes through; the automation reload carries the admin's context."""
    assert await async_setup_component(hass, "automation", {})
    calls: list[Event] = []
    hass.bus.async_listen(EVENT_CALL_SERVICE, calls.append)
    context = Context(user_id=admin.id)
    await hass.services.async_call(
        "todo",
        "update_item",
        {ATTR_ENTITY_ID: TODO, "item": PAIR, "status": "completed"},
        blocking=True,
        context=context,
    )
    await hass.async_block_till_done()
    assert _decisions(loaded_with_results)[PAIR].status == "accepted"
    reloads = [
        e for e in calls if (e.data["domain"], e.data["service"]) == ("automation", "reload")
    ]
    assert reloads
    assert {e.context.user_id for e in reloads} == {admin.id}


async def test_todo_edit_other_than_completing_is_refused(
    hass: HomeAssistant, loaded_with_results: MockConfigEntry
) -> None:
    """Renaming an item would vanish at the next refresh: refused with a translated error."""
    before = _decisions(loaded_with_results)
    with pytest.raises(ServiceValidationError) as err:
        await hass.services.async_call(
            "todo",
            "update_item",
            {ATTR_ENTITY_ID: TODO, "item": HABIT, "rename": "My kitchen light"},
            blocking=True,
        )
    assert err.value.translation_domain == DOMAIN
    assert err.value.translation_key == "todo_only_complete"
    assert _decisions(loaded_with_results) == before
