"""API send throughput beside raw DynamoDB PutItem, and the memory of the API and the stream
worker under that load.

    .venv/bin/python bench/throughput.py [--quick] [--clients 1,4,16] [--json PATH]
                                         [--profile DIR]

Set-up (loopback only, all torn down at the end, also on Ctrl-C or an error): DynamoDB Local in
memory on a free port, a throwaway users database (alice, bob), Redis (the machine's, else a
private one), then as in production: `cruddur stream-worker` and `cruddur serve` with its default
serving model (workers, threads, worker class), both child processes, rate limits off. Alice
opens a conversation with bob.

For each number of clients (1, 4, 16): `POST /api/messages` into the conversation from that many
keep-alive HTTP clients (threads of this process), then as many boto3 PutItems of the same item
(`items.message_item`, the repository's condition) from that many threads into the same table;
sends/s and p50/p99 of each, and their ratio. Each is preceded by a short warm-up. While it runs,
the process trees of the API (gunicorn's arbiter and its workers) and of the stream worker are
sampled (/proc/PID/smaps_rollup): peak PSS and RSS.

`--profile DIR`: py-spy (if installed: `.venv/bin/pip install py-spy`) records the API's workers
during the 16-client run into DIR/api-profile.txt (collapsed stacks) and prints the top frames.

The clients share this process (and its GIL) on the same machine as DynamoDB Local and the API:
the figures are this machine's, side by side in one run. Prints figures; asserts nothing.
Bounded: well under a minute.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from api_client import ApiConnection, one_call
from engines import (
    dynamodb_local,
    forget_table_keys,
    latency_ms,
    postgres_server,
    redis_server,
    run_threads,
    users_database,
)
from memory import PeakSampler, tree_cpu_seconds

from cruddur.aws import dynamodb_client
from cruddur.config import Settings
from cruddur.local.processes import terminate, wait_until
from cruddur.local.serving import served_api
from cruddur.messaging import keys, schema
from cruddur.messaging.items import message_item
from cruddur.messaging.models import UserRef
from cruddur.messaging.services import new_message
from cruddur.users.models import demo_user_uuid

HANDLES = ("alice", "bob")
CLIENTS = (1, 4, 16)
STARTUP_SECONDS = 30.0


@dataclass(frozen=True)
class Counts:
    sends_per_client: int = 60  # each run sends clients x this, at least `minimum`
    minimum: int = 150
    maximum: int = 800
    warmup_per_client: int = 4

    def sends(self, clients: int) -> int:
        return max(self.minimum, min(self.maximum, clients * self.sends_per_client))

    def halved(self) -> Counts:
        return replace(self, sends_per_client=30, minimum=75, maximum=400)


def healthy(base_url: str) -> bool:
    try:
        conn = ApiConnection(base_url)
        try:
            return conn.call("GET", "/api/health-check", None, None)[0] == 200
        finally:
            conn.close()
    except (http.client.HTTPException, OSError):
        return False


# --- the stream worker, a child process as in production -----------------------------------------


@contextmanager
def stream_worker_process(settings: Settings, log_path: Path) -> Any:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AWS_", "CRUDDUR_", "DDB_", "REDIS_URL"))
    }
    env.update(
        AWS_DEFAULT_REGION=settings.region,
        CRUDDUR_DATA_DIR=str(settings.data_dir),
        REDIS_URL=settings.redis_url or "",
    )
    argv = [sys.executable, "-c", "from cruddur.cli import main; main()", "stream-worker"]
    argv += ["--table", settings.table_name, "--endpoint-url", settings.dynamodb_endpoint_url or ""]
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            argv,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            started = wait_until(
                lambda: process.poll() is not None or b"stream-worker:" in log_path.read_bytes(),
                STARTUP_SECONDS,
            )
            if not started or process.poll() is not None:
                raise RuntimeError(f"the stream worker did not start:\n{log_path.read_text()}")
            yield process
        finally:
            terminate(process.pid)
            process.wait(timeout=15)


# --- the runs -------------------------------------------------------------------------------------


@dataclass
class Run:
    seconds: float
    latencies: list[float]
    statuses: Counter[str]

    def figures(self, count: int) -> dict[str, Any]:
        return {
            "count": count,
            "seconds": round(self.seconds, 3),
            "per_second": round(count / self.seconds, 1),
            "latency_ms": latency_ms(self.latencies),
            "failures": sum(n for status, n in self.statuses.items() if status != "200"),
        }


def api_sends(base_url: str, tokens: dict[str, str], group: str, count: int, clients: int) -> Run:
    latencies: list[float] = []
    statuses: Counter[str] = Counter()
    lock = threading.Lock()

    def do_unit(conn: ApiConnection, i: int) -> None:
        handle = HANDLES[i % 2]
        body = {"message": f"bench {i}", "message_group_uuid": group}
        status, _, seconds = conn.call("POST", "/api/messages", body, tokens[handle])
        with lock:
            statuses[str(status)] += 1
            if status == 200:
                latencies.append(seconds)

    seconds = run_threads(clients, count, lambda: ApiConnection(base_url), do_unit)
    return Run(seconds, latencies, statuses)


def raw_puts(settings: Settings, group: str, count: int, threads: int) -> Run:
    """`count` PutItems of API-shaped messages straight into the table, `threads` at once (one
    boto3 client, as the API's workers share one, its pool sized by the one client factory)."""
    client = dynamodb_client(settings)
    people = [UserRef(demo_user_uuid(h), h, h.title()) for h in HANDLES]
    latencies: list[float] = []
    statuses: Counter[str] = Counter()
    lock = threading.Lock()

    def do_unit(_: Any, i: int) -> None:
        message = new_message(group, people[i % 2], f"raw {i}", keys.now_timestamp())
        started = time.perf_counter()
        client.put_item(
            TableName=settings.table_name,
            Item=message_item(message),
            ConditionExpression="attribute_not_exists(pk)",  # as the repository's put
        )
        elapsed = time.perf_counter() - started
        with lock:
            statuses["200"] += 1
            latencies.append(elapsed)

    seconds = run_threads(threads, count, lambda: None, do_unit)
    return Run(seconds, latencies, statuses)


@contextmanager
def profiling(pid: int, out: Path | None, seconds: int) -> Any:
    """py-spy recording the tree of `pid` (collapsed stacks) while the block runs."""
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if out is None or not Path(spy).exists():
        yield
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    process = subprocess.Popen(
        [
            spy,
            "record",
            "--subprocesses",
            "--gil",
            "--nonblocking",
            "--format",
            "raw",
            "--rate",
            "200",
        ]
        + ["--duration", str(seconds), "--output", str(out), "--pid", str(pid)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        time.sleep(1.0)  # py-spy attaches
        yield
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()


def top_frames(collapsed: Path, limit: int = 25) -> list[tuple[float, str]]:
    """Share of samples in which each of our/library functions appears (inclusive)."""
    inclusive: Counter[str] = Counter()
    total = 0
    for line in collapsed.read_text().splitlines():
        stack, _, n = line.rpartition(" ")
        if not n.isdigit():
            continue
        total += int(n)
        for frame in set(stack.split(";")):
            inclusive[frame] += int(n)
    return [(100 * n / max(1, total), frame) for frame, n in inclusive.most_common(limit)]


def measure(
    counts: Counts, clients_list: tuple[int, ...], profile: Path | None, workers: int | None = None
) -> dict[str, Any]:
    results: dict[str, Any] = {"runs": [], "memory": {}}
    password = f"bench-{uuid.uuid4().hex}"
    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="cruddur-bench-tp-")))
        print("starting DynamoDB Local, PostgreSQL, Redis ...", file=sys.stderr, flush=True)
        engine = stack.enter_context(dynamodb_local(tmp))
        server_url, postgres_where = stack.enter_context(postgres_server())
        db_url = stack.enter_context(users_database(server_url, password, HANDLES, "bench_tp"))
        redis_url, redis_where = stack.enter_context(redis_server(tmp))
        table = f"bench-throughput-{uuid.uuid4().hex[:8]}"
        settings = Settings(
            table_name=table,
            dynamodb_endpoint_url=engine.endpoint_url,
            dynamodb_streams_endpoint_url=engine.endpoint_url,
            redis_url=redis_url,
            data_dir=tmp / "worker",
        )
        client = dynamodb_client(settings)
        schema.create_table(client, table)
        stack.callback(client.delete_table, TableName=table)
        stack.callback(forget_table_keys, redis_url, table)
        worker = stack.enter_context(stream_worker_process(settings, tmp / "worker.log"))
        served = stack.enter_context(
            served_api(
                settings,
                db_url,
                tmp / "api",
                workers=workers,
                log_name="gunicorn.log",
                ready=healthy,
            )
        )
        results["setup"] = {"postgres": postgres_where, "redis": redis_where}
        base_url = served.base_url
        tokens = {
            h: str(
                one_call(base_url, "POST", "/api/auth/token", {"handle": h, "password": password})[
                    "access_token"
                ]
            )
            for h in HANDLES
        }
        group = str(
            one_call(
                base_url,
                "POST",
                "/api/messages",
                {"message": "hello", "handle": "bob"},
                tokens["alice"],
            )["message_group_uuid"]
        )
        sampler = stack.enter_context(
            PeakSampler({"api": served.process.pid, "worker": worker.pid})
        )
        for clients in clients_list:
            n = counts.sends(clients)
            warm = counts.warmup_per_client * clients
            print(
                f"{clients} clients: {n} API sends, {n} raw PutItems", file=sys.stderr, flush=True
            )
            api_sends(base_url, tokens, group, warm, clients)
            # CPU of each process tree over a run, per send; "all" is this process's tree: the
            # clients, the API, the worker and DynamoDB Local (Redis and PostgreSQL are not ours)
            pids = {
                "api": served.process.pid,
                "worker": worker.pid,
                "dynamodb": engine.status().pid or 0,
                "all": os.getpid(),
            }
            before = {k: tree_cpu_seconds(p) for k, p in pids.items()}
            with profiling(
                served.process.pid,
                profile / "api-profile.txt" if profile and clients == max(clients_list) else None,
                seconds=60,
            ):
                api = api_sends(base_url, tokens, group, n, clients)
            middle = {k: tree_cpu_seconds(p) for k, p in pids.items()}
            raw_puts(settings, group, warm, clients)
            middle2 = {k: tree_cpu_seconds(p) for k, p in pids.items()}
            raw = raw_puts(settings, group, n, clients)
            after = {k: tree_cpu_seconds(p) for k, p in pids.items()}
            cpu = {
                "api_run": {k: round((middle[k] - before[k]) * 1000 / n, 2) for k in pids},
                "raw_run": {k: round((after[k] - middle2[k]) * 1000 / n, 2) for k in pids},
            }
            api_figures, raw_figures = api.figures(n), raw.figures(n)
            results["runs"].append(
                {
                    "clients": clients,
                    "api": api_figures,
                    "raw": raw_figures,
                    "ratio": round(api_figures["per_second"] / raw_figures["per_second"], 3),
                    "cpu_ms_per_send": cpu,
                }
            )
    results["memory"] = {name: peak.as_mb() for name, peak in sampler.peaks.items()}
    return results


def print_figures(results: dict[str, Any]) -> None:
    print(
        f"{'clients':>7}  {'API/s':>8} {'p50':>7} {'p99':>7}  {'raw/s':>8} {'p50':>7} {'p99':>7}  ratio"
    )
    for run in results["runs"]:
        a, r = run["api"], run["raw"]
        print(
            f"{run['clients']:>7}  {a['per_second']:>8.1f} {a['latency_ms']['p50']:>7.1f} "
            f"{a['latency_ms']['p99']:>7.1f}  {r['per_second']:>8.1f} {r['latency_ms']['p50']:>7.1f} "
            f"{r['latency_ms']['p99']:>7.1f}  {run['ratio']:.2f}"
            + (f"  ({a['failures']} API failures)" if a["failures"] else "")
        )
    for run in results["runs"]:
        print(f"  CPU ms per send, {run['clients']} clients: {run['cpu_ms_per_send']}")
    for name, peak in results["memory"].items():
        print(
            f"peak memory of the {name}: PSS {peak['pss_mb']} MB, RSS {peak['rss_mb']} MB "
            f"({peak['processes']} processes)"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="half the counts")
    parser.add_argument("--clients", default=",".join(map(str, CLIENTS)))
    parser.add_argument("--json", metavar="PATH", help="also write the figures as JSON here")
    parser.add_argument(
        "--profile", metavar="DIR", type=Path, help="py-spy the API at most clients"
    )
    parser.add_argument("--workers", type=int, default=None, help="gunicorn workers [serve's]")
    args = parser.parse_args(argv)
    counts = Counts().halved() if args.quick else Counts()
    clients = tuple(int(c) for c in args.clients.split(","))
    started = time.monotonic()
    results = measure(counts, clients, args.profile, args.workers)
    results["seconds"] = round(time.monotonic() - started, 1)
    print_figures(results)
    if args.profile and (args.profile / "api-profile.txt").exists():
        print("profile of the API's workers (inclusive share of samples):")
        for share, frame in top_frames(args.profile / "api-profile.txt"):
            print(f"  {share:5.1f}%  {frame}")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda signum, frame: (_ for _ in ()).throw(KeyboardInterrupt()))
    sys.exit(main())
