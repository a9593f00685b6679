"""Cache figures: the same API run without and with the Redis cache (REDIS_URL), side by side.

    .venv/bin/python bench/cache.py [--quick] [--reads-only] [--sends N] [--json PATH]

Set-up, all on loopback, all torn down at the end (also on Ctrl-C, SIGTERM or an error):
  * DynamoDB Local in memory on a free port, and in front of it a counting proxy (a child process)
    that the API talks to: it forwards every request as it came, adding only
    "ReturnConsumedCapacity": "INDEXES" to the calls that accept it, and prices every answer with
    the project's own `CapacityMeter` (transactions priced per action, refused conditional writes
    counted), per operation and row kind (`MSG#` messages, `GRP#` conversation rows,
    `GROUP#/MEMBER#` membership, ...; "consistent" marks strongly consistent reads, twice the
    price);
  * a throwaway users database `bench_cache_<random>` on the machine's PostgreSQL (127.0.0.1:5432,
    else a private cluster in a temporary folder), migrated, with alice and bob and a password;
  * Redis: the machine's (redis://127.0.0.1:6379/0) when it answers PING, else a private one; at
    the end only the keys of the bench's own tables (`cruddur:<table>:*`) are deleted.
Per mode (no cache: REDIS_URL unset; cache: REDIS_URL set), on a fresh table: the stream worker in
this process (`bootstrap.stream_worker`, default `WorkerConfig`) with a `CapacityMeter` on its
client, and for each phase a `cruddur serve` of its own (2 workers x 8 threads, its DynamoDB
endpoint at the proxy).
Alice opens a conversation with bob; then each phase, after a few warm-up requests and once the
worker is idle:
  1. read-heavy mix: sends alternating alice/bob, each followed by 20 reads (10 conversation lists,
     10 message pages, by both users), from 4 clients (HTTP keep-alive);
  2. send burst (not with --reads-only): sends into the group from 4 clients, until the worker
     has moved both conversation rows to the last message; units per message of the API (proxy)
     and of the worker (meter).
Send throughput beside raw PutItem is bench/throughput.py's (the API as it is served, without the
proxy).
DynamoDB units, latencies and Redis commands (INFO commandstats of the whole server, so any other
client's too, the bench's own INFO left out; MGET is a cache lookup, EVALSHA a fill or an
invalidation, commands run inside those scripts counted as well; XADD a live event, published when
REDIS_URL is set) cover the measured part of a phase. PostgreSQL counters cover the life of the phase's server, start-up and warm-up
included: an idle session holds its last counts for up to 10 s and flushes them as it ends, so
they are read once the server has stopped (ending the API's sessions instead would make its pool
wait about a second per dead connection). They are the scans and rows read of `users`
(pg_stat_user_tables) and the database's transactions and rows returned+fetched
(pg_stat_database, minus the bench's own stats query), beside the requests that server answered.
The clients and the worker share this process (and its GIL) on a 2-core machine
beside DynamoDB Local and gunicorn: latencies are this machine's, compare the modes.
Prints figures; asserts nothing. Bounded: about a minute and a quarter on an idle 2-core machine;
--quick halves the counts, --reads-only (what `make bench` runs, with --quick) skips phase 2.
"""

from __future__ import annotations

import argparse
import gzip
import http.client
import json
import multiprocessing
import os
import signal
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlsplit

import api_client
import psycopg
import redis
from api_client import ApiConnection
from engines import (
    BENCH_APPLICATION,
    forget_table_keys,
    latency_ms,
    postgres_server,
    redis_server,
    run_threads,
    users_database,
)

from cruddur.aws import dynamodb_client
from cruddur.bootstrap import stream_worker
from cruddur.config import Settings, project_root
from cruddur.local.dynamodb import DynamoDBLocal
from cruddur.local.processes import free_port, port_open, wait_until
from cruddur.local.serving import served_api
from cruddur.messaging import keys, schema
from cruddur.messaging.capacity import CapacityMeter
from cruddur.streams.worker import StreamWorker, WorkerConfig
from cruddur.users.db import APPLICATION_NAME
from cruddur.users.models import demo_user_uuid
from cruddur.users.urls import database_name

SERVE_WORKERS = 2
SERVE_THREADS = 8
HANDLES = ("alice", "bob")
DEADLINE_SECONDS = 30.0
REQUEST_TIMEOUT_SECONDS = 30.0
POLL_SECONDS = 0.05
# The calls that accept ReturnConsumedCapacity (and that CapacityMeter prices).
CAPACITY_OPS = {
    "GetItem",
    "PutItem",
    "UpdateItem",
    "DeleteItem",
    "Query",
    "Scan",
    "BatchGetItem",
    "BatchWriteItem",
    "TransactGetItems",
    "TransactWriteItems",
}
PREFIXES = (keys.MESSAGE_PREFIX, keys.CONVERSATION_PREFIX, keys.GROUP_PREFIX, keys.PAIR_PREFIX)
CONTROL_PATH = "/__bench__/counts"
HOP_HEADERS = {
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "content-length",
    "upgrade",
    "te",
    "trailer",
}
MODES = ("no cache", "cache")
# The round trips that tell what the cache does (INFO commandstats also counts the commands the
# cache's Lua scripts run inside, GET, SET, INCR, EXPIRE, DEL: the detail lines list everything).
REDIS_ROWS = (
    ("mget", "MGET lookups"),
    ("evalsha", "EVALSHA fills+invalidations"),
    ("xadd", "XADD live events"),
)


@dataclass(frozen=True)
class Counts:
    mix_sends: int = 200
    reads_per_send: int = 20  # half conversation lists, half message pages
    mix_clients: int = 4
    burst_sends: int = 100
    burst_clients: int = 4
    warmup: int = 4

    def halved(self) -> Counts:
        return replace(
            self,
            mix_sends=self.mix_sends // 2,
            burst_sends=self.burst_sends // 2,
        )


# --- the counting proxy (a child process) ---------------------------------------------------------


def prefix_of(pk: str) -> str:
    return next((p for p in PREFIXES if pk.startswith(p)), "other")


def row_kind(key: dict[str, Any]) -> str:
    pk = str((key.get("pk") or {}).get("S", ""))
    sk = str((key.get("sk") or {}).get("S", ""))
    if pk.startswith(keys.GROUP_PREFIX):
        return "GROUP#/MEMBER#" if sk.startswith(keys.MEMBER_SK_PREFIX) else f"GROUP#/{sk}"
    return prefix_of(pk)


def call_label(op: str, body: dict[str, Any]) -> str:
    """The operation and the rows it touches, e.g. `Query MSG# consistent`."""
    if op in ("GetItem", "DeleteItem", "UpdateItem"):
        kind = row_kind(body.get("Key") or {})
    elif op == "PutItem":
        kind = row_kind(body.get("Item") or {})
    elif op == "Query":
        if body.get("IndexName"):
            kind = "index"
        else:
            values = (body.get("ExpressionAttributeValues") or {}).values()
            texts = [str(v.get("S", "")) for v in values if isinstance(v, dict)]
            kind = prefix_of(next((t for t in texts if t.startswith(PREFIXES)), ""))
    elif op == "TransactWriteItems":
        actions: Counter[str] = Counter()
        for action in body.get("TransactItems") or []:
            (name, inner), *_ = action.items()
            actions[f"{name} {row_kind(inner.get('Item') or inner.get('Key') or {})}"] += 1
        kind = " + ".join(f"{n}x {a}" if n > 1 else a for a, n in sorted(actions.items()))
    else:
        kind = ""
    if body.get("ConsistentRead"):
        kind += " consistent"
    return f"{op} {kind}".strip()


class ProxyCounts:
    """Units per call label, priced by one CapacityMeter each (thread-safe)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.meters: dict[str, CapacityMeter] = {}
        self.other: Counter[str] = Counter()

    def count(self, op: str, body: dict[str, Any], status: int, answer: bytes) -> None:
        try:
            parsed = json.loads(answer) if answer else {}
        except ValueError:
            parsed = {}
        if status >= 300:
            code = str(parsed.get("__type", "")).rpartition("#")[2]
            parsed = {"Error": {"Code": code}}
        label = call_label(op, body)
        with self.lock:
            meter = self.meters.setdefault(label, CapacityMeter())
        # The project's pricing, fed what went over the wire instead of botocore's events: the
        # answer's ConsumedCapacity, transactions priced per action from the request, a refused
        # conditional write counted as one unit.
        meter._count(  # noqa: SLF001 - the meter's own pricing, reused
            http_response=SimpleNamespace(status_code=status),
            parsed=parsed,
            model=SimpleNamespace(name=op),
            context={"cruddur_params": body},
        )

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return {
                "calls": {
                    label: {
                        "calls": sum(m.calls.values()),
                        "read_units": m.read_units,
                        "write_units": m.write_units,
                    }
                    for label, m in self.meters.items()
                },
                "other_calls": dict(self.other),
            }

    def reset(self) -> None:
        with self.lock:
            self.meters = {}
            self.other = Counter()


def proxy_handler(upstream_port: int, counts: ProxyCounts) -> type[BaseHTTPRequestHandler]:
    local = threading.local()

    def forward(
        path: str, raw: bytes, headers: dict[str, str]
    ) -> tuple[int, str, list[tuple[str, str]], bytes]:
        for attempt in (0, 1):
            conn = getattr(local, "conn", None) or http.client.HTTPConnection(
                "127.0.0.1", upstream_port, timeout=REQUEST_TIMEOUT_SECONDS
            )
            try:
                conn.request("POST", path, body=raw, headers=headers)
                response = conn.getresponse()
                answer = response.read()
            except (http.client.HTTPException, OSError):
                conn.close()
                local.conn = None
                if attempt:
                    raise
                continue  # a kept-alive connection DynamoDB Local had closed: once more
            local.conn = None if response.will_close else conn
            if response.will_close:
                conn.close()
            return response.status, response.reason, response.getheaders(), answer
        raise AssertionError("unreachable")

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def log_message(self, *args: Any) -> None:
            pass

        def _reply(self, status: int, body: bytes, headers: list[tuple[str, str]]) -> None:
            self.send_response_only(status)
            for name, value in headers:
                if name.lower() not in HOP_HEADERS:
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
            if self.path == CONTROL_PATH:
                body = json.dumps(counts.snapshot()).encode()
                self._reply(200, body, [("Content-Type", "application/json")])
            else:
                self._reply(404, b"", [])

        def do_DELETE(self) -> None:  # noqa: N802
            if self.path == CONTROL_PATH:
                counts.reset()
            self._reply(204 if self.path == CONTROL_PATH else 404, b"", [])

        def do_POST(self) -> None:  # noqa: N802
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            op = str(self.headers.get("X-Amz-Target", "")).rpartition(".")[2]
            body: dict[str, Any] | None = None
            if op in CAPACITY_OPS:
                try:
                    loaded = json.loads(raw)
                except ValueError:
                    loaded = None
                if isinstance(loaded, dict):
                    body = loaded
                    if "ReturnConsumedCapacity" not in body:
                        body["ReturnConsumedCapacity"] = "INDEXES"
                        raw = json.dumps(body).encode()
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_HEADERS}
            try:
                status, _, answer_headers, answer = forward(self.path, raw, headers)
            except (http.client.HTTPException, OSError) as exc:
                self._reply(502, str(exc).encode(), [("Content-Type", "text/plain")])
                return
            if body is not None:
                counted = answer
                if any(k.lower() == "content-encoding" and "gzip" in v for k, v in answer_headers):
                    counted = gzip.decompress(answer)
                counts.count(op, body, status, counted)
            else:
                with counts.lock:
                    counts.other[op or self.path] += 1
            self._reply(status, answer, answer_headers)  # the answer as DynamoDB Local gave it

    return Handler


class ProxyServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128


def proxy_main(upstream_port: int, ready: Any) -> None:
    """The child process: serve until terminated (Ctrl-C is the parent's to handle)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    server = ProxyServer(("127.0.0.1", 0), proxy_handler(upstream_port, ProxyCounts()))
    ready.send(server.server_port)
    ready.close()
    server.serve_forever()


class Proxy:
    def __init__(self, port: int) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}"

    def _control(self, method: str) -> Any:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=REQUEST_TIMEOUT_SECONDS)
        try:
            conn.request(method, CONTROL_PATH)
            answer = conn.getresponse().read()
        finally:
            conn.close()
        return json.loads(answer) if answer else None

    def counts(self) -> dict[str, Any]:
        return self._control("GET")

    def reset(self) -> None:
        self._control("DELETE")


@contextmanager
def counting_proxy(upstream_port: int) -> Iterator[Proxy]:
    context = multiprocessing.get_context("spawn")
    receiver, sender = context.Pipe(duplex=False)
    process = context.Process(target=proxy_main, args=(upstream_port, sender), daemon=True)
    process.start()
    try:
        if not receiver.poll(DEADLINE_SECONDS):
            raise RuntimeError("the counting proxy did not start")
        yield Proxy(receiver.recv())
    finally:
        receiver.close()
        process.terminate()
        process.join(timeout=10)
        if process.is_alive():
            process.kill()
            process.join(timeout=5)


# --- engines --------------------------------------------------------------------------------------


class PostgresCounters:
    """Counters of the bench database: `users` scans and rows (pg_stat_user_tables) and the
    database's transactions and rows (pg_stat_database). PostgreSQL 15 holds an idle session's
    last counts for up to 10 s, and a session flushes them as it ends: so snapshots are taken while
    no API runs (each phase has a `cruddur serve` of its own) once its sessions are gone. The
    per-table read needs a session in the bench database, whose own transaction and catalog rows
    are measured once (`overhead`) and subtracted."""

    DATABASE = ("xact_commit", "tup_returned", "tup_fetched")

    def __init__(self, maintenance_url: str, db_url: str) -> None:
        self.name = database_name(db_url)
        self.db_url = db_url
        self._server = psycopg.connect(
            maintenance_url, autocommit=True, application_name=BENCH_APPLICATION
        )
        self.overhead = dict.fromkeys(self.DATABASE, 0)
        samples = [self.snapshot() for _ in range(3)]
        self.overhead = {
            k: min(b[k] - a[k] for a, b in zip(samples, samples[1:], strict=False))
            for k in self.DATABASE
        }

    def _sessions(self, application: str) -> list[int]:
        rows = self._server.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND application_name = %s",
            (self.name, application),
        ).fetchall()
        return [int(r[0]) for r in rows]

    def snapshot(self) -> dict[str, int]:
        """The counters once no API session and no session of ours is left in the database (a
        session's counts are flushed before it leaves pg_stat_activity)."""
        for application in (APPLICATION_NAME, BENCH_APPLICATION):
            wait_until(lambda a=application: not self._sessions(a), DEADLINE_SECONDS, 0.02)
        row = self._server.execute(
            "SELECT xact_commit, tup_returned, tup_fetched FROM pg_stat_database "
            "WHERE datname = %s",
            (self.name,),
        ).fetchone()
        with psycopg.connect(
            self.db_url, autocommit=True, application_name=BENCH_APPLICATION
        ) as conn:
            table = conn.execute(
                "SELECT coalesce(sum(seq_scan + coalesce(idx_scan, 0)), 0), "
                "coalesce(sum(seq_tup_read + coalesce(idx_tup_fetch, 0)), 0) "
                "FROM pg_stat_user_tables WHERE relname = 'users'"
            ).fetchone()
        assert row is not None and table is not None
        return {
            "xact_commit": int(row[0]),
            "tup_returned": int(row[1]),
            "tup_fetched": int(row[2]),
            "users_scans": int(table[0]),
            "users_rows": int(table[1]),
        }

    def delta(self, before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
        return {k: after[k] - before[k] - self.overhead.get(k, 0) for k in before}

    def close(self) -> None:
        self._server.close()


def redis_calls(url: str) -> Counter[str]:
    """Calls per command since the Redis server started (INFO commandstats)."""
    client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
    try:
        stats = client.info("commandstats")
    finally:
        client.close()
    return Counter({name.removeprefix("cmdstat_"): int(v["calls"]) for name, v in stats.items()})


@dataclass
class Engines:
    tmp: Path
    dynamodb_port: int
    proxy: Proxy
    postgres_server: str
    postgres_url: str
    postgres_where: str
    redis_url: str
    redis_where: str
    password: str
    pg: PostgresCounters

    @property
    def dynamodb_url(self) -> str:
        return f"http://127.0.0.1:{self.dynamodb_port}"


# --- the API as a subprocess ----------------------------------------------------------------------


@contextmanager
def serving(
    settings: Settings, endpoint_url: str, postgres_url: str, data_dir: Path, log_name: str
) -> Iterator[str]:
    """`cruddur serve` (2 workers x 8 threads) on a free port, DynamoDB at `endpoint_url`, REDIS_URL
    when settings has one, ready once its health check answers (cruddur.local.serving)."""
    with served_api(
        replace(settings, dynamodb_endpoint_url=endpoint_url),
        postgres_url,
        data_dir,
        workers=SERVE_WORKERS,
        threads=SERVE_THREADS,
        log_name=log_name,
        ready=health_ok,
    ) as served:
        yield served.base_url


def health_ok(base_url: str) -> bool:
    if not port_open(urlsplit(base_url).port or 0):
        return False
    conn = counted_connection(base_url)
    try:
        status, _, _ = conn.call("GET", "/api/health-check", None, None)
    except (http.client.HTTPException, OSError):
        return False
    finally:
        conn.close()
    return status == 200


class Tally:
    """Requests the running API server answered, by kind (thread-safe)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.counts: Counter[str] = Counter()

    def add(self, kind: str) -> None:
        with self.lock:
            self.counts[kind] += 1

    def reset(self) -> dict[str, int]:
        with self.lock:
            counted, self.counts = dict(self.counts), Counter()
        return counted


# One API server runs at a time: every request to it is counted here.
API_REQUESTS = Tally()


def count_request(path: str, authenticated: bool) -> None:
    if authenticated:
        API_REQUESTS.add("authenticated")
    else:
        API_REQUESTS.add("sign-in" if path == "/api/auth/token" else "public")


def counted_connection(base_url: str) -> ApiConnection:
    return ApiConnection(base_url, on_answer=count_request)


def one_call(base_url: str, method: str, path: str, body: Any, token: str | None) -> Any:
    return api_client.one_call(base_url, method, path, body, token, on_answer=count_request)


def sign_in(base_url: str, handle: str, password: str) -> str:
    answer = one_call(
        base_url, "POST", "/api/auth/token", {"handle": handle, "password": password}, None
    )
    return str(answer["access_token"])


# --- load -----------------------------------------------------------------------------------------


@dataclass
class Call:
    kind: str  # "send", "list_groups", "list_messages"
    user: str
    method: str
    path: str
    body: Any = None


def send_call(user: str, group: str, text: str) -> Call:
    return Call(
        "send", user, "POST", "/api/messages", {"message": text, "message_group_uuid": group}
    )


def read_calls(group: str, count: int) -> list[Call]:
    calls = []
    for j in range(count):
        user = HANDLES[j % 2]
        if (j // 2) % 2 == 0:
            calls.append(Call("list_groups", user, "GET", "/api/message_groups"))
        else:
            calls.append(Call("list_messages", user, "GET", f"/api/messages/{group}"))
    return calls


@dataclass
class Load:
    seconds: float = 0.0
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    statuses: Counter[str] = field(default_factory=Counter)
    sent_sks: list[str] = field(default_factory=list)
    last_answer_at: float = 0.0

    @property
    def failures(self) -> int:
        return sum(n for k, n in self.statuses.items() if not k.endswith(" 200"))


def run_api(base_url: str, tokens: dict[str, str], units: list[list[Call]], clients: int) -> Load:
    load = Load()
    lock = threading.Lock()

    def do_unit(conn: ApiConnection, index: int) -> None:
        for call in units[index]:
            status, body, seconds = conn.call(call.method, call.path, call.body, tokens[call.user])
            with lock:
                load.statuses[f"{call.kind} {status}"] += 1
                if status == 200:
                    load.latencies[call.kind].append(seconds)
                if call.kind == "send":
                    load.last_answer_at = time.monotonic()
                    if status == 200:
                        load.sent_sks.append(keys.message_sk(body["created_at"], body["uuid"]))

    load.seconds = run_threads(clients, len(units), lambda: counted_connection(base_url), do_unit)
    return load


# --- the table and the worker ---------------------------------------------------------------------


def newest_message_sk(client: Any, table: str, group: str) -> str:
    items = client.query(
        TableName=table,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": keys.message_pk(group)}},
        ProjectionExpression="sk",
        ScanIndexForward=False,
        Limit=1,
        ConsistentRead=True,
    )["Items"]
    return str(items[0]["sk"]["S"]) if items else ""


def shown_sk(client: Any, table: str, group: str, members: list[str]) -> str:
    """The oldest message any member's conversation row of the group shows ("" when one has
    none)."""
    lowest: str | None = None
    for member in members:
        items = client.query(
            TableName=table,
            KeyConditionExpression="pk = :pk",
            FilterExpression="message_group_uuid = :g",
            ExpressionAttributeValues={
                ":pk": {"S": keys.conversation_pk(member)},
                ":g": {"S": group},
            },
            ConsistentRead=True,
        )["Items"]
        shown = max((str(i.get("last_message_sk", {}).get("S", "")) for i in items), default="")
        lowest = shown if lowest is None else min(lowest, shown)
    return lowest or ""


def wait_idle(worker: StreamWorker, quiet_seconds: float) -> None:
    """Until the worker has read nothing new for `quiet_seconds` (bounded)."""
    deadline = time.monotonic() + DEADLINE_SECONDS
    last, since = worker.records_seen, time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.02)
        if worker.records_seen != last:
            last, since = worker.records_seen, time.monotonic()
        elif time.monotonic() - since >= quiet_seconds:
            return


def wait_rows_current(
    client: Any, table: str, group: str, members: list[str], worker: StreamWorker
) -> float | None:
    """Until both conversation rows show the group's newest message and the worker is idle;
    seconds waited for the rows (None: not within the deadline)."""
    started = time.monotonic()
    deadline = started + DEADLINE_SECONDS
    waited = None
    target = newest_message_sk(client, table, group)
    while time.monotonic() < deadline:
        if shown_sk(client, table, group, members) >= target:
            waited = time.monotonic() - started
            break
        time.sleep(POLL_SECONDS)
    wait_idle(worker, quiet_seconds=0.4)
    return waited


@dataclass
class WorkerRun:
    worker: StreamWorker
    meter: CapacityMeter
    thread: threading.Thread
    stop: threading.Event

    def figures(self) -> dict[str, Any]:
        return {
            "read_units": self.meter.read_units,
            "write_units": self.meter.write_units,
            "calls": dict(self.meter.calls),
        }


@contextmanager
def running_worker(settings: Settings) -> Iterator[WorkerRun]:
    stop = threading.Event()
    worker = stream_worker(settings, WorkerConfig(), stop)
    worker.checkpoints.acquire()
    # with a cache the worker's repository is a CachedMessageRepository around the table's
    repo: Any = worker.repo
    client = repo.inner.client if hasattr(repo, "inner") else repo.client
    meter = CapacityMeter().attach(client)
    thread = threading.Thread(target=worker.run, daemon=True, name="stream-worker")
    thread.start()
    try:
        yield WorkerRun(worker, meter, thread, stop)
    finally:
        stop.set()
        thread.join(timeout=15)
        meter.detach(client)
        worker.checkpoints.release()


# --- the phases -----------------------------------------------------------------------------------


@dataclass
class Context:
    engines: Engines
    settings: Settings
    counts: Counts
    client: Any  # straight to DynamoDB Local: the bench's own reads, not counted
    api_dir: Path
    group: str
    members: list[str]
    worker: WorkerRun
    tokens: dict[str, str] = field(default_factory=dict)

    def settle(self) -> float | None:
        return wait_rows_current(
            self.client, self.settings.table_name, self.group, self.members, self.worker.worker
        )


def counters_before(ctx: Context, proxy: bool = True) -> dict[str, Any]:
    ctx.settle()
    if proxy:
        ctx.engines.proxy.reset()
    ctx.worker.meter.reset()
    return {"redis": redis_calls(ctx.engines.redis_url)}


def counters_after(ctx: Context, before: dict[str, Any], proxy: bool = True) -> dict[str, Any]:
    figures: dict[str, Any] = {}
    if proxy:
        figures["dynamodb_api"] = ctx.engines.proxy.counts()
    figures["dynamodb_worker"] = ctx.worker.figures()
    calls = redis_calls(ctx.engines.redis_url) - before["redis"]
    calls.pop("info", None)  # the bench's own
    figures["redis_calls"] = dict(sorted(calls.items()))
    figures["redis_commands"] = sum(calls.values())
    return figures


def units(counts: dict[str, Any], match: Callable[[str], bool] = lambda _: True) -> dict[str, Any]:
    chosen = {k: v for k, v in counts["calls"].items() if match(k)}
    return {
        "calls": sum(v["calls"] for v in chosen.values()),
        "read_units": sum(v["read_units"] for v in chosen.values()),
        "write_units": sum(v["write_units"] for v in chosen.values()),
    }


def phase_mix(ctx: Context, base_url: str) -> dict[str, Any]:
    c = ctx.counts
    reads = c.reads_per_send

    def unit(i: int, tag: str) -> list[Call]:
        return [send_call(HANDLES[i % 2], ctx.group, f"{tag} {i}"), *read_calls(ctx.group, reads)]

    run_api(base_url, ctx.tokens, [unit(i, "warm-up") for i in range(c.warmup)], c.mix_clients)
    before = counters_before(ctx)
    load = run_api(
        base_url, ctx.tokens, [unit(i, "mix") for i in range(c.mix_sends)], c.mix_clients
    )
    figures = counters_after(ctx, before)
    api = figures["dynamodb_api"]
    total = units(api)
    read_requests = c.mix_sends * reads
    calls = {k: v["calls"] for k, v in api["calls"].items()}
    gets = {kind: len(load.latencies[kind]) for kind in ("list_groups", "list_messages")}
    return {
        "sends": c.mix_sends,
        "read_requests": read_requests,
        "clients": c.mix_clients,
        "seconds": round(load.seconds, 3),
        "requests_per_second": round((c.mix_sends + read_requests) / load.seconds, 1),
        "dynamodb": {
            **total,
            "read_units_per_read_request": total["read_units"] / read_requests,
            "read_units_per_request": total["read_units"] / (read_requests + c.mix_sends),
            "write_units_per_send": total["write_units"] / c.mix_sends,
            # how often a GET still reached the table (cache misses, or every time without one)
            "message_page_queries_per_list_messages": sum(
                n for k, n in calls.items() if k.startswith("Query MSG#")
            )
            / max(1, gets["list_messages"]),
            "conversation_queries_per_list_groups": sum(
                n for k, n in calls.items() if k.startswith("Query GRP#")
            )
            / max(1, gets["list_groups"]),
            "membership_reads_per_membership_check": sum(
                n for k, n in calls.items() if k.startswith("GetItem GROUP#/MEMBER#")
            )
            / max(1, gets["list_messages"] + c.mix_sends),
        },
        "latency_ms": {kind: latency_ms(v) for kind, v in sorted(load.latencies.items())},
        "statuses": dict(load.statuses),
        **figures,
    }


def phase_burst(ctx: Context, base_url: str) -> dict[str, Any]:
    c = ctx.counts

    def sends(n: int, tag: str) -> list[list[Call]]:
        return [[send_call(HANDLES[i % 2], ctx.group, f"{tag} {i}")] for i in range(n)]

    run_api(base_url, ctx.tokens, sends(c.warmup, "warm-up"), c.burst_clients)
    before = counters_before(ctx)
    batches_before = ctx.worker.worker.batches
    load = run_api(base_url, ctx.tokens, sends(c.burst_sends, "burst"), c.burst_clients)
    last = max(load.sent_sks, default="")
    converged = None
    deadline = time.monotonic() + DEADLINE_SECONDS
    while time.monotonic() < deadline:
        if shown_sk(ctx.client, ctx.settings.table_name, ctx.group, ctx.members) >= last:
            converged = time.monotonic() - load.last_answer_at
            break
        time.sleep(POLL_SECONDS)
    wait_idle(ctx.worker.worker, quiet_seconds=0.4)
    batches = ctx.worker.worker.batches - batches_before
    figures = counters_after(ctx, before)
    api = units(figures["dynamodb_api"])
    worker = figures["dynamodb_worker"]
    n = c.burst_sends
    per_message = {
        "api_read": api["read_units"] / n,
        "api_write": api["write_units"] / n,
        "worker_read": worker["read_units"] / n,
        "worker_write": worker["write_units"] / n,
    }
    per_message["reads"] = per_message["api_read"] + per_message["worker_read"]
    per_message["writes"] = per_message["api_write"] + per_message["worker_write"]
    per_message["total"] = per_message["reads"] + per_message["writes"]
    return {
        "sends": n,
        "clients": c.burst_clients,
        "seconds": round(load.seconds, 3),
        "rows_current_after_last_answer_seconds": None if converged is None else converged,
        "worker_batches": batches,
        "units_per_message": per_message,
        "latency_ms": {kind: latency_ms(v) for kind, v in sorted(load.latencies.items())},
        "statuses": dict(load.statuses),
        **figures,
    }


# --- one mode -------------------------------------------------------------------------------------


@contextmanager
def api_server(
    ctx: Context, endpoint_url: str, log_name: str, figures: dict[str, Any]
) -> Iterator[str]:
    """A `cruddur serve` of one phase's own. Once it has stopped (its sessions ended, so
    PostgreSQL has flushed their counts), `figures["postgres"]` gets the PostgreSQL counters of its
    whole life, start-up and warm-up included, beside the requests it answered."""
    engines = ctx.engines
    before = engines.pg.snapshot()
    API_REQUESTS.reset()
    with serving(
        ctx.settings, endpoint_url, engines.postgres_url, ctx.api_dir, log_name
    ) as base_url:
        yield base_url
    requests = API_REQUESTS.reset()
    delta = engines.pg.delta(before, engines.pg.snapshot())
    figures["postgres"] = {
        **delta,
        "api_requests": requests,
        "users_scans_per_authenticated_request": delta["users_scans"]
        / max(1, requests.get("authenticated", 0)),
    }


def run_mode(engines: Engines, mode: str, counts: Counts, burst: bool = True) -> dict[str, Any]:
    cached = mode == "cache"
    slug = "cache" if cached else "nocache"
    table = f"bench-cache-{slug}-{uuid.uuid4().hex[:8]}"
    settings = Settings(
        table_name=table,
        dynamodb_endpoint_url=engines.dynamodb_url,
        dynamodb_streams_endpoint_url=engines.dynamodb_url,
        redis_url=engines.redis_url if cached else None,
        data_dir=engines.tmp / f"worker-{slug}",
    )
    client = dynamodb_client(settings)
    started = time.monotonic()
    schema.create_table(client, table)
    try:
        with running_worker(settings) as worker:
            ctx = Context(
                engines=engines,
                settings=settings,
                counts=counts,
                client=client,
                api_dir=engines.tmp / f"api-{slug}",  # one signing key for the mode's servers
                group="",
                members=[demo_user_uuid(h) for h in HANDLES],
                worker=worker,
            )
            result: dict[str, Any] = {"table": table}
            pg: dict[str, Any] = {}
            with api_server(ctx, engines.proxy.url, "gunicorn-1.log", pg) as base_url:
                ctx.tokens = {h: sign_in(base_url, h, engines.password) for h in HANDLES}
                opened = one_call(
                    base_url,
                    "POST",
                    "/api/messages",
                    {"message": "hello", "handle": "bob"},
                    ctx.tokens["alice"],
                )
                ctx.group = str(opened["message_group_uuid"])
                print(f"[{mode}] phase 1: read-heavy mix", file=sys.stderr, flush=True)
                result["read_mix"] = phase_mix(ctx, base_url)
            result["read_mix"].update(pg)
            if burst:
                with api_server(ctx, engines.proxy.url, "gunicorn-2.log", pg) as base_url:
                    print(f"[{mode}] phase 2: send burst", file=sys.stderr, flush=True)
                    result["send_burst"] = phase_burst(ctx, base_url)
                result["send_burst"].update(pg)
            result["seconds"] = round(time.monotonic() - started, 1)
            return result
    finally:
        try:
            client.delete_table(TableName=table)
        finally:
            deleted = forget_table_keys(engines.redis_url, table)
            if deleted:
                print(f"[{mode}] deleted {deleted} Redis keys of {table}", file=sys.stderr)


# --- output ---------------------------------------------------------------------------------------


def fmt(value: Any, digits: int = 2) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def print_table(title: str, rows: list[tuple[str, str, str]]) -> None:
    width = max(len(r[0]) for r in rows) + 2
    print()
    print(title)
    header = f"{'':<{width}}{MODES[0]:>16}{MODES[1]:>16}"
    print(header)
    print("-" * len(header))
    for label, a, b in rows:
        print(f"{label:<{width}}{a:>16}{b:>16}")


def print_calls(title: str, a: dict[str, Any], b: dict[str, Any]) -> None:
    labels = sorted(set(a["calls"]) | set(b["calls"]))
    if not labels:
        return
    width = max(len(label) for label in [*labels, title]) + 2
    print()
    print(f"{title:<{width}}{MODES[0]:>26}  |{MODES[1]:>26}")
    print(f"{'':<{width}}{'calls':>8}{'RCU':>9}{'WCU':>9}  |{'calls':>8}{'RCU':>9}{'WCU':>9}")
    empty = {"calls": 0, "read_units": 0.0, "write_units": 0.0}
    for label in labels:
        x, y = a["calls"].get(label, empty), b["calls"].get(label, empty)
        print(
            f"{label:<{width}}{x['calls']:>8}{x['read_units']:>9.1f}{x['write_units']:>9.1f}  |"
            f"{y['calls']:>8}{y['read_units']:>9.1f}{y['write_units']:>9.1f}"
        )


def pg_rows(a: dict[str, Any], b: dict[str, Any]) -> list[tuple[str, str, str]]:
    pa, pb = a["postgres"], b["postgres"]

    def requests(p: dict[str, Any]) -> str:
        return str(sum(p["api_requests"].values()))

    return [
        ("API requests (server's life, warm-up incl.)", requests(pa), requests(pb)),
        ("PostgreSQL users scans (seq+idx)", fmt(pa["users_scans"]), fmt(pb["users_scans"])),
        (
            "  per authenticated request",
            fmt(pa["users_scans_per_authenticated_request"], 3),
            fmt(pb["users_scans_per_authenticated_request"], 3),
        ),
        ("PostgreSQL users rows read", fmt(pa["users_rows"]), fmt(pb["users_rows"])),
        ("PostgreSQL transactions (xact_commit)", fmt(pa["xact_commit"]), fmt(pb["xact_commit"])),
        (
            "PostgreSQL rows returned+fetched (whole db)",
            fmt(pa["tup_returned"] + pa["tup_fetched"]),
            fmt(pb["tup_returned"] + pb["tup_fetched"]),
        ),
        *(
            (f"Redis {label} (measured part)", redis_count(a, name), redis_count(b, name))
            for name, label in REDIS_ROWS
        ),
    ]


def redis_count(result: dict[str, Any], command: str) -> str:
    return str(result["redis_calls"].get(command, 0))


def print_redis(a: dict[str, Any], b: dict[str, Any]) -> None:
    for mode, result in zip(MODES, (a, b), strict=True):
        calls = result["redis_calls"]
        if calls:
            listed = ", ".join(f"{name} {n}" for name, n in calls.items())
            print(f"   Redis calls ({mode}): {listed}")


def lat(result: dict[str, Any], kind: str) -> str:
    figures = result["latency_ms"].get(kind)
    if not figures:
        return "-"
    return f"{figures['p50']:.1f} / {figures['p99']:.1f}"


def failures(result: dict[str, Any]) -> str:
    return str(sum(n for k, n in result["statuses"].items() if not k.endswith(" 200")))


def report_burst(a: dict[str, Any], b: dict[str, Any]) -> None:
    s1, s2 = a["send_burst"], b["send_burst"]
    u1, u2 = s1["units_per_message"], s2["units_per_message"]
    print_table(
        f"2. send burst: {s1['sends']} sends into the group, {s1['clients']} clients, worker running",
        [
            ("burst sent in (s)", fmt(s1["seconds"]), fmt(s2["seconds"])),
            ("POST messages p50 / p99 (ms)", lat(s1, "send"), lat(s2, "send")),
            (
                "rows current after last answer (s)",
                fmt(s1["rows_current_after_last_answer_seconds"]),
                fmt(s2["rows_current_after_last_answer_seconds"]),
            ),
            (
                "worker batches (incl. its row records)",
                fmt(s1["worker_batches"]),
                fmt(s2["worker_batches"]),
            ),
            ("units/message API reads", fmt(u1["api_read"]), fmt(u2["api_read"])),
            ("units/message API writes", fmt(u1["api_write"]), fmt(u2["api_write"])),
            ("units/message worker reads", fmt(u1["worker_read"]), fmt(u2["worker_read"])),
            ("units/message worker writes", fmt(u1["worker_write"]), fmt(u2["worker_write"])),
            ("units/message reads", fmt(u1["reads"]), fmt(u2["reads"])),
            ("units/message writes", fmt(u1["writes"]), fmt(u2["writes"])),
            ("units/message total", fmt(u1["total"]), fmt(u2["total"])),
            *pg_rows(s1, s2),
            ("non-200 answers", failures(s1), failures(s2)),
        ],
    )
    print_calls(
        "   DynamoDB calls of the API (proxy), by row kind",
        s1["dynamodb_api"],
        s2["dynamodb_api"],
    )
    w1, w2 = s1["dynamodb_worker"]["calls"], s2["dynamodb_worker"]["calls"]
    print(
        "   worker calls: "
        + "; ".join(
            f"{mode}: " + ", ".join(f"{k} {v}" for k, v in sorted(w.items()))
            for mode, w in zip(MODES, (w1, w2), strict=True)
        )
    )

    print_redis(s1, s2)


def report(results: dict[str, Any]) -> None:
    config = results["config"]
    a, b = results["modes"][MODES[0]], results["modes"][MODES[1]]
    print(
        f"cruddur serve {config['serve_workers']} workers x {config['serve_threads']} threads; "
        f"stream worker in process (poll {config['worker_poll_seconds']}s, batch "
        f"{config['worker_batch_size']}); DynamoDB Local in memory; PostgreSQL: "
        f"{config['postgres']}; Redis: {config['redis']}; units priced as AWS charges; "
        f"load average (1/5/15 min) at start {config['load_average_at_start']}, at end "
        f"{config['load_average_at_end']}"
    )

    m1, m2 = a["read_mix"], b["read_mix"]
    d1, d2 = m1["dynamodb"], m2["dynamodb"]
    print_table(
        f"1. read-heavy mix: {m1['sends']} sends + {m1['read_requests']} reads "
        f"(10 conversation lists + 10 message pages per send), {m1['clients']} clients",
        [
            ("wall time (s)", fmt(m1["seconds"], 1), fmt(m2["seconds"], 1)),
            ("requests/s", fmt(m1["requests_per_second"], 1), fmt(m2["requests_per_second"], 1)),
            (
                "DynamoDB read units (API, total)",
                fmt(d1["read_units"], 1),
                fmt(d2["read_units"], 1),
            ),
            (
                "  per read request",
                fmt(d1["read_units_per_read_request"], 3),
                fmt(d2["read_units_per_read_request"], 3),
            ),
            (
                "DynamoDB write units per send",
                fmt(d1["write_units_per_send"]),
                fmt(d2["write_units_per_send"]),
            ),
            (
                "MSG# queries per GET messages",
                fmt(d1["message_page_queries_per_list_messages"], 3),
                fmt(d2["message_page_queries_per_list_messages"], 3),
            ),
            (
                "GRP# queries per GET message_groups",
                fmt(d1["conversation_queries_per_list_groups"], 3),
                fmt(d2["conversation_queries_per_list_groups"], 3),
            ),
            (
                "membership GetItems per check",
                fmt(d1["membership_reads_per_membership_check"], 3),
                fmt(d2["membership_reads_per_membership_check"], 3),
            ),
            ("GET message_groups p50 / p99 (ms)", lat(m1, "list_groups"), lat(m2, "list_groups")),
            (
                "GET messages/{uuid} p50 / p99 (ms)",
                lat(m1, "list_messages"),
                lat(m2, "list_messages"),
            ),
            ("POST messages p50 / p99 (ms)", lat(m1, "send"), lat(m2, "send")),
            *pg_rows(m1, m2),
            ("non-200 answers", failures(m1), failures(m2)),
        ],
    )
    print_calls(
        "   DynamoDB calls of the API (proxy), by row kind",
        m1["dynamodb_api"],
        m2["dynamodb_api"],
    )

    print_redis(m1, m2)

    if "send_burst" in a:
        report_burst(a, b)

    print()
    print(
        f"whole run {results['seconds']:.0f} s (modes {a['seconds']:.0f} s and {b['seconds']:.0f} s); "
        "PostgreSQL: the phase's server's whole life, minus the bench's own stats query; "
        "Redis: every client's commands but the bench's own INFO"
    )


# --- main -----------------------------------------------------------------------------------------


def interrupt_on_sigterm() -> None:
    def handler(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, handler)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="half the counts")
    parser.add_argument(
        "--reads-only", action="store_true", help="phase 1 only (the reads of `make bench`)"
    )
    parser.add_argument(
        "--sends", type=int, default=None, help="sends of the read-heavy mix (20 reads each)"
    )
    parser.add_argument("--json", metavar="PATH", help="also write the figures as JSON here")
    args = parser.parse_args(argv)
    counts = Counts().halved() if args.quick else Counts()
    if args.sends:
        counts = replace(counts, mix_sends=args.sends)
    load_average = [round(x, 2) for x in os.getloadavg()]
    interrupt_on_sigterm()
    started = time.monotonic()
    results: dict[str, Any] = {}
    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="cruddur-bench-cache-")))
        print("starting DynamoDB Local, PostgreSQL, Redis ...", file=sys.stderr, flush=True)
        engine = DynamoDBLocal(project_root(), tmp / "dynamodb", port=free_port(), in_memory=True)
        engine.start()
        stack.callback(engine.stop)
        proxy = stack.enter_context(counting_proxy(engine.port))
        server_url, postgres_where = stack.enter_context(postgres_server())
        password = f"bench-{uuid.uuid4().hex}"
        db_url = stack.enter_context(users_database(server_url, password, HANDLES, "bench_cache"))
        pg = PostgresCounters(server_url, db_url)
        stack.callback(pg.close)
        redis_url, redis_where = stack.enter_context(redis_server(tmp))
        engines = Engines(
            tmp=tmp,
            dynamodb_port=engine.port,
            proxy=proxy,
            postgres_server=server_url,
            postgres_url=db_url,
            postgres_where=postgres_where,
            redis_url=redis_url,
            redis_where=redis_where,
            password=password,
            pg=pg,
        )
        defaults = WorkerConfig()
        results = {
            "config": {
                "quick": args.quick,
                "reads_only": args.reads_only,
                "counts": asdict(counts),
                "serve_workers": SERVE_WORKERS,
                "serve_threads": SERVE_THREADS,
                "worker_poll_seconds": defaults.poll_interval_seconds,
                "worker_batch_size": defaults.batch_size,
                "postgres": postgres_where,
                "redis": redis_where,
                "postgres_stats_overhead_subtracted": pg.overhead,
                "load_average_at_start": load_average,
            },
            "modes": {},
        }
        for mode in MODES:
            results["modes"][mode] = run_mode(engines, mode, counts, burst=not args.reads_only)
    results["seconds"] = round(time.monotonic() - started, 1)
    results["config"]["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    report(results)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2, sort_keys=False) + "\n")
        print(f"figures written to {args.json}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:  # Ctrl-C or SIGTERM, after everything was cleaned up
        print("interrupted: engines, servers, database and temp files cleaned up", file=sys.stderr)
        sys.exit(130)
