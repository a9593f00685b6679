"""The figures of a `make bench` run as tables: pure functions from the results document (the
JSON each part wrote, gathered by bench/run.py) to titled rows of text, shared by the terminal
(Rich) and docs/performance.md (Markdown). A part that failed or did not run gives no table."""

from __future__ import annotations

import os
import platform
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Table:
    title: str
    columns: list[str]
    rows: list[list[str]]
    note: str = ""


def cpu_model(cpuinfo: str | None = None) -> str:
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text()
        except OSError:
            return platform.processor() or "unknown"
    for line in cpuinfo.splitlines():
        name, _, value = line.partition(":")
        if name.strip() == "model name" and value.strip():
            return value.strip()
    return platform.processor() or "unknown"


def machine() -> dict[str, Any]:
    return {
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "cores": os.cpu_count(),
        "cpu": cpu_model(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


def number(value: Any, digits: int = 2) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def capacity_table(stream: dict[str, Any]) -> Table | None:
    rows = stream.get("capacity") or []
    if not rows:
        return None
    return Table(
        "Capacity units per message (message write + all stream work, AWS prices)",
        ["group", "burst", "ours", "seed's way", "freshness p50 / p99 (ms)"],
        [
            [
                str(r.get("group", r.get("members", "?"))),
                number(r.get("burst")),
                number(r.get("ours_units")),
                number(r.get("baseline_units")),
                f"{number(r.get('freshness_p50_ms'), 0)} / {number(r.get('freshness_p99_ms'), 0)}",
            ]
            for r in rows
        ],
    )


def freshness_table(stream: dict[str, Any]) -> Table | None:
    fresh = stream.get("freshness")
    if not fresh:
        return None
    rows = [
        [
            f"lone 1:1 messages ({number(fresh.get('lone_messages'))})",
            number(fresh.get("p50_ms"), 0),
            number(fresh.get("p99_ms"), 0),
        ]
    ]
    return Table(
        "Freshness: send answered -> every member's row shows it (ms)",
        ["messages", "p50", "p99"],
        rows,
    )


def windows_table(stream: dict[str, Any]) -> Table | None:
    """The batch window's trade-off (`make bench` --full): one row per window."""
    points = stream.get("windows") or []
    if not points:
        return None

    def ms(point: dict[str, Any], name: str) -> str:
        value = point.get(name)
        return number(None if value is None else value * 1000, 0)

    return Table(
        "Batch window trade-off (1:1): a burst of 100 from 4 senders, and lone messages",
        [
            "window ms",
            "idle poll ms",
            "burst u/msg",
            "polls moving rows",
            "burst p50 / p99 ms",
            "lone p50 / p99 ms",
        ],
        [
            [
                ms(p, "window_seconds"),
                ms(p, "idle_poll_seconds"),
                number(p.get("burst_units")),
                number(p.get("burst_polls_moving_rows")),
                f"{number(p.get('burst_p50_ms'), 0)} / {number(p.get('burst_p99_ms'), 0)}",
                f"{number(p.get('lone_p50_ms'), 0)} / {number(p.get('lone_p99_ms'), 0)}",
            ]
            for p in points
        ],
    )


def throughput_table(throughput: dict[str, Any]) -> Table | None:
    runs = throughput.get("runs") or []
    if not runs:
        return None

    def lat(figures: dict[str, Any]) -> list[str]:
        latency = figures.get("latency_ms") or {}
        return [number(latency.get("p50"), 1), number(latency.get("p99"), 1)]

    return Table(
        "POST /api/messages (cruddur serve, worker running) beside raw boto3 PutItem",
        ["clients", "API sends/s", "p50 ms", "p99 ms", "raw puts/s", "p50 ms", "p99 ms", "ratio"],
        [
            [
                number(run.get("clients")),
                number(run["api"].get("per_second"), 1),
                *lat(run["api"]),
                number(run["raw"].get("per_second"), 1),
                *lat(run["raw"]),
                number(run.get("ratio")),
            ]
            for run in runs
        ],
    )


def cpu_table(throughput: dict[str, Any]) -> Table | None:
    runs = [r for r in throughput.get("runs") or [] if r.get("cpu_ms_per_send")]
    if not runs:
        return None
    rows = []
    for run in runs:
        for side, label in (("api_run", "API"), ("raw_run", "raw")):
            cpu = run["cpu_ms_per_send"].get(side) or {}
            everything = cpu.get("all", cpu.get("bench"))  # "bench": older results' name
            rows.append(
                [
                    f"{number(run.get('clients'))} clients, {label}",
                    number(cpu.get("api"), 2) if label == "API" else "-",
                    number(cpu.get("worker"), 2),
                    number(cpu.get("dynamodb"), 2),
                    number(everything, 2),
                ]
            )
    return Table(
        "CPU milliseconds per send, by process tree",
        ["run", "API", "stream worker", "DynamoDB Local", "all (incl. clients)"],
        rows,
        note="Redis and PostgreSQL are not counted (not the bench's children).",
    )


def memory_table(throughput: dict[str, Any]) -> Table | None:
    memory = throughput.get("memory") or {}
    if not memory:
        return None
    names = {"api": "API (gunicorn arbiter + workers)", "worker": "stream worker"}
    return Table(
        "Peak memory under the throughput load (MB)",
        ["process tree", "PSS", "RSS", "processes"],
        [
            [
                names.get(name, name),
                number(peak.get("pss_mb"), 1),
                number(peak.get("rss_mb"), 1),
                number(peak.get("processes")),
            ]
            for name, peak in memory.items()
        ],
        note="PSS counts a page shared by n processes 1/n in each; RSS counts it in every one.",
    )


def reads_table(cache: dict[str, Any]) -> Table | None:
    modes = cache.get("modes") or {}
    if not modes:
        return None
    rows = []
    for label, mode in (("cold (no cache)", "no cache"), ("hot (Redis cache)", "cache")):
        mix = (modes.get(mode) or {}).get("read_mix") or {}
        if not mix:
            continue
        latency = mix.get("latency_ms") or {}
        dynamodb = mix.get("dynamodb") or {}

        def lat(kind: str, latency: dict[str, Any] = latency) -> str:
            figures = latency.get(kind) or {}
            return f"{number(figures.get('p50'), 1)} / {number(figures.get('p99'), 1)}"

        rows.append(
            [
                label,
                number(mix.get("requests_per_second"), 1),
                lat("list_groups"),
                lat("list_messages"),
                number(dynamodb.get("read_units_per_read_request"), 3),
            ]
        )
    if not rows:
        return None
    return Table(
        "Reads, cold and hot: a read-heavy mix (20 reads per send)",
        [
            "reads",
            "requests/s",
            "GET message_groups p50 / p99 ms",
            "GET messages p50 / p99 ms",
            "read units / read",
        ],
        rows,
    )


def tables(results: dict[str, Any]) -> list[Table]:
    parts = results.get("parts") or {}
    stream = (parts.get("stream_capacity") or {}).get("figures") or {}
    throughput = (parts.get("throughput") or {}).get("figures") or {}
    cache = (parts.get("cache") or {}).get("figures") or {}
    made = [
        capacity_table(stream),
        freshness_table(stream),
        windows_table(stream),
        throughput_table(throughput),
        cpu_table(throughput),
        memory_table(throughput),
        reads_table(cache),
    ]
    return [t for t in made if t is not None]


def markdown(table: Table) -> str:
    lines = [f"**{table.title}**", "", "| " + " | ".join(table.columns) + " |"]
    lines.append("|" + "|".join("---" for _ in table.columns) + "|")
    lines += ["| " + " | ".join(row) + " |" for row in table.rows]
    if table.note:
        lines += ["", table.note]
    return "\n".join(lines)
