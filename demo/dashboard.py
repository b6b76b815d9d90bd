"""The HomeIQ demo dashboard (also documented in docs/dashboard.md for users to paste)."""

from __future__ import annotations

from typing import Any

DASHBOARD_URL_PATH = "homeiq-demo"


def dashboard_config(
    *, entry_id: str, todo_entity: str, category_sensors: list[str], summary_sensors: list[str]
) -> dict[str, Any]:
    """The dashboard: suggestions card, to-do list, counts per category, last analysis."""
    return {
        "title": "HomeIQ",
        "views": [
            {
                "title": "Suggestions",
                "path": "suggestions",
                "cards": [
                    {
                        "type": "custom:homeiq-suggestions-card",
                        "title": "New automation suggestions",
                        "config_entry_id": entry_id,
                        "max": 5,
                    },
                    {"type": "todo-list", "entity": todo_entity, "title": "Suggestions to review"},
                    {"type": "entities", "title": "Analysis", "entities": summary_sensors},
                    {
                        "type": "entities",
                        "title": "Habits per category",
                        "entities": category_sensors,
                    },
                ],
            }
        ],
    }
