"""What the models read of a pattern: steady while the habit is, different when it is not."""

from __future__ import annotations

from homeiq_sidecar.pattern_text import pattern_text


def said(description: str) -> str:
    return pattern_text({"id": "p", "description": description})


def test_counts_go_wherever_they_sit() -> None:
    assert said("light.kitchen turns on around 06:45 on weekdays (seen on 20 days).") == (
        "light.kitchen turns on around 06:45 on weekdays."
    )
    # Before a "together" clause too; a friendly name's own brackets stay.
    assert (
        said(
            "Desk lamp (left) turns on right after Desk turns on (13 times on 8 days); at the same"
            " moment Shelf (1) turns on."
        )
        == "Desk lamp (left) turns on right after Desk turns on; at the same moment Shelf (1) turns on."
    )
    assert said("no counts here") == "no counts here"
    assert pattern_text({"id": "only-id"}) == "only-id"


def test_a_drifting_habit_reads_the_same_from_day_to_day() -> None:
    # Yesterday's and today's window of the same habits.
    for yesterday, today in [
        ("Porch turns on around 07:13 every day (seen on 30 days).",
         "Porch turns on around 07:14 every day (seen on 29 days)."),
        ("Fan turns on about 47 s after Motion turns on (27 times on 23 days).",
         "Fan turns on about 48 s after Motion turns on (28 times on 24 days)."),
        ("Garage turns off about 3 min after Motion turns off (135 times on 30 days).",
         "Garage turns off about 2 min after Motion turns off (133 times on 30 days)."),
        ("Porch turns on about 12 min after sunset every day (seen on 20 days).",
         "Porch turns on about 9 min after sunset every day (seen on 21 days)."),
    ]:  # fmt: skip
        assert said(yesterday) == said(today), (yesterday, today)
    assert (
        said("Porch turns on around 07:14 every day.") == "Porch turns on around 07:15 every day."
    )
    assert (
        said("Hall turns off around 23:53 every day.") == "Hall turns off around 00:00 every day."
    )
    assert (
        said("A turns on about 47 s after B turns on.") == "A turns on about 45 s after B turns on."
    )
    assert (
        said("A turns on about 4 min after B turns on.")
        == "A turns on about 5 min after B turns on."
    )
    # Never written by the miner (under a second is "all within a second"): no log of 0.
    assert said("A, then B, then C, about 0 s from first to last.") == (
        "A, then B, then C, about 1 s from first to last."
    )


def test_different_habits_stay_different() -> None:
    morning = said("Porch turns on around 07:00 every day.")
    assert morning != said("Porch turns on around 07:30 every day.")
    assert morning != said("Porch turns on around 19:00 every day.")
    assert said("A turns on about 10 s after B turns on.") != said(
        "A turns on about 2 min after B turns on."
    )
    assert said("A turns on about 5 min after sunset.") != said(
        "A turns on about 1 min after sunset."
    )
    # Exact phrasing elsewhere is left alone: a name that happens to hold a time or a number.
    assert said("Timer 07:13 turns on right after Button 3 turns on.") == (
        "Timer 07:13 turns on right after Button 3 turns on."
    )
