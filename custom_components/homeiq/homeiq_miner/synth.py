"""Synthetic homes with planted habits, for quality scoring and benchmarks.

Each room carries: weekday-only, weekend-only, every-day and around-midnight time habits; a
door -> light pair; a lock pair with a real delay; a three-step evening sequence; an automation
the user already has (parent contexts) and a timed automation (automation context ids); chatty
motion sensors; random manual toggles; numeric sensor readings and `unavailable` blips.
Habit times are drawn per seed and room, so nothing is tuned to one layout.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
import random
from zoneinfo import ZoneInfo

from astral import Observer
from astral.sun import sunset

from .model import Event, Location

WEEKDAYS = (0, 1, 2, 3, 4)
WEEKEND = (5, 6)
EVERY_DAY = (0, 1, 2, 3, 4, 5, 6)


@dataclass(frozen=True, kw_only=True)
class Planted:
    """A habit the generator put in; `automated` ones are automations the user already has."""

    kind: str
    steps: tuple[tuple[str, str], ...]
    time_min: float | None = None
    weekdays: tuple[int, ...] | None = None
    automated: bool = False


@dataclass(kw_only=True)
class SyntheticHome:
    seed: int
    days: int
    rooms: int
    time_zone: str
    start: str
    planted: list[Planted] = field(default_factory=list)
    automation_context_ids: set[str] = field(default_factory=set)
    plans: list[_RoomPlan] = field(default_factory=list, repr=False)

    def events(self) -> Iterator[Event]:
        """Events in time order, generated day by day (bounded memory at any size)."""
        yield from _generate(self)


def make_home(
    seed: int, *, days: int = 42, rooms: int = 2, time_zone: str = "Europe/Amsterdam"
) -> SyntheticHome:
    home = SyntheticHome(seed=seed, days=days, rooms=rooms, time_zone=time_zone, start="2024-03-04")
    rng = random.Random(seed)
    for r in range(rooms):
        plan = _room_plan(rng, r)
        home.planted.extend(plan.planted())
        home.plans.append(plan)
    return home


@dataclass(kw_only=True)
class _RoomPlan:
    room: int
    t_bedroom: float  # minutes after midnight
    t_cover: float
    t_porch: float
    t_coffee: float
    t_heat: float
    t_irrigation: float

    def e(self, name: str) -> str:
        return f"{name}_{self.room}"

    def planted(self) -> list[Planted]:
        e = self.e
        return [
            Planted(
                kind="time_of_day",
                steps=((e("light.bedroom"), "on"),),
                time_min=self.t_bedroom,
                weekdays=WEEKDAYS,
            ),
            Planted(
                kind="time_of_day",
                steps=((e("cover.living"), "open"),),
                time_min=self.t_cover,
                weekdays=WEEKEND,
            ),
            Planted(
                kind="time_of_day",
                steps=((e("light.porch"), "off"),),
                time_min=self.t_porch,
                weekdays=EVERY_DAY,
            ),
            Planted(
                kind="time_of_day",
                steps=((e("switch.coffee"), "on"),),
                time_min=self.t_coffee,
                weekdays=WEEKDAYS,
            ),
            Planted(
                kind="time_of_day",
                steps=((e("climate.thermostat"), "heat"),),
                time_min=self.t_heat,
                weekdays=EVERY_DAY,
            ),
            Planted(
                kind="trigger_action",
                steps=((e("binary_sensor.front_door"), "on"), (e("light.hall"), "on")),
            ),
            Planted(
                kind="trigger_action",
                steps=((e("binary_sensor.garage_door"), "off"), (e("lock.back_door"), "locked")),
            ),
            Planted(
                kind="sequence",
                steps=(
                    (e("media_player.tv"), "off"),
                    (e("light.living"), "off"),
                    (e("light.stairs"), "on"),
                ),
            ),
            Planted(
                kind="trigger_action",
                steps=((e("binary_sensor.garage_motion"), "on"), (e("light.garage"), "on")),
                automated=True,
            ),
            Planted(
                kind="time_of_day",
                steps=((e("switch.irrigation"), "on"),),
                time_min=self.t_irrigation,
                weekdays=EVERY_DAY,
                automated=True,
            ),
        ]


def _room_plan(rng: random.Random, room: int) -> _RoomPlan:
    return _RoomPlan(
        room=room,
        t_bedroom=rng.uniform(6 * 60, 7 * 60 + 20),
        t_cover=rng.uniform(8 * 60 + 30, 10 * 60 + 30),
        t_porch=rng.uniform(23 * 60 + 45, 24 * 60 + 15) % 1440,
        t_coffee=rng.uniform(7 * 60 + 40, 8 * 60 + 30),
        t_heat=rng.uniform(16 * 60 + 30, 18 * 60),
        t_irrigation=float(rng.choice([5 * 60, 5 * 60 + 30, 6 * 60])),
    )


class _Day:
    """Collects one day's events of one home as (local seconds, entity, state, ctx, parent)."""

    def __init__(self) -> None:
        self.rows: list[tuple[float, str, str, str | None, str | None]] = []

    def add(
        self, sec: float, entity: str, state: str, ctx: str | None = None, parent: str | None = None
    ) -> None:
        self.rows.append((sec, entity, state, ctx, parent))


def _generate(home: SyntheticHome) -> Iterator[Event]:
    zone = ZoneInfo(home.time_zone)
    plans = home.plans
    rng = random.Random(home.seed * 7919 + 1)
    start = datetime.fromisoformat(home.start).replace(tzinfo=zone)
    counter = 0
    for d in range(home.days):
        midnight = (start + timedelta(days=d)).replace(tzinfo=zone)
        base = midnight.timestamp()
        weekday = midnight.weekday()
        day = _Day()
        for plan in plans:
            counter = _room_day(
                day,
                plan=plan,
                rng=rng,
                weekday=weekday,
                counter=counter,
                auto_ids=home.automation_context_ids,
            )
        day.rows.sort(key=lambda row: row[0])
        for sec, entity, state, ctx, parent in day.rows:
            yield Event(base + sec, entity, state, ctx, parent, None)


def _room_day(
    day: _Day,
    *,
    plan: _RoomPlan,
    rng: random.Random,
    weekday: int,
    counter: int,
    auto_ids: set[str],
) -> int:
    e = plan.e
    u = rng.uniform
    m = 60.0

    def habit(minutes: float, sd: float) -> float:
        return (minutes + rng.gauss(0, sd)) * m

    # Time habits (about 90% adherence); the "off"/"close" partner is spread widely.
    if weekday < 5 and rng.random() < 0.9:
        t = habit(plan.t_bedroom, 7)
        day.add(t, e("light.bedroom"), "on")
        day.add(t + u(30, 300) * m, e("light.bedroom"), "off")
    if weekday >= 5 and rng.random() < 0.9:
        t = habit(plan.t_cover, 8)
        day.add(t, e("cover.living"), "open")
        day.add(u(18, 23) * 3600, e("cover.living"), "closed")
    if rng.random() < 0.9:
        day.add(u(17, 21) * 3600, e("light.porch"), "on")
        # Times just after midnight belong to the evening before: keep them past 24:00.
        late = plan.t_porch + (1440 if plan.t_porch < 720 else 0)
        day.add(habit(late, 6), e("light.porch"), "off")
    if weekday < 5 and rng.random() < 0.9:
        t = habit(plan.t_coffee, 6)
        day.add(t, e("switch.coffee"), "on")
        day.add(t + u(30, 300) * m, e("switch.coffee"), "off")
    if rng.random() < 0.9:
        day.add(habit(plan.t_heat, 8), e("climate.thermostat"), "heat")
        day.add(u(21.5, 23.9) * 3600, e("climate.thermostat"), "off")

    # Door -> hall light, a few times a day.
    for _ in range(rng.randint(2, 5)):
        t = u(7, 23) * 3600
        day.add(t, e("binary_sensor.front_door"), "on")
        day.add(t + u(10, 60), e("binary_sensor.front_door"), "off")
        if rng.random() < 0.9:
            day.add(t + rng.lognormvariate(2, 0.5), e("light.hall"), "on")
            day.add(t + u(2, 30) * m, e("light.hall"), "off")

    # Garage door closes -> back door locked a minute or two later.
    for _ in range(rng.randint(1, 2)):
        t = u(8, 21) * 3600
        day.add(t - u(1, 15) * m, e("lock.back_door"), "unlocked")
        day.add(t, e("binary_sensor.garage_door"), "on")
        closed = t + u(30, 90)
        day.add(closed, e("binary_sensor.garage_door"), "off")
        if rng.random() < 0.9:
            day.add(closed + u(60, 180), e("lock.back_door"), "locked")

    # Evening sequence: TV off -> living light off -> stairs light on.
    day.add(u(17, 20) * 3600, e("media_player.tv"), "on")
    day.add(u(16, 20) * 3600, e("light.living"), "on")
    if rng.random() < 0.9:
        t = u(20.5, 24.5) * 3600
        day.add(t, e("media_player.tv"), "off")
        t2 = t + u(20, 90)
        day.add(t2, e("light.living"), "off")
        t3 = t2 + u(20, 90)
        day.add(t3, e("light.stairs"), "on")
        day.add(t3 + u(1, 5) * m, e("light.stairs"), "off")

    # An automation the user already has: garage motion -> garage light (parent context).
    for _ in range(rng.randint(3, 6)):
        t = u(6, 23) * 3600
        counter += 1
        trig = f"01TRIG{counter:020d}"
        day.add(t, e("binary_sensor.garage_motion"), "on", trig)
        day.add(t + u(30, 90), e("binary_sensor.garage_motion"), "off")
        day.add(t + u(0.3, 1.0), e("light.garage"), "on", f"01AUTO{counter:020d}", trig)
        day.add(t + u(120, 300), e("light.garage"), "off", f"01AOFF{counter:020d}", trig)
    # A timed automation (its context is an automation_triggered context).
    counter += 1
    run = f"01RUN{counter:021d}"
    auto_ids.add(run)
    t = plan.t_irrigation * m + u(0, 2)
    day.add(t, e("switch.irrigation"), "on", run)
    day.add(t + 900, e("switch.irrigation"), "off", run)

    # Chatty motion sensors all day.
    for name in ("binary_sensor.kitchen_motion", "binary_sensor.living_motion"):
        t = 6.5 * 3600 + rng.expovariate(1 / 480)
        while t < 23.5 * 3600:
            day.add(t, e(name), "on")
            day.add(t + u(20, 90), e(name), "off")
            t += 100 + rng.expovariate(1 / 380)

    # Random manual noise.
    for name, states in (
        ("light.desk", ("on", "off")),
        ("switch.fan", ("on", "off")),
        ("media_player.speaker", ("playing", "paused")),
        ("light.kitchen", ("on", "off")),
        ("device_tracker.phone", ("home", "not_home")),
    ):
        for _ in range(rng.randint(2, 6)):
            day.add(u(0, 24) * 3600, e(name), rng.choice(states))
    if rng.random() < 0.1:
        day.add(u(0, 24) * 3600, e("light.desk"), "unavailable")

    # Numeric readings, which the miner must ignore.
    for k in range(144):
        day.add(k * 600 + u(0, 5), e("sensor.temperature"), f"{20 + rng.gauss(0, 1):.1f}")
    return counter


def sunset_home(
    location: Location, *, time_zone: str, start: date, days: int = 60, seed: int = 31
) -> list[Event]:
    """A porch light on ~15 min (+-4) after each day's sunset, a coffee machine at 07:00 and
    the porch off at 23:30 (+-5 min): one habit by the sun, two by the clock."""
    rng = random.Random(seed)
    zone = ZoneInfo(time_zone)
    observer = Observer(location.latitude, location.longitude)
    events = []
    for day in range(days):
        today = start + timedelta(days=day)
        midnight = datetime.combine(today, datetime.min.time(), zone)
        dusk = sunset(observer, today, tzinfo=zone)
        on = dusk + timedelta(minutes=15 + rng.uniform(-4, 4))
        events.append(Event(on.timestamp(), "light.porch", "on"))
        off = midnight + timedelta(hours=23.5, seconds=rng.uniform(-300, 300))
        events.append(Event(off.timestamp(), "light.porch", "off"))
        coffee = midnight + timedelta(hours=7, seconds=rng.uniform(-180, 180))
        events.append(Event(coffee.timestamp(), "switch.coffee", "on"))
        events.append(Event(coffee.timestamp() + 1800, "switch.coffee", "off"))
    return sorted(events)
