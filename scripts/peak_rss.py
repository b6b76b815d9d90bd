"""Resident memory of this process or a child, as benchmarks report it."""

from __future__ import annotations

import resource


def peak_rss_mb(pid: int | None = None) -> float:
    """Peak RSS of this process (or a running child ``pid``) since it started (exec), in MiB.

    Linux's VmHWM, not ``ru_maxrss``: Linux carries a process's ``ru_maxrss`` over fork and exec,
    so a benchmark child started by a parent holding 2 GB reported 2 GB whatever it used
    (measured: a bench-models run right after converting the models gave 2810 MB, the same
    child 935 MB the run after). VmHWM belongs to the address space exec created.
    """
    try:
        return _status_mb("VmHWM", pid)
    except OSError:
        if pid is not None:
            raise  # another process's figure has no stand-in
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # no /proc: best effort


def rss_mb(pid: int | None = None) -> float:
    """RSS now (VmRSS) of this process or a running child ``pid``, in MiB."""
    return _status_mb("VmRSS", pid)


def _status_mb(key: str, pid: int | None) -> float:
    with open(f"/proc/{pid or 'self'}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(f"{key}:"):
                return int(line.split()[1]) / 1024  # kB
    raise OSError(f"/proc/{pid or 'self'}/status has no {key}")
