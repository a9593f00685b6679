"""The worker reading parents to the end before their children, picking up shards that appear
later (recorded shards, real rows; the pure shard order is in tests/unit/streams)."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from botocore.exceptions import EndpointConnectionError

from cruddur.streams.checkpoints import CheckpointStore, DeadLetterFile
from cruddur.streams.worker import StreamWorker, WorkerConfig
from fixtures_streams import append, assert_rows_at, message_records, poll_until, read_stream
from recorded_streams import ARN, RECORDED_DESCRIBE_STREAM, A, B, C, D


class RecordedStream:
    """A DynamoDB Streams client answering from recorded shards. `records` per shard; a shard with
    an EndingSequenceNumber ends (no NextShardIterator) once read. `listing` is what
    DescribeStream shows, and can grow while the worker runs."""

    def __init__(self, listing: list[dict[str, Any]], records: dict[str, list[dict[str, Any]]]):
        self.listing = listing
        self.records = records
        self.reads: list[str] = []

    def describe_stream(self, StreamArn: str, **_: Any) -> dict[str, Any]:
        return {"StreamDescription": {"StreamArn": StreamArn, "Shards": list(self.listing)}}

    def get_shard_iterator(self, StreamArn: str, ShardId: str, ShardIteratorType: str, **kw: Any):
        position = 0
        if ShardIteratorType == "AFTER_SEQUENCE_NUMBER":
            seqs = [r["dynamodb"]["SequenceNumber"] for r in self.records[ShardId]]
            position = seqs.index(kw["SequenceNumber"]) + 1
        return {"ShardIterator": f"{ShardId}|{position}"}

    def get_records(self, ShardIterator: str, Limit: int) -> dict[str, Any]:
        shard_id, position = ShardIterator.split("|")
        start = int(position)
        batch = self.records[shard_id][start : start + Limit]
        if batch:
            self.reads.append(shard_id)
        end = start + len(batch)
        closed = any(
            s["ShardId"] == shard_id and "EndingSequenceNumber" in s["SequenceNumberRange"]
            for s in self.listing
        )
        answer: dict[str, Any] = {"Records": batch}
        if not (closed and end >= len(self.records[shard_id])):
            answer["NextShardIterator"] = f"{shard_id}|{end}"
        return answer


def renumbered(record: dict[str, Any], number: str) -> dict[str, Any]:
    copy = dict(record)
    copy["dynamodb"] = {**record["dynamodb"], "SequenceNumber": number}
    return copy


def test_the_worker_reads_parents_first_and_picks_up_new_shards(
    repo, settings, groups, alice, bob, tmp_path: Path
):
    group, _ = groups.direct(alice, bob)
    sent = [append(repo, group, (alice, bob)[i % 2], f"m{i}") for i in range(8)]
    real = message_records(read_stream(settings))[1:]  # the 8 appended messages, oldest first
    # forward-only moves make a wrong order invisible in the table: check the reads themselves
    placement = {A: real[0:2], B: real[2:4], C: real[4:6], D: real[6:8]}
    records = {
        shard: [renumbered(r, f"{shard[-8:]}{i:04d}") for i, r in enumerate(rs)]
        for shard, rs in placement.items()
    }
    listing = RECORDED_DESCRIBE_STREAM["StreamDescription"]["Shards"]
    later = [s for s in listing if s["ShardId"] == D]
    stream = RecordedStream([s for s in listing if s["ShardId"] != D], records)
    now = [1000.0]
    worker = StreamWorker(
        repo,
        stream,
        ARN,
        CheckpointStore(tmp_path, settings.table_name),
        DeadLetterFile(tmp_path, settings.table_name),
        WorkerConfig(shard_refresh_seconds=10),
        monotonic=lambda: now[0],
    )

    for _ in range(4):
        worker.poll_once()
    assert stream.reads == [A, B, C]
    stream.listing = [*stream.listing, *later]  # D appears once B has closed
    now[0] += 11  # the next periodic DescribeStream
    for _ in range(3):
        worker.poll_once()
    assert stream.reads == [A, B, C, D]
    assert worker.checkpoints.finished() == {A, B}
    assert_rows_at(repo, {group: sent[-1]}, groups.members)

    # a restarted worker resumes after its checkpoints: nothing read twice
    again = RecordedStream(stream.listing, records)
    restarted = StreamWorker(
        repo,
        again,
        ARN,
        CheckpointStore(tmp_path, settings.table_name),
        DeadLetterFile(tmp_path, settings.table_name),
    )
    restarted.poll_once()
    assert again.reads == []


def test_a_running_worker_outlives_a_failed_read(
    repo, settings, groups, alice, bob, tmp_path: Path
):

    group, _ = groups.direct(alice, bob)
    last = append(repo, group, bob, "after the blip")
    real = message_records(read_stream(settings))
    records = {A: [renumbered(r, f"{i:04d}") for i, r in enumerate(real)]}
    listing = [
        s for s in RECORDED_DESCRIBE_STREAM["StreamDescription"]["Shards"] if s["ShardId"] == A
    ]
    stream = RecordedStream(listing, records)
    answers = stream.get_records
    failures = [EndpointConnectionError(endpoint_url="http://localhost:1")]

    def flaky(**params: Any) -> dict[str, Any]:
        if failures:
            raise failures.pop()
        return answers(**params)

    stream.get_records = flaky  # type: ignore[method-assign]
    stop = threading.Event()
    worker = StreamWorker(
        repo,
        stream,
        ARN,
        CheckpointStore(tmp_path, settings.table_name),
        DeadLetterFile(tmp_path, settings.table_name),
        WorkerConfig(poll_interval_seconds=0.01),
        stop=stop,
    )
    runner = threading.Thread(target=worker.run)
    runner.start()
    try:
        assert poll_until(lambda: worker.checkpoints.finished() == {A})
    finally:
        stop.set()
        runner.join(timeout=10)
    assert not failures
    assert_rows_at(repo, {group: last}, groups.members)
