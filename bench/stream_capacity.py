"""Stream processor figures: capacity units per message and freshness, ours beside the seed's way.

    .venv/bin/python bench/stream_capacity.py [--quick] [--sizes 2,5,40] [--bursts 1,100]

Starts its own in-memory DynamoDB Local on a free port. For a 1:1 group and a 5-member group (or
the `--sizes` given, up to 40 members), at bursts of 1, 10 and 100 messages (or `--bursts`), with the local worker running before and during the burst at its
default settings (`WorkerConfig()`):
  * units/message = the message's own write + all stream work (every read and write the worker
    makes), priced as AWS prices them (`CapacityMeter`: transactions priced per action, refused
    conditional writes counted); DynamoDB Streams GetRecords calls are free for a Lambda trigger
    and not capacity units, so they are not counted;
  * the baseline applies each message record on its own the seed's way (GSI query, then delete +
    put per member), on the same burst, after our worker is done;
  * freshness = time from a send's return to every member's conversation row showing that
    message (or a newer one), read from the base table every few milliseconds.
Prints figures; asserts nothing. Bounded: about a minute.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
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
# A burst is messages sent as fast as several clients can (a busy group chat, a reconnecting
# client flushing its outbox), not one after another from a single thread.
SENDERS = 8


def person(handle: str) -> UserRef:
    return UserRef(demo_user_uuid(handle), handle, handle.title())


PEOPLE = [person(h) for h in ("andrewbrown", "bayko", "carol", "dave", "erin")] + [
    person(f"member{i:02d}") for i in range(35)
]  # up to the largest group (40 members)


@dataclass
class Figures:
    group: str
    burst: int
    ours_units: float
    baseline_units: float
    stream_calls: dict[str, int]
    freshness: list[float]
    burst_seconds: float
    batches: int


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


def run_scenario(base: Settings, group_size: int, burst: int) -> Figures:
    table = f"bench-{group_size}-{burst}-{time.monotonic_ns() % 10**9}"
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
        worker = stream_worker(settings, WorkerConfig(), stop)
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

        records = message_records_since(settings, before_seq)
        baseline_meter = CapacityMeter().attach(client)
        for record in records:
            seed_way(client, table, record)
        baseline_meter.detach(client)
        baseline = (sender_meter.total + baseline_meter.total) / burst
        return Figures(
            group="1:1" if group_size == 2 else f"{group_size} members",
            burst=burst,
            ours_units=ours,
            baseline_units=baseline,
            stream_calls=calls,
            freshness=list(watcher.latencies),
            burst_seconds=burst_seconds,
            batches=batches,
        )
    finally:
        client.delete_table(TableName=table)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="bursts of 1 and 10 only")
    parser.add_argument(
        "--sizes", default="2,5", help="group sizes, comma-separated (2 = 1:1; at most 40)"
    )
    parser.add_argument("--bursts", default=None, help="burst sizes, comma-separated")
    args = parser.parse_args(argv)
    bursts = BURSTS[:2] if args.quick else BURSTS
    if args.bursts:
        bursts = tuple(int(b) for b in args.bursts.split(","))
    sizes = [int(s) for s in args.sizes.split(",")]
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
        finally:
            engine.stop()
    defaults = WorkerConfig()
    print(
        f"worker defaults: poll {defaults.poll_interval_seconds}s, batch {defaults.batch_size}, "
        f"{defaults.parallel_groups} groups in parallel; DynamoDB Local, AWS prices"
    )
    header = (
        f"{'group':<11}{'burst':>6}{'sent in':>9}{'polls':>8}{'ours u/msg':>12}"
        f"{'seed u/msg':>12}{'fresh p50':>11}{'fresh p99':>11}  stream calls (ours)"
    )
    print(header)
    print("-" * len(header))
    for r in results:
        calls = ", ".join(f"{k} {v}" for k, v in sorted(r.stream_calls.items()))
        print(
            f"{r.group:<11}{r.burst:>6}{r.burst_seconds * 1000:>7.0f}ms{r.batches:>8}"
            f"{r.ours_units:>12.2f}{r.baseline_units:>12.2f}"
            f"{percentile(r.freshness, 50) * 1000:>9.0f}ms{percentile(r.freshness, 99) * 1000:>9.0f}ms"
            f"  {calls}"
        )
    every = [x for r in results for x in r.freshness]
    print(
        f"freshness over all {len(every)} messages: p50 {percentile(every, 50) * 1000:.0f} ms, "
        f"p99 {percentile(every, 99) * 1000:.0f} ms"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
