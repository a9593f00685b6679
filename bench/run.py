"""`make bench`: every figure of docs/performance.md in one bounded run.

    .venv/bin/python bench/run.py [--quick | --full] [--only stream_capacity,throughput,cache]
    .venv/bin/python bench/run.py --markdown bench/results/latest.json

Runs each part as a child process that writes its figures as JSON (`--json PATH`), one after the
other (they would skew each other's figures on a small machine), with a progress bar; then prints
the tables (Rich) and writes everything, with the date and the machine, to
bench/results/latest.json (committed: the figures docs/performance.md quotes; not by --quick or
--only) and bench/results/<date>.json (not committed). The parts:
  * stream_capacity.py: capacity units per message, ours beside the seed's way (groups of 2, 5
    and 40 members, bursts of 1, 10, 100); freshness; with --full, the batch window trade-off;
  * throughput.py: POST /api/messages from 1, 4 and 16 clients beside raw PutItem, the stream
    worker running; peak memory (PSS and RSS) of the API and the worker;
  * cache.py --reads-only: reads cold (no cache) and hot (Redis), half its counts unless --full
    (which also runs its send burst).
Three forms: the default (every figure above: 107 s on this 2-core machine at a load average of
2 to 5), --quick (smaller counts, no 40-member group, bursts of 1 and 10: 70 s) and --full (adds
the window trade-off curve, the cache's whole counts and its send burst: about 4 minutes). Each part has
a deadline (`Part.seconds`, twice that with --full): a part that fails or overruns is reported as
such, the others still run, and the exit status is 1. Prints figures; asserts nothing about them.
`bench/signin_timing.py` stays a separate script (it measures the password hasher).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from report import machine, markdown, tables
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table as RichTable

BENCH_DIR = Path(__file__).resolve().parent
RESULTS_DIR = BENCH_DIR / "results"
LOG_LINES_KEPT = 40


@dataclass(frozen=True)
class Part:
    name: str
    script: str
    forms: dict[str, tuple[str, ...]]  # the script's arguments in each form
    seconds: int  # deadline of the default and quick forms: the part is stopped after this long

    def arguments(self, form: str) -> tuple[str, ...]:
        return self.forms[form]

    def deadline(self, form: str) -> int:
        return self.seconds * 2 if form == "full" else self.seconds


# The deadlines are for a part that hangs, not a budget: the default form of each part takes a
# sixth of its deadline or less on a quiet 2-core machine, and up to five times as long under a
# load average of 15 (other work on the machine).
PARTS = (
    Part(
        "stream_capacity",
        "stream_capacity.py",
        {"quick": ("--quick",), "default": (), "full": ("--windows",)},
        360,
    ),
    Part("throughput", "throughput.py", {"quick": ("--quick",), "default": (), "full": ()}, 180),
    Part(
        "cache",
        "cache.py",
        {
            "quick": ("--quick", "--reads-only", "--sends", "30"),
            "default": ("--quick", "--reads-only"),
            "full": (),  # also its send burst through the counting proxy
        },
        240,
    ),
)


def run_part(part: Part, form: str, work: Path, progress: Progress, task: Any) -> dict[str, Any]:
    """Run one part; its figures, or why there are none."""
    output = work / f"{part.name}.json"
    argv = [sys.executable, str(BENCH_DIR / part.script)]
    argv += [*part.arguments(form), "--json", str(output)]
    started = time.monotonic()
    tail: deque[str] = deque(maxlen=LOG_LINES_KEPT)
    process = subprocess.Popen(
        argv,
        cwd=BENCH_DIR.parent,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
        bufsize=1,
    )

    def follow() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            line = line.rstrip()
            if line:
                tail.append(line)
                progress.update(task, status=line[:70])

    reader = threading.Thread(target=follow, daemon=True)
    reader.start()
    try:
        process.wait(timeout=part.deadline(form))
        status = "ok" if process.returncode == 0 else f"failed (exit {process.returncode})"
    except subprocess.TimeoutExpired:
        process.terminate()  # the part cleans up its engines on SIGTERM
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        status = f"stopped after {part.deadline(form)} s"
    reader.join(timeout=5)
    result: dict[str, Any] = {
        "status": status,
        "seconds": round(time.monotonic() - started, 1),
        "command": " ".join(["bench/" + part.script, *part.arguments(form)]),
    }
    if status == "ok" and output.exists():
        result["figures"] = json.loads(output.read_text())
    else:
        result["log_tail"] = list(tail)
    return result


def print_tables(console: Console, results: dict[str, Any]) -> None:
    for table in tables(results):
        shown = RichTable(title=table.title, title_justify="left", caption=table.note or None)
        for i, column in enumerate(table.columns):
            shown.add_column(column, justify="left" if i == 0 else "right")
        for row in table.rows:
            shown.add_row(*row)
        console.print(shown)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="each part's --quick (shorter)")
    size.add_argument(
        "--full", action="store_true", help="the long form: window trade-off, whole counts"
    )
    parser.add_argument("--only", default=None, help="parts to run, comma-separated")
    parser.add_argument(
        "--results", type=Path, default=RESULTS_DIR, help="where the JSON goes [bench/results]"
    )
    parser.add_argument(
        "--markdown",
        type=Path,
        metavar="RESULTS",
        help="print the tables of a results file as Markdown (for docs/performance.md) and stop",
    )
    args = parser.parse_args(argv)
    if args.markdown:
        results = json.loads(args.markdown.read_text())
        m = results["machine"]
        form = results.get("form") or ("quick" if results.get("quick") else "default")
        print(
            f"{m['date']}, {m['cores']} cores ({m['cpu']}), Python {m['python']}, load average "
            f"{m['load_average']} at the start, {m.get('load_average_at_end')} at the end; "
            f"the {form} form, {results.get('seconds', 0):.0f} s in all\n"
        )
        print("\n\n".join(markdown(t) for t in tables(results)))
        return 0
    chosen = [p for p in PARTS if args.only is None or p.name in args.only.split(",")]
    if not chosen:
        parser.error(f"--only names none of {', '.join(p.name for p in PARTS)}")
    console = Console()
    form = "quick" if args.quick else "full" if args.full else "default"
    results: dict[str, Any] = {"machine": machine(), "form": form, "parts": {}}
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="cruddur-bench-run-") as tmp:
        with Progress(
            SpinnerColumn(),
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total}"),
            TimeElapsedColumn(),
            TextColumn("{task.fields[status]}"),
            console=console,
            transient=False,
        ) as progress:
            overall = progress.add_task("make bench", total=len(chosen), status="")
            for part in chosen:
                progress.update(overall, description=part.name, status="starting")
                results["parts"][part.name] = run_part(part, form, Path(tmp), progress, overall)
                progress.advance(overall)
            progress.update(overall, description="make bench", status="done")
    results["seconds"] = round(time.monotonic() - started, 1)
    results["machine"]["load_average_at_end"] = machine()["load_average"]

    print_tables(console, results)
    failed = {n: p for n, p in results["parts"].items() if p["status"] != "ok"}
    for name, part in failed.items():
        console.print(f"[red]{name}: {part['status']}[/red]")
        for line in part.get("log_tail", [])[-15:]:
            console.print(f"  {line}", markup=False, highlight=False)
    args.results.mkdir(parents=True, exist_ok=True)
    document = json.dumps(results, indent=2) + "\n"
    dated = args.results / (results["machine"]["date"].replace(":", "") + ".json")
    dated.write_text(document)
    whole = not args.only and form != "quick"  # latest.json: all of the figures docs quote
    if whole:
        (args.results / "latest.json").write_text(document)
    m = results["machine"]
    console.print(
        f"{m['date']}: {m['cores']} cores ({m['cpu']}), Python {m['python']}; "
        f"{results['seconds']:.0f} s; figures in {dated}"
        + (f" and {args.results / 'latest.json'}" if whole else "")
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
