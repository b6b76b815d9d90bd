"""HomeIQ pattern miner: plain Python + numpy, no Home Assistant, no OpenVINO."""

from __future__ import annotations

from .errors import InputError
from .miner import mine
from .model import Event, Location, MinerConfig, MiningResult, Restarts

__all__ = ["Event", "InputError", "Location", "MinerConfig", "MiningResult", "Restarts", "mine"]
