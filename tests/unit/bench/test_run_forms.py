"""The forms of `make bench` (bench/run.py): the default keeps every figure docs/performance.md
lists, --quick and --full change the sizes only."""

from __future__ import annotations

import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[3] / "bench"
sys.path.insert(0, str(BENCH))

import run  # noqa: E402 - bench/ is not a package: its modules import each other by name

PARTS = {part.name: part for part in run.PARTS}


def test_the_default_form_measures_every_size_and_burst_and_the_full_form_adds_the_curve():
    stream = PARTS["stream_capacity"]

    assert stream.arguments("default") == ()  # groups of 2, 5 and 40; bursts of 1, 10 and 100
    assert "--windows" in stream.arguments("full")
    assert "--windows" not in stream.arguments("default")


def test_every_part_runs_in_every_form_and_quick_is_quick_everywhere():
    assert set(PARTS) == {"stream_capacity", "throughput", "cache"}
    for part in PARTS.values():
        assert set(part.forms) == {"quick", "default", "full"}
        assert "--quick" in part.arguments("quick")
        assert "--quick" not in part.arguments("full")


def test_the_full_form_has_twice_the_deadline():
    for part in PARTS.values():
        assert part.deadline("full") == 2 * part.deadline("default")
        assert part.deadline("quick") == part.deadline("default")
