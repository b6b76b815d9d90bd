"""The one exception type the miner raises for bad input."""

from __future__ import annotations


class InputError(Exception):
    """Input that cannot be read: missing file, wrong columns, bad times, corrupt or locked DB.

    The message is one English sentence; the CLI prints it and exits with code 2.
    """
