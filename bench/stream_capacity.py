"""Stream processor figures: capacity units per message and freshness, ours beside the seed's way.

    .venv/bin/python bench/stream_capacity.py [--quick] [--sizes 2,5,40] [--bursts 1,10,100]
        [--windows [0,0.01,0.025,0.05,0.1,0.2,0.25]] [--idle 0.1] [--json PATH]

Starts its own in-memory DynamoDB Local on a free port. For groups of 2 (1:1), 5 and 40 members
(or the `--sizes` given), at bursts of 1, 10 and 100 messages (or `--bursts`) sent by 4 concurrent
senders, with the local worker running before and during the burst at its default settings
(`WorkerConfig()`):
  * units/message = the message's own write + all stream work (every read and write the worker
    makes), priced as AWS prices them (`CapacityMeter`: transactions priced per action, refused
    conditional writes counted); DynamoDB Streams GetRecords calls are free for a Lambda trigger
    and not capacity units, so they are not counted;
  * the baseline applies each message record on its own the seed's way (GSI query, then delete +
    put per member), on the same burst, after our worker is done (3 of its records: each costs
    the same, to the unit);
  * freshness = time from a send's return to every member's conversation row showing that
    message (or a newer one), read from the base table every few milliseconds;
  * moves = the polls that moved the group's rows (each pays one index query and one move per
    member: what coalescing saves).
Then the freshness of lone 1:1 messages a few hundred ms apart, and, with `--windows`, the
trade-off of the worker's batch window: for each window, a burst of 100 into a 1:1 group
(units/message, freshness) and lone messages (freshness). `--json PATH` writes every row as JSON
(for the `make bench` harness). Prints figures; asserts nothing. Bounded: about a minute with the
defaults on an idle 2-core machine (`--quick`: half that; `--windows` adds about 15 s a window).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from cruddur.aws import dynamodb_client, dynamodb_streams_client
from cruddur.bootstrap import stream_worker
from cruddur.config import Settings, project_root
from cruddur.local.dynamodb import DynamoDBLocal
from cruddur.local.processes import free_port
from cruddur.messaging import keys, schema
from cruddur.messaging.capacity import CapacityMeter
from cruddur.messaging.fake import StaticUserDirectory
from cruddur.messaging.models import Message, UserRef
from cruddur.messaging.repository import DynamoMessageRepository
from cruddur.messaging.services import MessagingService, new_message
from cruddur.streams.records import decode_message
from cruddur.streams.shards import read_all_records
from cruddur.streams.worker import StreamWorker, WorkerConfig
from cruddur.users.models import demo_user_uuid

BURSTS = (1, 10, 100)
DEADLINE_SECONDS = 30.0
WATCH_INTERVAL_SECONDS = 0.01
WINDOWS = (0.0, 0.01, 0.025, 0.05, 0.1, 0.2, 0.25)  # the curve of docs/performance.md
# records of a burst applied the seed's way: each costs the same, and at 40 members each is 81
# sequential calls, the longest part of those scenarios on a loaded machine
BASELINE_SAMPLE = 3
# A burst is messages sent as fast as several clients can (a busy group chat, a reconnecting
# client flushing its outbox), not one after another from a single thread.
SENDERS = 4
# Lone messages for the freshness figure: this many, one at a time, a random pause apart (so a
# send lands anywhere in the worker's idle poll interval).
LONE_MESSAGES = 30
LONE_PAUSE_SECONDS = (0.1, 0.4)


def person(handle: str) -> UserRef:
    return UserRef(demo_user_uuid(handle), handle, handle.title())


PEOPLE = [person(h) for h in ("andrewbrown", "bayko", "carol", "dave", "erin")] + [
    person(f"member{i:02d}") for i in range(35)
]  # up to the largest group (40 members)


@dataclass
class Figures:
    group: str
    members: int
    burst: int
    ours_units: float
    baseline_units: float
    stream_calls: dict[str, int]
    freshness: list[float] = field(repr=False)
    burst_seconds: float
    batches: int
    window_seconds: float
    idle_poll_seconds: float

    def row(self) -> dict[str, Any]:
        """The JSON row: figures rounded, freshness as percentiles (milliseconds)."""
        data = asdict(self)
        data.pop("freshness")
        data["ours_units"] = round(self.ours_units, 3)
        data["baseline_units"] = round(self.baseline_units, 3)
        data["burst_seconds"] = round(self.burst_seconds, 3)
        data["freshness_p50_ms"] = round(percentile(self.freshness, 50) * 1000, 1)
        data["freshness_p99_ms"] = round(percentile(self.freshness, 99) * 1000, 1)
        data["freshness_samples"] = len(self.freshness)
        data["polls_moving_rows"] = self.polls_moving_rows
        return data

    @property
    def polls_moving_rows(self) -> int:
        """Polls that moved this group's rows: each starts with one index query."""
        return self.stream_calls.get("Query", 0)


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[index]


class Watcher(threading.Thread):
    """Reads every member's conversation row for the group (consistent, base table, its own
    client: not metered) and notes when each sent message is shown by all of them."""

    def __init__(self, client: Any, table: str, group: str, members: list[str]) -> None:
        super().__init__(daemon=True)
        self.client, self.table, self.group, self.members = client, table, group, members
        self.pending: list[tuple[Message, float]] = []
        self.latencies: list[float] = []
        self.lock = threading.Lock()
        self.stop = threading.Event()

    def sent(self, message: Message, at: float) -> None:
        with self.lock:
            self.pending.append((message, at))

    def shown_up_to(self) -> str:
        lowest = None
        for member in self.members:
            items = self.client.query(
                TableName=self.table,
                KeyConditionExpression="pk = :pk",
                FilterExpression="message_group_uuid = :g",
                ExpressionAttributeValues={
                    ":pk": {"S": keys.conversation_pk(member)},
                    ":g": {"S": self.group},
                },
                ConsistentRead=True,
            )["Items"]
            shown = max((i.get("last_message_sk", {}).get("S", "") for i in items), default="")
            lowest = shown if lowest is None else min(lowest, shown)
        return lowest or ""

    def run(self) -> None:
        while not self.stop.is_set():
            with self.lock:
                waiting = list(self.pending)
            if waiting:
                shown = self.shown_up_to()
                now = time.monotonic()
                with self.lock:
                    still = []
                    for message, at in self.pending:
                        if message.sk <= shown:
                            self.latencies.append(now - at)
                        else:
                            still.append((message, at))
                    self.pending = still
            self.stop.wait(WATCH_INTERVAL_SECONDS)

    def drained(self) -> bool:
        with self.lock:
            return not self.pending


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


def message_records_since(settings: Settings, after: int) -> list[dict[str, Any]]:
    arn = schema.stream_arn(dynamodb_client(settings), settings.table_name)
    return [
        r
        for r in read_all_records(dynamodb_streams_client(settings), arn)
        if int(r["dynamodb"]["SequenceNumber"]) > after and decode_message(r) is not None
    ]


def seed_way(client: Any, table: str, record: dict[str, Any]) -> None:
    """The seed's Lambda, one record at a time: GSI query, then delete + put of every row."""
    decoded = decode_message(record)
    assert decoded is not None
    message = decoded.message
    rows = client.query(
        TableName=table,
        IndexName=keys.GROUP_INDEX,
        KeyConditionExpression="message_group_uuid = :g",
        ExpressionAttributeValues={":g": {"S": message.group_uuid}},
    )["Items"]
    for row in rows:
        client.delete_item(TableName=table, Key={"pk": row["pk"], "sk": row["sk"]})
        moved = dict(row)
        moved["sk"] = {"S": keys.conversation_sk(message.created_at, message.group_uuid)}
        moved["message"] = {"S": message.text}
        client.put_item(TableName=table, Item=moved)


def run_scenario(
    base: Settings,
    group_size: int,
    burst: int,
    config: WorkerConfig | None = None,
    lone: bool = False,
) -> Figures:
    """One group, one burst (or, `lone`, LONE_MESSAGES messages one at a time), the worker at
    `config` (default: `WorkerConfig()`)."""
    config = config or WorkerConfig()
    table = f"bench-{group_size}-{burst}-{uuid.uuid4().hex[:12]}"
    settings = replace(base, table_name=table)
    client = dynamodb_client(settings)
    schema.create_table(client, table)
    try:
        members = PEOPLE[:group_size]
        service = MessagingService(
            DynamoMessageRepository(client, table), StaticUserDirectory(members)
        )
        if group_size == 2:
            group = service.open_conversation_with(members[0], members[1], "hello").group_uuid
        else:
            handles = [m.handle for m in members[1:]]
            group = service.create_group(members[0], "bench", handles, "hello").group.uuid

        stop = threading.Event()
        worker = stream_worker(settings, config, stop)
        worker_meter = CapacityMeter().attach(worker.repo.client)  # type: ignore[attr-defined]
        runner = threading.Thread(target=worker.run, daemon=True)
        runner.start()
        wait_idle(worker, quiet_seconds=0.6)  # the creation's records are done with
        before_seq = max(
            (int(p.sequence_number or 0) for p in worker.checkpoints.shards.values()), default=0
        )
        worker_meter.reset()

        watcher = Watcher(dynamodb_client(settings), table, group, [m.uuid for m in members])
        watcher.start()
        sender_client = dynamodb_client(settings)
        sender_meter = CapacityMeter().attach(sender_client)
        sender = DynamoMessageRepository(sender_client, table)
        batches_before = worker.batches

        def send(i: int) -> Message:
            # the message write alone (membership is the API's cost, counted in the README)
            message = new_message(
                group, members[i % group_size], f"burst {i}", keys.now_timestamp()
            )
            sender.add_message(message)
            watcher.sent(message, time.monotonic())
            return message

        started = time.monotonic()
        if lone:
            pauses = random.Random(group_size * 1000 + burst)
            for i in range(burst):
                send(i)
                time.sleep(pauses.uniform(*LONE_PAUSE_SECONDS))  # spacing the sends, not a sync
        else:
            with ThreadPoolExecutor(max_workers=SENDERS) as pool:
                list(pool.map(send, range(burst)))
        burst_seconds = time.monotonic() - started
        deadline = time.monotonic() + DEADLINE_SECONDS
        while not watcher.drained() and time.monotonic() < deadline:
            time.sleep(0.01)
        wait_idle(worker, quiet_seconds=0.6)
        stop.set()
        runner.join(timeout=10)
        watcher.stop.set()
        watcher.join(timeout=5)
        ours = (sender_meter.total + worker_meter.total) / burst
        batches = worker.batches - batches_before
        calls = dict(worker_meter.calls)

        # the seed's way costs every record the same (one index query, a delete and a put per
        # member of rows of the same size), so a sample of the burst prices it all: a 40-member
        # burst of 100 would otherwise take 8,100 calls
        records = message_records_since(settings, before_seq)[:BASELINE_SAMPLE]
        baseline_meter = CapacityMeter().attach(client)
        for record in records:
            seed_way(client, table, record)
        baseline_meter.detach(client)
        baseline = sender_meter.total / burst + baseline_meter.total / max(1, len(records))
        return Figures(
            group="1:1" if group_size == 2 else f"{group_size} members",
            members=group_size,
            burst=burst,
            ours_units=ours,
            baseline_units=baseline,
            stream_calls=calls,
            freshness=list(watcher.latencies),
            burst_seconds=burst_seconds,
            batches=batches,
            window_seconds=config.batch_window_seconds,
            idle_poll_seconds=config.poll_interval_seconds,
        )
    finally:
        client.delete_table(TableName=table)


def print_capacity(results: list[Figures]) -> None:
    header = (
        f"{'group':<11}{'burst':>6}{'sent in':>9}{'moves':>8}{'ours u/msg':>12}"
        f"{'seed u/msg':>12}{'fresh p50':>11}{'fresh p99':>11}  stream calls (ours)"
    )
    print(header)
    print("-" * len(header))
    for r in results:
        calls = ", ".join(f"{k} {v}" for k, v in sorted(r.stream_calls.items()))
        print(
            f"{r.group:<11}{r.burst:>6}{r.burst_seconds * 1000:>7.0f}ms{r.polls_moving_rows:>8}"
            f"{r.ours_units:>12.2f}{r.baseline_units:>12.2f}"
            f"{percentile(r.freshness, 50) * 1000:>9.0f}ms{percentile(r.freshness, 99) * 1000:>9.0f}ms"
            f"  {calls}"
        )


def print_windows(curve: list[dict[str, Any]]) -> None:
    header = (
        f"{'idle':>6}{'window':>8}{'sent in':>9}{'burst u/msg':>13}{'moves':>7}"
        f"{'burst p50':>11}{'burst p99':>11}"
        f"{'lone p50':>10}{'lone p99':>10}"
    )
    print(header)
    print("-" * len(header))
    for c in curve:
        print(
            f"{c['idle_poll_seconds'] * 1000:>4.0f}ms{c['window_seconds'] * 1000:>6.0f}ms"
            f"{c['burst_seconds'] * 1000:>7.0f}ms{c['burst_units']:>13.2f}{c['burst_polls_moving_rows']:>7}"
            f"{c['burst_p50_ms']:>9.0f}ms{c['burst_p99_ms']:>9.0f}ms"
            f"{c['lone_p50_ms']:>8.0f}ms{c['lone_p99_ms']:>8.0f}ms"
        )


def window_point(base: Settings, window: float, idle: float) -> dict[str, Any]:
    """One point of the trade-off: a 1:1 burst of 100 and lone 1:1 messages at this window."""
    config = replace(WorkerConfig(), batch_window_seconds=window, poll_interval_seconds=idle)
    burst = run_scenario(base, 2, 100, config)
    lone = run_scenario(base, 2, LONE_MESSAGES, config, lone=True)
    return {
        "window_seconds": window,
        "idle_poll_seconds": config.poll_interval_seconds,
        "burst_seconds": round(burst.burst_seconds, 3),
        "burst_units": round(burst.ours_units, 3),
        "burst_batches": burst.batches,
        "burst_polls_moving_rows": burst.polls_moving_rows,
        "burst_p50_ms": round(percentile(burst.freshness, 50) * 1000, 1),
        "burst_p99_ms": round(percentile(burst.freshness, 99) * 1000, 1),
        "lone_units": round(lone.ours_units, 3),
        "lone_p50_ms": round(percentile(lone.freshness, 50) * 1000, 1),
        "lone_p99_ms": round(percentile(lone.freshness, 99) * 1000, 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="bursts of 1 and 10, no 40-member group"
    )
    parser.add_argument(
        "--sizes", default=None, help="group sizes, comma-separated (2 = 1:1; at most 40)"
    )
    parser.add_argument("--bursts", default=None, help="burst sizes, comma-separated")
    parser.add_argument(
        "--windows",
        nargs="?",
        const="",
        default=None,
        help="also the trade-off curve over these batch windows (seconds, comma-separated; "
        "alone: 0,0.01,0.025,0.05,0.1,0.2,0.25)",
    )
    parser.add_argument(
        "--idle",
        type=float,
        default=WorkerConfig().poll_interval_seconds,
        help="the worker's idle poll interval (seconds) for the trade-off curve",
    )
    parser.add_argument("--json", type=Path, default=None, help="also write the rows here")
    args = parser.parse_args(argv)
    bursts = BURSTS[:2] if args.quick else BURSTS
    if args.bursts:
        bursts = tuple(int(b) for b in args.bursts.split(","))
    sizes = [int(s) for s in (args.sizes or ("2,5" if args.quick else "2,5,40")).split(",")]
    # the trade-off curve only when asked: it takes a burst and lone messages per window
    windows: tuple[float, ...] = ()
    if args.windows is not None:
        windows = tuple(float(w) for w in (args.windows or ",".join(map(str, WINDOWS))).split(","))
    defaults = WorkerConfig()
    with tempfile.TemporaryDirectory(prefix="cruddur-bench-") as tmp:
        engine = DynamoDBLocal(project_root(), Path(tmp), port=free_port(), in_memory=True)
        engine.start()
        try:
            base = Settings(
                dynamodb_endpoint_url=engine.endpoint_url,
                dynamodb_streams_endpoint_url=engine.endpoint_url,
                data_dir=Path(tmp) / "data",
            )
            # a first table warms the JVM so the first scenario's figures are not its start-up
            run_scenario(base, 2, 10)
            results = [run_scenario(base, size, burst) for size in sizes for burst in bursts]
            lone = run_scenario(base, 2, LONE_MESSAGES, lone=True)
            curve = [window_point(base, w, args.idle) for w in windows]
        finally:
            engine.stop()
    print(
        f"worker defaults: idle poll {defaults.poll_interval_seconds}s, batch window "
        f"{defaults.batch_window_seconds}s, batch {defaults.batch_size}, "
        f"{defaults.parallel_groups} groups in parallel; {SENDERS} senders; DynamoDB Local, "
        "AWS prices"
    )
    print_capacity(results)
    print(f"load average (1 min) at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print(
        f"freshness of {len(lone.freshness)} lone 1:1 messages: "
        f"p50 {percentile(lone.freshness, 50) * 1000:.0f} ms, "
        f"p99 {percentile(lone.freshness, 99) * 1000:.0f} ms"
    )
    if curve:
        print("\nbatch window trade-off (1:1; burst of 100 from 4 senders; lone messages):")
        print_windows(curve)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        document = {
            "bench": "stream_capacity",
            "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "machine": {
                "platform": platform.platform(),
                "python": platform.python_version(),
                "cpus": os.cpu_count(),
                # other work on the machine skews freshness and burst figures: say how much
                "load_average_1m": round(os.getloadavg()[0], 2),
            },
            "engine": "DynamoDB Local (in memory); units priced as AWS prices them",
            "worker": asdict(defaults),
            "senders": SENDERS,
            "capacity": [r.row() for r in results],
            "freshness": {
                "lone_messages": len(lone.freshness),
                "p50_ms": round(percentile(lone.freshness, 50) * 1000, 1),
                "p99_ms": round(percentile(lone.freshness, 99) * 1000, 1),
            },
            "windows": curve,
        }
        args.json.write_text(json.dumps(document, indent=2) + "\n")
        print(f"rows written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
