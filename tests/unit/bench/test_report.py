"""The pure parts of the `make bench` harness: tables from a results document (whatever rows the
parts wrote), the machine's description, /proc's memory figures."""

from __future__ import annotations

import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[3] / "bench"
sys.path.insert(0, str(BENCH))

import memory  # noqa: E402 - bench/ is not a package: its modules import each other by name
import report  # noqa: E402

RESULTS = {
    "parts": {
        "stream_capacity": {
            "status": "ok",
            "figures": {
                "capacity": [
                    {
                        "group": "1:1",
                        "members": 2,
                        "burst": 1,
                        "ours_units": 9.5,
                        "baseline_units": 9.5,
                        "freshness_p50_ms": 120.0,
                        "freshness_p99_ms": 240.0,
                        "some_new_field": "ignored",
                    }
                ],
                "freshness": {"lone_messages": 30, "p50_ms": 150.0, "p99_ms": 280.0},
            },
        },
        "throughput": {
            "status": "ok",
            "figures": {
                "runs": [
                    {
                        "clients": 16,
                        "api": {"per_second": 240.0, "latency_ms": {"p50": 60.0, "p99": 90.0}},
                        "raw": {"per_second": 300.0, "latency_ms": {"p50": 50.0, "p99": 80.0}},
                        "ratio": 0.8,
                    }
                ],
                "memory": {"api": {"pss_mb": 120.5, "rss_mb": 200.0, "processes": 3}},
            },
        },
        "cache": {"status": "failed (exit 1)", "log_tail": ["boom"]},
    }
}


def test_every_part_with_figures_gives_its_table_and_a_failed_one_none():
    titles = [t.title for t in report.tables(RESULTS)]

    assert len(titles) == 4  # capacity, freshness, throughput, memory; no reads (cache failed)
    assert not any(t.startswith("Reads") for t in titles)


def test_rows_read_the_figures_they_name():
    capacity, freshness, throughput, memory_table = report.tables(RESULTS)

    assert capacity.rows == [["1:1", "1", "9.50", "9.50", "120 / 240"]]
    assert freshness.rows[0][1:] == ["150", "280"]
    assert throughput.rows == [["16", "240.0", "60.0", "90.0", "300.0", "50.0", "80.0", "0.80"]]
    assert memory_table.rows[0][1:] == ["120.5", "200.0", "3"]


def test_the_window_trade_off_has_a_row_per_window_when_the_run_drew_it():
    stream = {
        "windows": [
            {
                "window_seconds": 0.2,
                "idle_poll_seconds": 0.1,
                "burst_units": 1.25,
                "burst_polls_moving_rows": 3,
                "burst_p50_ms": 230.0,
                "burst_p99_ms": 421.0,
                "lone_p50_ms": 222.0,
                "lone_p99_ms": 396.0,
            }
        ]
    }

    table = report.windows_table(stream)

    assert table is not None
    assert table.rows == [["200", "100", "1.25", "3", "230 / 421", "222 / 396"]]
    assert report.windows_table({"windows": []}) is None


def test_markdown_has_a_row_per_figure_row():
    table = report.Table("T", ["a", "b"], [["1", "2"], ["3", "4"]], note="n")

    assert report.markdown(table).splitlines() == [
        "**T**",
        "",
        "| a | b |",
        "|---|---|",
        "| 1 | 2 |",
        "| 3 | 4 |",
        "",
        "n",
    ]


def test_the_cpu_model_comes_from_cpuinfo():
    assert report.cpu_model("processor\t: 0\nmodel name\t: AMD EPYC 7B13\n") == "AMD EPYC 7B13"


def test_smaps_rollup_fields_are_read_in_kib():
    text = (
        "55d0c0000000-7ffd00000000 ---p 00000000 00:00 0    [rollup]\n"
        "Rss:               91008 kB\n"
        "Pss:               49334 kB\n"
        "Shared_Clean:      22244 kB\n"
    )

    assert memory.parse_smaps_rollup(text) == {"Rss": 91008, "Pss": 49334, "Shared_Clean": 22244}
