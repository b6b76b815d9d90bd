"""Peak resident memory of this process or a child, as benchmarks report it."""

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
        with open(f"/proc/{pid or 'self'}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024  # kB
    except OSError:
        if pid is not None:
            raise  # another process's figure has no stand-in
    if pid is not None:
        raise OSError(f"/proc/{pid}/status has no VmHWM")
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # no /proc: best effort
