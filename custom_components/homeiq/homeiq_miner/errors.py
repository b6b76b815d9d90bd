"""The one exception type the miner raises for bad input."""

from __future__ import annotations


class InputError(Exception):
    """Input that cannot be read: missing file, wrong columns, bad times, corrupt or locked DB.

    The message is one English sentence; the CLI prints it and exits with code 2.
    """


# Unix seconds the miner accepts: 1970 up to 2100. Beyond is a unit mistake (milliseconds) or
# garbage, and would make the time-zone grid span millennia.
MIN_TS = 0.0
MAX_TS = 4_102_444_800.0  # 2100-01-01T00:00:00Z


def time_range_error(ts: float, where: str) -> InputError:
    """The error for a time outside MIN_TS..MAX_TS, naming the likely unit mistake."""
    hint = " (milliseconds? unix seconds expected)" if MAX_TS * 1000 > ts > 1e11 else ""
    return InputError(f"{where}: time {ts!r} is outside 1970-2100{hint}.")
