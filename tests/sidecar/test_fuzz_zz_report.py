"""The tally of the API fuzz cases (runs after test_fuzz_api.py, in file order)."""

from __future__ import annotations

from collections import Counter
import json
import os
from pathlib import Path

import pytest

from tests.sidecar.test_fuzz_support import TALLY


def expected_cases(request: pytest.FixtureRequest) -> Counter[str]:
    """The fewest cases each target must have tallied, from the fuzz properties that ran.

    Taken from the session's selected tests, not from the tally: a tally that stayed empty
    while the properties ran (say a second copy of the support module) must fail, not skip.
    Each property (`test_fuzz_*`, which never skips) sends at least its example count.
    """
    expected: Counter[str] = Counter()
    for item in request.session.items:
        if item is request.node:
            break  # only the tests that ran before this one
        if (
            isinstance(item, pytest.Function)
            and item.path.name == "test_fuzz_api.py"
            and item.originalname.startswith("test_fuzz_")
        ):
            target = item.callspec.params["target"]
            expected[target] += item.module.EXAMPLES[target]
    return expected


def test_zz_report_counts(request: pytest.FixtureRequest) -> None:
    """Print (and optionally write) how many fuzz cases ran; every fuzz property that ran sent
    its cases through the tally; no 5xx other than 503."""
    expected = expected_cases(request)
    report = TALLY.as_dict()
    if not expected and report["total"] == 0:
        pytest.skip("no fuzz test ran in this session")
    print("\nfuzz cases:", json.dumps(report, indent=2))
    if path := os.environ.get("HOMEIQ_FUZZ_REPORT"):
        Path(path).write_text(json.dumps(report, indent=2) + "\n")
    tallied: Counter[str] = Counter()
    for key, count in report["cases"].items():
        tallied[key.split(" ", 1)[0]] += count
    for target, fewest in expected.items():
        assert tallied[target] >= fewest, (
            f"{target}: {tallied[target]} cases tallied, but its fuzz properties that ran "
            f"send at least {fewest}"
        )
    assert report["server_errors_other_than_503"] == []
