"""The managed sidecar's Python: platform check and the runtime venv under the config folder."""

from __future__ import annotations

import asyncio
from contextlib import suppress
import hashlib
import os
from pathlib import Path
import platform
import sys

from homeassistant.core import HomeAssistant

from .const import DOMAIN, ENV_SIDECAR_PYTHON, LOGGER

REQUIREMENTS = Path(__file__).parent / "homeiq_sidecar" / "requirements.txt"
STAMP_FILE = ".homeiq-stamp"
# Downloading OpenVINO (~100 MB) on a slow line takes a while; a hung pip must still end.
INSTALL_TIMEOUT = 1800.0
_OUTPUT_TAIL = 4000
_SUPPORTED_MACHINES = frozenset({"x86_64", "amd64", "aarch64", "arm64"})

# Reasons managed mode is refused; each is a translation key under config.error.
UNSUPPORTED_MUSL = "managed_unsupported_musl"
UNSUPPORTED_ARCH = "managed_unsupported_arch"
UNSUPPORTED_CPU = "managed_unsupported_cpu"


class RuntimeInstallError(Exception):
    """The runtime environment could not be created; the message ends with pip's output."""


def managed_unsupported_reason() -> str | None:
    """Why this host cannot run OpenVINO in a subprocess, or None if it can (blocking I/O).

    OpenVINO publishes glibc wheels for x86-64 (SSE4.2 at least) and ARM64 only: the HA OS and
    HA Container images are Alpine (musl), which is what the container mode is for.
    """
    if not sys.platform.startswith("linux"):
        return UNSUPPORTED_ARCH
    if platform.libc_ver()[0] != "glibc":
        return UNSUPPORTED_MUSL
    machine = platform.machine().lower()
    if machine not in _SUPPORTED_MACHINES:
        return UNSUPPORTED_ARCH
    if machine in {"x86_64", "amd64"}:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
        except OSError:
            return None  # cannot tell; let the sidecar try
        if " sse4_2" not in cpuinfo:
            return UNSUPPORTED_CPU
    return None


def runtime_dir(hass: HomeAssistant) -> Path:
    """Where the managed runtime venv lives."""
    return Path(hass.config.path(DOMAIN, "runtime"))


def models_dir(hass: HomeAssistant) -> Path:
    """The managed sidecar's data dir; converted models are cached under it."""
    return Path(hass.config.path(DOMAIN))


def requirements_stamp() -> str:
    """Hash of the pinned requirements and the interpreter: a change rebuilds the venv."""
    digest = hashlib.sha256(REQUIREMENTS.read_bytes())
    digest.update(f"{sys.version_info[:2]}".encode())
    return digest.hexdigest()


def _ready_python(root: Path, stamp: str) -> str | None:
    python = root / "bin" / "python"
    stamp_path = root / STAMP_FILE
    if python.exists() and stamp_path.exists() and stamp_path.read_text().strip() == stamp:
        return str(python)
    return None


async def _run(*args: str) -> None:
    process = await asyncio.create_subprocess_exec(
        *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    try:
        async with asyncio.timeout(INSTALL_TIMEOUT):
            output, _ = await process.communicate()
    except TimeoutError as err:
        process.kill()
        await process.wait()
        raise RuntimeInstallError(f"{args[0]} timed out after {INSTALL_TIMEOUT:.0f} s") from err
    except asyncio.CancelledError:
        # Unload or HA stop during an install: leave no pip running behind.
        with suppress(ProcessLookupError):
            process.kill()
        await process.wait()
        raise
    if process.returncode != 0:
        tail = output.decode(errors="replace")[-_OUTPUT_TAIL:]
        raise RuntimeInstallError(f"{' '.join(args[:4])} failed ({process.returncode}): {tail}")


async def async_runtime_python(hass: HomeAssistant) -> str | None:
    """The sidecar interpreter if it is ready to use, None if the venv must be (re)built.

    `HOMEIQ_SIDECAR_PYTHON` names an existing interpreter instead (tests, development).
    """
    if override := os.environ.get(ENV_SIDECAR_PYTHON):
        return override
    stamp = await hass.async_add_executor_job(requirements_stamp)
    return await hass.async_add_executor_job(_ready_python, runtime_dir(hass), stamp)


async def async_ensure_runtime(hass: HomeAssistant) -> str:
    """Return the sidecar interpreter, creating the runtime venv first if needed (slow)."""
    if python := await async_runtime_python(hass):
        return python
    root = runtime_dir(hass)
    stamp = await hass.async_add_executor_job(requirements_stamp)
    LOGGER.info("Creating the HomeIQ sidecar runtime in %s (one time, a few minutes)", root)
    await _run(sys.executable, "-m", "venv", "--clear", str(root))
    python = str(root / "bin" / "python")
    await _run(
        python, "-m", "pip", "install", "--disable-pip-version-check", "--no-input",
        "-r", str(REQUIREMENTS),
    )  # fmt: skip
    await hass.async_add_executor_job((root / STAMP_FILE).write_text, stamp)
    LOGGER.info("HomeIQ sidecar runtime ready")
    return python
