"""Memory of a process tree, read from /proc (Linux): PSS (proportional set size: a page shared
by n processes counts 1/n in each, so the sum over forked gunicorn workers counts shared pages
once) and RSS (a shared page counts in every process that maps it), sampled while a load runs."""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from pathlib import Path

SAMPLE_SECONDS = 0.25


def parse_smaps_rollup(text: str) -> dict[str, int]:
    """The kB fields of /proc/PID/smaps_rollup, e.g. {"Rss": 41234, "Pss": 30123, ...}."""
    fields: dict[str, int] = {}
    for line in text.splitlines():
        name, sep, rest = line.partition(":")
        parts = rest.split()
        if sep and len(parts) == 2 and parts[1] == "kB" and parts[0].isdigit():
            fields[name.strip()] = int(parts[0])
    return fields


def children(pid: int) -> list[int]:
    try:
        tasks = Path(f"/proc/{pid}/task").iterdir()
        found: list[int] = []
        for task in tasks:
            found += [int(c) for c in (task / "children").read_text().split()]
        return found
    except OSError:
        return []


def tree(pid: int) -> list[int]:
    """`pid` and every descendant."""
    pids, queue = [], [pid]
    while queue:
        current = queue.pop()
        pids.append(current)
        queue.extend(children(current))
    return pids


def tree_kib(pid: int) -> tuple[int, int, int]:
    """(PSS kB, RSS kB, processes) summed over the tree of `pid`; processes gone meanwhile count 0."""
    pss = rss = n = 0
    for member in tree(pid):
        try:
            fields = parse_smaps_rollup(Path(f"/proc/{member}/smaps_rollup").read_text())
        except OSError:
            continue
        pss += fields.get("Pss", 0)
        rss += fields.get("Rss", 0)
        n += 1
    return pss, rss, n


@dataclass
class Peak:
    pss_kib: int = 0
    rss_kib: int = 0
    processes: int = 0
    samples: int = 0

    def add(self, pss: int, rss: int, processes: int) -> None:
        self.samples += 1
        self.pss_kib = max(self.pss_kib, pss)
        self.rss_kib = max(self.rss_kib, rss)
        self.processes = max(self.processes, processes)

    def as_mb(self) -> dict[str, float | int]:
        return {
            "pss_mb": round(self.pss_kib / 1024, 1),
            "rss_mb": round(self.rss_kib / 1024, 1),
            "processes": self.processes,
            "samples": self.samples,
        }


@dataclass
class PeakSampler:
    """Samples the trees of the named pids every SAMPLE_SECONDS in a thread, keeping the peaks."""

    pids: dict[str, int]
    peaks: dict[str, Peak] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def sample(self) -> None:
        for name, pid in self.pids.items():
            self.peaks.setdefault(name, Peak()).add(*tree_kib(pid))

    def __enter__(self) -> PeakSampler:
        def loop() -> None:
            while not self._stop.is_set():
                self.sample()
                self._stop.wait(SAMPLE_SECONDS)

        self._thread = threading.Thread(target=loop, daemon=True, name="memory-sampler")
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.sample()


def tree_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of the live processes of the tree of `pid` (/proc/PID/stat)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for member in tree(pid):
        try:
            stat = Path(f"/proc/{member}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2 :].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
    return total / ticks
