"""Records a few days of a home with planted habits into the test recorder (real SQLite)."""

from __future__ import annotations

from datetime import datetime, timedelta
import random
from typing import Any

from freezegun import freeze_time
from homeassistant.core import Context, HomeAssistant
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.components.recorder.common import (
    async_wait_recording_done,
)

HABIT_ENTITY = "light.kitchen"
HABIT_TIME = (7, 0)  # the kitchen light goes on around 07:00 every day
PAIR_TRIGGER = "binary_sensor.front_door"
PAIR_ACTION = "light.hallway"  # ~40 s after the front door opens, the hall light goes on
AUTOMATED_ENTITY = "switch.garden_pump"  # switched by an automation: not a habit
DAYS = 8


async def record_home(hass: HomeAssistant) -> None:
    """Write the last DAYS days of state changes, each at its own (frozen) time.

    Time is frozen only while recording: the sidecar and the supervisor need a running clock.
    """
    with freeze_time(dt_util.utcnow()) as freezer:
        await _record(hass, freezer)


async def _record(hass: HomeAssistant, freezer: Any) -> None:
    rng = random.Random(7)
    tz = dt_util.get_default_time_zone()
    first_day = (
        (dt_util.now() - timedelta(days=DAYS + 1))
        .astimezone(tz)
        .replace(hour=0, minute=0, second=0, microsecond=0)
    )
    for entity_id in (HABIT_ENTITY, PAIR_TRIGGER, PAIR_ACTION, AUTOMATED_ENTITY, "sensor.noise"):
        freezer.move_to(first_day - timedelta(hours=1))
        hass.states.async_set(entity_id, "off")
    timeline: list[tuple[datetime, str, str, Context | None]] = []
    for day in range(DAYS):
        base = first_day + timedelta(days=day)
        on = base.replace(hour=HABIT_TIME[0], minute=HABIT_TIME[1]) + timedelta(
            minutes=rng.uniform(-6, 6)
        )
        timeline += [
            (on, HABIT_ENTITY, "on", None),
            (on + timedelta(minutes=rng.uniform(20, 50)), HABIT_ENTITY, "off", None),
        ]
        for hour in (8, 13, 18):
            door = base.replace(hour=hour, minute=rng.randrange(60))
            timeline += [
                (door, PAIR_TRIGGER, "on", None),
                (door + timedelta(seconds=rng.uniform(30, 50)), PAIR_ACTION, "on", None),
                (door + timedelta(minutes=2), PAIR_TRIGGER, "off", None),
                (door + timedelta(minutes=rng.uniform(10, 20)), PAIR_ACTION, "off", None),
            ]
        pump = base.replace(hour=21, minute=30)
        parent = Context()
        timeline += [
            (pump, AUTOMATED_ENTITY, "on", Context(parent_id=parent.id)),
            (pump + timedelta(minutes=15), AUTOMATED_ENTITY, "off", Context(parent_id=parent.id)),
        ]
    for when, entity_id, state, context in sorted(timeline, key=lambda t: t[0]):
        freezer.move_to(when)
        hass.states.async_set(entity_id, state, context=context)
        await hass.async_block_till_done()
    await async_wait_recording_done(hass)
