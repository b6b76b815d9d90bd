"""Benchmark: the look at the user's automations (covered.py) against HA's own reload of them.

HomeIQ compares every suggestion with the user's automations on HA's event loop at each reload
of automations (saving one in the editor). A real Home Assistant core loads `--automations`
automations (state triggers, area targets, nested actions, a script each tenth) from
automations.yaml; HA's own `automation.reload` of them is the baseline, and HomeIQ's
`async_covering` over `--patterns` suggestions (half of them on an automation's trigger) is
measured in the same run. Medians of `--repeat` runs.

    scripts/bench covered [--automations N] [--patterns N] [--repeat N] [--json FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path
import statistics
import sys
import tempfile
import time
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "custom_components" / "homeiq")]

# Imported after sys.path: the bench runs from the ha-2025 venv without pytest.
from homeassistant.core import HomeAssistant  # noqa: E402
from homeassistant.helpers import area_registry as ar  # noqa: E402
from homeassistant.setup import async_setup_component  # noqa: E402
from homeassistant.util.yaml import dump  # noqa: E402
from pytest_homeassistant_custom_component.common import async_test_home_assistant  # noqa: E402

from custom_components.homeiq.covered import async_covering  # noqa: E402

AREAS = 20
STALL_TARGET_MS = 50.0  # one look may hold HA's event loop this long at most


def automations(count: int, area_ids: list[str]) -> list[dict[str, Any]]:
    """What a large home's automations.yaml holds: sensor triggers, area and entity targets,
    actions nested in choose, now and then a script."""
    written = []
    for i in range(count):
        actions: list[dict[str, Any]] = [
            {"action": "light.turn_on", "target": {"area_id": area_ids[i % AREAS]}},
            {
                "choose": [
                    {
                        "conditions": [{"condition": "state", "entity_id": "sun.sun", "state": "below_horizon"}],
                        "sequence": [{"action": "light.turn_off", "target": {"entity_id": f"light.l{i}"}}],
                    }
                ]
            },
        ]  # fmt: skip
        if i % 10 == 0:
            actions.append({"action": f"script.s{i % 50}"})
        written.append(
            {
                "id": f"a{i}",
                "alias": f"Automation {i}",
                "triggers": [{"trigger": "state", "entity_id": f"binary_sensor.s{i}", "to": "on"}],
                "actions": actions,
            }
        )
    return written


def patterns(count: int) -> list[dict[str, Any]]:
    """Pair suggestions: every other one on an automation's trigger, every fourth one what
    that automation does (covered)."""
    found = []
    for j in range(count):
        sensor = f"binary_sensor.s{j}" if j % 2 == 0 else f"binary_sensor.other{j}"
        light, action = (
            (f"light.l{j}", "light.turn_off") if j % 4 == 0 else (f"light.x{j}", "light.turn_on")
        )
        found.append(
            {
                "id": f"p{j}",
                "type": "pair",
                "steps": [{"entity_id": sensor}, {"entity_id": light}],
                "suggestion": {
                    "triggers": [{"trigger": "state", "entity_id": sensor, "to": "on"}],
                    "actions": [{"action": action, "target": {"entity_id": light}}],
                },
            }
        )
    return found


async def timed(work: Any, repeat: int) -> float:
    """Median seconds of `repeat` runs of the coroutine function (or plain function)."""
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        result = work()
        if asyncio.iscoroutine(result):
            await result
        runs.append(time.perf_counter() - start)
    return statistics.median(runs)


async def run(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    async with async_test_home_assistant(config_dir=str(work)) as hass:
        area_ids = [ar.async_get(hass).async_create(f"Area {i}").id for i in range(AREAS)]
        scripts = {
            f"s{i}": {"sequence": [{"action": "light.turn_on", "target": {"entity_id": f"light.y{i}"}}]}
            for i in range(50)
        }  # fmt: skip
        assert await async_setup_component(hass, "script", {"script": scripts})
        (work / "configuration.yaml").write_text("automation: !include automations.yaml\n")
        (work / "automations.yaml").write_text(dump(automations(args.automations, area_ids)))
        assert await async_setup_component(hass, "automation", {})

        async def reload(hass: HomeAssistant = hass) -> None:
            await hass.services.async_call("automation", "reload", blocking=True)
            await hass.async_block_till_done()

        await reload()  # from automations.yaml, as after saving in the editor
        loaded = len(hass.states.async_entity_ids("automation"))
        assert loaded == args.automations, loaded

        suggestions = patterns(args.patterns)
        reload_s = await timed(reload, args.repeat)
        covering_s = await timed(lambda: async_covering(hass, suggestions), args.repeat)
        covered = async_covering(hass, suggestions).by_pattern
        await hass.async_stop()
    return {
        "automations": args.automations,
        "patterns": args.patterns,
        "covered": len(covered),
        "ha_reload_ms": reload_s * 1000,
        "covering_ms": covering_s * 1000,
        "ratio": covering_s / reload_s,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--automations", type=int, default=500)
    parser.add_argument("--patterns", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="homeiq-bench-") as tmp:
        result = asyncio.run(run(args, Path(tmp)))
    print(f"{result['automations']} automations, {result['patterns']} suggestions"
          f" ({result['covered']} covered), medians of {args.repeat}")  # fmt: skip
    print(f"HA's automation.reload (baseline)  {result['ha_reload_ms']:8.1f} ms")
    print(f"HomeIQ's look (async_covering)      {result['covering_ms']:8.1f} ms"
          f"  ({result['ratio']:.2f}x the reload)")  # fmt: skip
    ok = result["covering_ms"] <= STALL_TARGET_MS
    print(f"target (one look <= {STALL_TARGET_MS:.0f} ms): {'met' if ok else 'NOT met'}")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
