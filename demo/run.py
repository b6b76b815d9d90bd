"""Run the HomeIQ demo: a real Home Assistant on a recorded home, with HomeIQ and a dashboard.

    python -m demo.run --config .demo [--port 8123] [--check]

First start: writes the config folder, starts `hass`, finishes onboarding (user `demo`, its
password printed), writes a long-lived token to `<config>/token`, replays the recorded home into
the recorder (shifted to end a minute before HA started), sets up HomeIQ (managed sidecar),
creates the dashboard and runs one analysis. Later starts reuse all of it and run a fresh analysis.

Replayed history ages: when it ends more than a day ago (`<config>/.demo-replayed` records
when), the next start deletes the recorder database before HA starts, and replays the home
again, shifted to end now (HA creates a new database; HomeIQ's results and decisions, the
accepted automations, users and dashboards live in other files and stay).

Offline: HA and its sidecar run with HF_HUB_OFFLINE=1 and HOMEIQ_SIDECAR_NO_CONVERT=1, so the
sidecar serves only the model cache (see scripts/demo-models) and never tries the model hub.

Ctrl-C, at any time (also during the first start's set-up, which it cancels), stops Home
Assistant, which stops the sidecar; if HA has not stopped within a minute, its whole process
group (HA runs in its own) is killed, so no sidecar is left behind.
`--check` exits after the first analysis.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
from pathlib import Path
import secrets
import signal
import subprocess
import sys
import time
from typing import Any

import aiohttp

from .dashboard import DASHBOARD_URL_PATH, dashboard_config
from .ha_client import HAError, WebSocket, onboard, rest
from .home import GENERATED, configuration_yaml, entities_of, known_devices_yaml, replay

REPO = Path(__file__).resolve().parent.parent
DEFAULT_LOG = REPO.parent / "shared" / "data" / "thesillyhome_ha.events.csv"
USERNAME = "demo"
TIME_ZONE = "Europe/London"
READY_TIMEOUT_S = 300
SIDECAR_TIMEOUT_S = 300
STOP_TIMEOUT_S = 60
RECORDER_DB = "home-assistant_v2.db"
REPLAY_MARKER = ".demo-replayed"
# Replayed history older than this is replayed again (see reset_stale_history).
REPLAY_MAX_AGE_S = 24 * 3600


# What demo/run.py wrote before generated files carried the GENERATED line.
LEGACY_GENERATED = "homeassistant:\n  name: HomeIQ demo home\n"


def write_generated(path: Path, text: str) -> None:
    """Write a generated file unless it is there already, or has become the user's own.

    A file whose first line is GENERATED is the demo's and follows the demo (new entities, a
    new --port); deleting that line keeps your edits.
    """
    if path.exists():
        old = path.read_text(encoding="utf-8")
        if old == text or not old.startswith((GENERATED, LEGACY_GENERATED)):
            return
    path.write_text(text, encoding="utf-8")


def prepare_config(config: Path, log: Path, port: int) -> None:
    """Write the config folder once (kept on later starts)."""
    config.mkdir(parents=True, exist_ok=True)
    components = config / "custom_components"
    components.mkdir(exist_ok=True)
    link = components / "homeiq"
    if not link.exists():
        link.symlink_to(REPO / "custom_components" / "homeiq")
    entities = entities_of(log)
    text = configuration_yaml(entities, time_zone=TIME_ZONE)
    text += f"\nhttp:\n  server_host: 127.0.0.1\n  server_port: {port}\n"
    write_generated(config / "configuration.yaml", text)
    write_generated(config / "known_devices.yaml", known_devices_yaml(entities))
    onboarding = config / ".storage" / "onboarding"
    if not onboarding.exists():
        # Location and units come from configuration.yaml and analytics stay off: mark those
        # steps done, so onboarding does not add its default integrations (weather, radio, TTS).
        onboarding.parent.mkdir(exist_ok=True)
        onboarding.write_text(
            json.dumps(
                {
                    "version": 4,
                    "minor_version": 1,
                    "key": "onboarding",
                    "data": {"done": ["core_config", "analytics"]},
                }
            )
        )
    for name, empty in (
        ("automations.yaml", "[]\n"),
        ("scripts.yaml", "{}\n"),
        ("scenes.yaml", "[]\n"),
    ):
        if not (config / name).exists():
            (config / name).write_text(empty, encoding="utf-8")


def reset_stale_history(config: Path) -> None:
    """Before HA starts: if the replayed history has aged, drop the recorder database.

    The history was shifted to end at the first start. Days later it has slid back in time,
    and after ~16 days it would be out of HomeIQ's 30-day look-back. Starting from a fresh
    database (HA creates it) and replaying again is simpler and sturdier than picking the
    replayed rows out of a live schema; the demo loses only its own recent history, while
    HomeIQ's results, decisions and accepted automations live elsewhere and are kept.
    """
    marker = config / REPLAY_MARKER
    if not marker.exists():
        return
    try:
        end = float(json.loads(marker.read_text())["end"])
    except (ValueError, KeyError, TypeError):
        end = marker.stat().st_mtime  # a marker from before "end" was recorded
    age = time.time() - end
    if age <= REPLAY_MAX_AGE_S:
        return
    print(
        f"[demo] the replayed history ends {age / 86400:.1f} days ago: starting a fresh "
        "recorder database and replaying the home again, shifted to end now",
        flush=True,
    )
    for suffix in ("", "-wal", "-shm"):
        (config / f"{RECORDER_DB}{suffix}").unlink(missing_ok=True)
    marker.unlink()


async def start_hass(config: Path) -> asyncio.subprocess.Process:
    """Start `hass` from this venv in its own process group; output goes to <config>/hass.out.

    Its own group (and session): the terminal's Ctrl-C reaches only demo.run, which stops HA
    in order, and the group lets a last-resort kill take the managed sidecar along with HA.
    """
    env = dict(os.environ)
    # The managed sidecar runs from the torch-free runtime venv that scripts/setup built.
    env.setdefault("HOMEIQ_SIDECAR_PYTHON", str(REPO / ".venv" / "runtime" / "bin" / "python"))
    # Offline: the sidecar serves only what scripts/demo-models (or download-models) put in
    # its cache; it never asks the model hub or converts, and names the fallback instead.
    env["HF_HUB_OFFLINE"] = "1"
    env["HOMEIQ_SIDECAR_NO_CONVERT"] = "1"
    with (config / "hass.out").open("ab") as out:
        return await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "homeassistant",
            "--config",
            str(config),
            "--skip-pip",
            stdout=out,
            stderr=asyncio.subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )


async def wait_ready(
    session: aiohttp.ClientSession, base: str, proc: asyncio.subprocess.Process
) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.returncode is not None:
            raise HAError(f"hass exited with code {proc.returncode}; see hass.out")
        try:
            # HA's HTTP server listens once start-up is done. The frontend's manifest needs no
            # token: probing /api/ unauthenticated logged a failed login (http.ban) every start.
            async with session.get(
                f"{base}/manifest.json", timeout=aiohttp.ClientTimeout(total=5)
            ) as resp:
                if resp.status == 200:
                    return
        except (aiohttp.ClientError, TimeoutError):
            pass
        await asyncio.sleep(1)
    raise HAError("Home Assistant did not answer within the timeout; see hass.out")


async def ensure_login(session: aiohttp.ClientSession, base: str, config: Path) -> tuple[str, str]:
    """Onboard on first start; return (long-lived token, password)."""
    token_file, password_file = config / "token", config / ".demo-password"
    if token_file.exists():
        return token_file.read_text().strip(), password_file.read_text().strip()
    password = secrets.token_urlsafe(9)
    access = await onboard(session, base, username=USERNAME, password=password)
    async with WebSocket(session, base, access) as ws:
        token = await ws.call(
            {"type": "auth/long_lived_access_token", "client_name": "homeiq-demo", "lifespan": 3650}
        )
    password_file.write_text(password)
    token_file.write_text(token)
    return token, password


async def wait_for_entities(
    session: aiohttp.ClientSession, base: str, token: str, wanted: set[str]
) -> None:
    for _ in range(120):
        states = await rest(session, base, token, "GET", "/api/states")
        if wanted <= {s["entity_id"] for s in states}:
            return
        await asyncio.sleep(1)
    raise HAError("the demo entities did not appear")


async def ensure_homeiq(session: aiohttp.ClientSession, base: str, token: str) -> str:
    """Add HomeIQ through its config flow (managed sidecar) unless it is there; its entry id."""
    entries = await rest(
        session, base, token, "GET", "/api/config/config_entries/entry?domain=homeiq"
    )
    if entries:
        return str(entries[0]["entry_id"])
    flow = await rest(
        session, base, token, "POST", "/api/config/config_entries/flow", body={"handler": "homeiq"}
    )
    for _ in range(5):
        if flow["type"] != "form":
            break
        answer = {"mode": "managed"} if flow["step_id"] == "user" else {}
        flow = await rest(
            session,
            base,
            token,
            "POST",
            f"/api/config/config_entries/flow/{flow['flow_id']}",
            body=answer,
        )
    if flow["type"] != "create_entry":
        raise HAError(f"HomeIQ config flow ended with {flow}")
    entry_id = str(flow["result"]["entry_id"])
    await set_demo_options(session, base, token, entry_id)
    return entry_id


# The demo home's one habit above HomeIQ's default bar (0.6), the hallway light following the
# occupancy sensor, is the owner's own automation, which HomeIQ recognises and does not suggest.
# Its manual habits (a 3-gang switch swept together) sit at 0.50-0.58: the demo shows them.
DEMO_MIN_CONFIDENCE = 0.5


async def set_demo_options(
    session: aiohttp.ClientSession, base: str, token: str, entry_id: str
) -> None:
    """Through the options flow, as a user would: the form's defaults plus the demo's bar."""
    flow = await rest(
        session,
        base,
        token,
        "POST",
        "/api/config/config_entries/options/flow",
        body={"handler": entry_id},
    )
    answer = {
        field["name"]: field["default"] for field in flow["data_schema"] if "default" in field
    }
    answer["min_confidence"] = DEMO_MIN_CONFIDENCE
    done = await rest(
        session,
        base,
        token,
        "POST",
        f"/api/config/config_entries/options/flow/{flow['flow_id']}",
        body=answer,
    )
    if done["type"] != "create_entry":
        raise HAError(f"HomeIQ options flow ended with {done}")


async def ensure_dashboard(
    session: aiohttp.ClientSession, base: str, token: str, entry_id: str
) -> None:
    async with WebSocket(session, base, token) as ws:
        registry = await ws.call({"type": "config/entity_registry/list"})
        ours = [e for e in registry if e["platform"] == "homeiq"]
        todo = next(e["entity_id"] for e in ours if e["entity_id"].startswith("todo."))
        categories = sorted(
            e["entity_id"] for e in ours if (e["translation_key"] or "").endswith("_patterns")
        )
        summary = sorted(
            e["entity_id"]
            for e in ours
            if e["entity_id"] not in categories and not e["entity_id"].startswith("todo.")
        )
        dashboards = await ws.call({"type": "lovelace/dashboards/list"})
        if not any(d["url_path"] == DASHBOARD_URL_PATH for d in dashboards):
            await ws.call(
                {
                    "type": "lovelace/dashboards/create",
                    "url_path": DASHBOARD_URL_PATH,
                    "title": "HomeIQ",
                    "icon": "mdi:home-lightbulb-outline",
                    "show_in_sidebar": True,
                    "require_admin": False,
                    "mode": "storage",
                }
            )
        await ws.call(
            {
                "type": "lovelace/config/save",
                "url_path": DASHBOARD_URL_PATH,
                "config": dashboard_config(
                    entry_id=entry_id,
                    todo_entity=todo,
                    category_sensors=categories,
                    summary_sensors=summary,
                ),
            }
        )


async def enable_category_sensors(session: aiohttp.ClientSession, base: str, token: str) -> None:
    """The per-category counts are off by default (diagnostic); the demo dashboard shows them."""
    async with WebSocket(session, base, token) as ws:
        registry = await ws.call({"type": "config/entity_registry/list"})
        disabled = [
            e["entity_id"]
            for e in registry
            if e["platform"] == "homeiq"
            and (e["translation_key"] or "").endswith("_patterns")
            and e["disabled_by"] is not None
        ]
        for entity_id in disabled:
            await ws.call(
                {
                    "type": "config/entity_registry/update",
                    "entity_id": entity_id,
                    "disabled_by": None,
                }
            )
    if disabled:
        # HA reloads the entry by itself 30 s after entities are enabled, even after a reload
        # of ours: wait for that one (the sensors appear), so that it does not come after the
        # demo says it is ready, in the middle of the first analysis or of someone's click.
        await wait_for_entities(session, base, token, set(disabled))


async def wait_for_sidecar(session: aiohttp.ClientSession, base: str, token: str) -> None:
    """Wait until HomeIQ's sidecar connectivity sensor is on (the managed sidecar is up)."""
    for _ in range(SIDECAR_TIMEOUT_S):
        states = await rest(session, base, token, "GET", "/api/states")
        sensors = [
            s
            for s in states
            if s["entity_id"].startswith("binary_sensor.homeiq")
            and s["attributes"].get("device_class") == "connectivity"
        ]
        if sensors and all(s["state"] == "on" for s in sensors):
            return
        await asyncio.sleep(1)
    raise HAError("the HomeIQ sidecar did not connect; see hass.out and the repair issues")


async def analyze(
    session: aiohttp.ClientSession, base: str, token: str, entry_id: str
) -> dict[str, Any]:
    started = time.monotonic()
    result = await rest(
        session,
        base,
        token,
        "POST",
        "/api/services/homeiq/analyze_patterns?return_response",
        body={"config_entry_id": entry_id},
    )
    response: dict[str, Any] = (
        result.get("service_response", result) if isinstance(result, dict) else {}
    )
    response["_wall_s"] = round(time.monotonic() - started, 2)
    return response


def print_summary(base: str, password: str, config: Path, response: dict[str, Any]) -> None:
    summary = response.get("summary", {})
    patterns = response.get("patterns", [])
    suggestions = [p for p in patterns if p.get("suggestion")]
    print("\nHomeIQ demo is running.")
    print(f"  Home Assistant: {base}  (user: {USERNAME}  password: {password})")
    print(f"  Dashboard:      {base}/{DASHBOARD_URL_PATH}/suggestions")
    print(f"  Token:          {config / 'token'}")
    print(
        f"  Analysis:       {summary.get('events', '?')} state changes -> {len(patterns)} habits, "
        f"{len(suggestions)} suggestions in {response.get('_wall_s')} s"
    )
    for role, what in (summary.get("models") or {}).items():
        print(f"  Model {role:<9} {what}")
    print("Ctrl-C stops Home Assistant and the sidecar.", flush=True)


async def set_up(
    args: argparse.Namespace,
    config: Path,
    base: str,
    proc: asyncio.subprocess.Process,
    launched: float,
) -> None:
    """Everything between `hass` starting (at `launched`) and the demo being ready; Ctrl-C
    cancels it."""
    async with aiohttp.ClientSession() as session:
        await wait_ready(session, base, proc)
        token, password = await ensure_login(session, base, config)
        marker = config / REPLAY_MARKER
        entities = entities_of(args.log)
        await wait_for_entities(session, base, token, {e.entity_id for e in entities})
        if not marker.exists():
            # One synchronous transaction: a Ctrl-C waits for it, so rows and marker agree.
            # The history ends before anything HA itself recorded: the same rows, in the same
            # order, on every first start.
            end = launched - 60
            rows = replay(args.log, config / RECORDER_DB, entities, end=end)
            marker.write_text(json.dumps({"rows": rows, "log": str(args.log), "end": end}))
        entry_id = await ensure_homeiq(session, base, token)
        await enable_category_sensors(session, base, token)
        await wait_for_sidecar(session, base, token)
        response = await analyze(session, base, token, entry_id)
        await ensure_dashboard(session, base, token, entry_id)
        (config / "last-analysis.json").write_text(json.dumps(response, indent=1))
        print_summary(base, password, config, response)
        if args.ready_file:
            args.ready_file.write_text(
                json.dumps(
                    {"base": base, "username": USERNAME, "password": password, "token": token}
                )
            )


async def stop_hass(proc: asyncio.subprocess.Process) -> None:
    """SIGTERM: HA stops its integrations, and HomeIQ its sidecar. Else kill the whole group."""
    if proc.returncode is None:
        proc.terminate()
        try:
            await asyncio.wait_for(proc.wait(), STOP_TIMEOUT_S)
            return
        except TimeoutError:
            print(
                f"[demo] Home Assistant did not stop within {STOP_TIMEOUT_S} s: killing it "
                "and the sidecar",
                file=sys.stderr,
                flush=True,
            )
    # HA is gone or hangs: nothing it started (the sidecar, a pip install) may outlive it.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    await proc.wait()


async def main_async(args: argparse.Namespace) -> int:
    config: Path = args.config.resolve()
    reset_stale_history(config)
    prepare_config(config, args.log, args.port)
    base = f"http://127.0.0.1:{args.port}"
    launched = time.time()
    proc = await start_hass(config)
    try:
        setup = asyncio.create_task(set_up(args, config, base, proc, launched))
        stop = asyncio.Event()

        def interrupt() -> None:
            stop.set()
            setup.cancel()  # no-op once set-up is done

        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, interrupt)
        try:
            await setup
        except asyncio.CancelledError:
            if not stop.is_set():
                raise
            print("\n[demo] interrupted during set-up: stopping Home Assistant", flush=True)
            return 130
        if not args.check:
            await stop.wait()
            print("\n[demo] stopping Home Assistant and the sidecar", flush=True)
    finally:
        await stop_hass(proc)
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--config", type=Path, default=REPO / ".demo")
    parser.add_argument("--port", type=int, default=8123)
    parser.add_argument(
        "--log",
        type=Path,
        default=DEFAULT_LOG,
        help="recorded home (timestamp_iso,entity_id,state)",
    )
    parser.add_argument("--check", action="store_true", help="exit after the first analysis")
    parser.add_argument(
        "--ready-file", type=Path, help="write login details here once ready (tests)"
    )
    args = parser.parse_args()
    # The managed sidecar's data dir is <config>/homeiq; its model cache is models/ below it.
    subprocess.run(
        [str(REPO / "scripts" / "demo-models"), str(args.config.resolve() / "homeiq" / "models")],
        check=True,
    )
    try:
        sys.exit(asyncio.run(main_async(args)))
    except HAError as err:
        print(f"demo failed: {err}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:  # before Home Assistant started (or before the handler was in)
        sys.exit(130)


if __name__ == "__main__":
    main()
