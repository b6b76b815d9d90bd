"""Calibration inputs for static INT8: habit-like texts, tokenized the way the runtime feeds them.

No hub data: the texts are generated here, in both shapes the models see in production (the
miner's descriptions with entity ids, and plain English ones). Each item is one model call with
batch size 1 and its own length, so the activation ranges cover short and long inputs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

CALIBRATION_SIZE = 48

_ROOMS = ("kitchen", "hallway", "bedroom", "bathroom", "living_room", "office", "garage", "porch")
_DEVICES = (
    ("light", "turns on", "turns off"),
    ("switch", "turns on", "turns off"),
    ("cover", "opens", "closes"),
    ("lock", "unlocks", "locks"),
    ("climate", "switches to heat", "switches to off"),
    ("media_player", "starts playing", "pauses"),
)
_TRIGGERS = (
    ("binary_sensor", "{room}_motion", "turns on"),
    ("binary_sensor", "{room}_door", "opens"),
    ("sensor", "{room}_illuminance", "drops below 20 lx"),
    ("person", "anna", "arrives home"),
)
_WHEN = (
    "at about {h:02d}:{m:02d} on weekdays",
    "at about {h:02d}:{m:02d} at weekends",
    "at about {h:02d}:{m:02d} every day",
    "after sunset when nobody is home",
)


def habit_texts(count: int = CALIBRATION_SIZE) -> list[str]:
    """Deterministic habit descriptions, alternating the miner's format and plain English."""
    texts: list[str] = []
    for i in range(count):
        room = _ROOMS[i % len(_ROOMS)]
        domain, on, off = _DEVICES[(i // 2) % len(_DEVICES)]
        verb = on if i % 3 else off
        if i % 2 == 0:
            t_domain, t_name, t_verb = _TRIGGERS[(i // 4) % len(_TRIGGERS)]
            trigger = f"{t_domain}.{t_name.format(room=_ROOMS[(i + 3) % len(_ROOMS)])}"
            delay = ("about 1 s", "about 40 s", "about 2 min", "about 12 min")[(i // 6) % 4]
            texts.append(f"{domain}.{room}_{i % 4} {verb} {delay} after {trigger} {t_verb}.")
        else:
            when = _WHEN[(i // 2) % len(_WHEN)].format(h=(i * 5) % 24, m=(i * 17) % 60)
            texts.append(f"The {room.replace('_', ' ')} {domain.replace('_', ' ')} {verb} {when}.")
    return texts


Batch = dict[str, npt.NDArray[Any]]


def _int64(encoded: Mapping[str, Any]) -> Batch:
    return {name: np.asarray(value, dtype=np.int64) for name, value in encoded.items()}


def embed_items(tokenizer: Any, max_length: int) -> list[Batch]:
    return [
        _int64(tokenizer([text], truncation=True, max_length=max_length, return_tensors="np"))
        for text in habit_texts()
    ]


def rerank_items(tokenizer: Any, max_length: int) -> list[Batch]:
    """(query, candidate) pairs of two habits, as the enrichment reranks them."""
    texts = habit_texts()
    return [
        _int64(
            tokenizer(
                [query],
                [texts[(i * 7 + 3) % len(texts)]],
                truncation=True,
                max_length=max_length,
                return_tensors="np",
            )
        )
        for i, query in enumerate(texts)
    ]


def classify_prompts(
    categories: Sequence[str], priorities: Sequence[str], prompts: Sequence[str]
) -> list[str]:
    """Both questions for every calibration habit, formatted like the runtime's prompts."""
    category_prompt, priority_prompt = prompts
    out: list[str] = []
    for text in habit_texts(CALIBRATION_SIZE // 2):
        out.append(category_prompt.format(options=", ".join(categories), text=text))
        out.append(priority_prompt.format(options=", ".join(priorities), text=text))
    return out


def encoder_items(tokenizer: Any, prompts: Sequence[str], max_length: int) -> list[Batch]:
    return [
        _int64(tokenizer([prompt], truncation=True, max_length=max_length, return_tensors="np"))
        for prompt in prompts
    ]
