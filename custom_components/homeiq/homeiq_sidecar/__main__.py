"""`python -m homeiq_sidecar`: parse flags, serve until SIGTERM, exit 0."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
import logging
import os
import sys

from .settings import SettingsError, parse_settings


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the process exit code."""
    try:
        settings = parse_settings(argv)
    except SettingsError as err:
        print(f"homeiq_sidecar: {err}", file=sys.stderr)
        return 2
    # Logs go to stderr: stdout carries only the ready line the supervisor parses.
    logging.basicConfig(
        level=settings.log_level,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    from .server import serve  # after logging: importing the models pulls in OpenVINO

    loop = asyncio.new_event_loop()
    try:
        cut_short = loop.run_until_complete(serve(settings))
    except OSError as err:
        # Most often the port is taken or the address is not this machine's.
        print(
            f"homeiq_sidecar: cannot listen on {settings.host}:{settings.port}: {err.strerror}",
            file=sys.stderr,
        )
        loop.close()
        return 1
    if cut_short:
        # A thread (mining, a model load or conversion) cannot be interrupted in Python, and
        # shutdown_default_executor, interpreter exit too, would wait for it: minutes for a
        # conversion. os._exit skips that join on every Python (a timeout on
        # shutdown_default_executor needs 3.12 and exit would join anyway). Every resource is
        # already closed, and a conversion publishes only by renaming a finished temp dir.
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)
    loop.run_until_complete(loop.shutdown_default_executor())
    loop.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
