"""HomeIQ sidecar: runs the miner and the OpenVINO models behind a small HTTP API.

Imports no Home Assistant code; started as its own process (`python -m homeiq_sidecar`).
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
