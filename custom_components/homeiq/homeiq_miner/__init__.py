"""HomeIQ pattern miner: plain Python + numpy, no Home Assistant, no OpenVINO."""

from __future__ import annotations

from .errors import InputError
from .miner import mine
from .model import Event, MinerConfig, MiningResult, Restarts

__all__ = ["Event", "InputError", "MinerConfig", "MiningResult", "Restarts", "mine"]
