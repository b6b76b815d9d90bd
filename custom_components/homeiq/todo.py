"""HomeIQ to-do list: new suggestions; complete = accept, delete = dismiss."""

from __future__ import annotations

from typing import TYPE_CHECKING

from homeassistant.components.todo import TodoItem, TodoListEntity
from homeassistant.components.todo.const import TodoItemStatus, TodoListEntityFeature
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers.entity import EntityDescription
from homeassistant.helpers.entity_platform import AddEntitiesCallback

from .const import DOMAIN
from .entity import HomeIQEntity
from .permissions import async_require_admin

if TYPE_CHECKING:
    from . import HomeIQConfigEntry

PARALLEL_UPDATES = 1  # accepting writes automations.yaml: one at a time

SUGGESTIONS = EntityDescription(key="suggestions", translation_key="suggestions")


async def async_setup_entry(
    hass: HomeAssistant,
    entry: HomeIQConfigEntry,
    async_add_entities: AddEntitiesCallback,
) -> None:
    """The suggestions list."""
    async_add_entities([HomeIQSuggestionsTodo(entry.runtime_data.coordinator, SUGGESTIONS)])


class HomeIQSuggestionsTodo(HomeIQEntity, TodoListEntity):
    """New suggestions, shown by the built-in to-do card on any dashboard."""

    _attr_supported_features = (
        TodoListEntityFeature.UPDATE_TODO_ITEM | TodoListEntityFeature.DELETE_TODO_ITEM
    )

    @property
    def todo_items(self) -> list[TodoItem]:
        """One item per new suggestion, most confident first."""
        coordinator = self.coordinator
        return [
            TodoItem(
                uid=pattern["id"],
                summary=str(pattern["suggestion"].get("alias") or pattern["id"]),
                description=(
                    f"{pattern.get('description', '')} Confidence"
                    f" {float(pattern.get('confidence') or 0.0):.0%},"
                    f" {pattern.get('category') or 'convenience'}."
                ).strip(),
                status=TodoItemStatus.NEEDS_ACTION,
            )
            for pattern in coordinator.data.new_suggestions(coordinator.max_suggestions)
        ]

    async def async_update_todo_item(self, item: TodoItem) -> None:
        """Checking an item off accepts its suggestion (the automation starts enabled).

        Nothing else of an item can change (its text is the suggestion's): say so rather than
        let the edit vanish at the next refresh.
        """
        if item.status != TodoItemStatus.COMPLETED or item.uid is None:
            raise ServiceValidationError(
                translation_domain=DOMAIN, translation_key="todo_only_complete"
            )
        await async_require_admin(self.hass, self._context)
        await self.coordinator.async_accept(item.uid, enabled=True, context=self._context)

    async def async_delete_todo_items(self, uids: list[str]) -> None:
        """Deleting items dismisses their suggestions."""
        await async_require_admin(self.hass, self._context)
        for uid in uids:
            await self.coordinator.async_dismiss(uid)
