"""The local worker in process against DynamoDB Local's stream: TRIM_HORIZON, durable checkpoints,
retries and the dead-letter file, a live burst (the real process: tests/e2e/streams)."""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import replace
from pathlib import Path

import pytest
from botocore.exceptions import EndpointConnectionError

from cruddur.bootstrap import stream_worker as build_worker
from cruddur.messaging.services import MessagingService
from cruddur.streams.worker import BatchDeferred, StreamWorker, WorkerConfig
from fixtures_streams import (
    append,
    assert_one_row_each,
    newest_by_group,
    poll_until,
    rows_at,
)


@pytest.fixture
def worker_settings(settings, tmp_path: Path):
    return replace(settings, data_dir=tmp_path / "data")


def drain(worker: StreamWorker, until) -> None:
    """Poll until a pass reads nothing new and `until` holds (GetRecords may answer a shard's
    records over several calls, and only per item is the stream ordered)."""
    assert poll_until(lambda: worker.poll_once() == 0 and until(), timeout=30)


def test_starts_at_trim_horizon_and_a_restart_resumes_after_its_checkpoint(
    repo, worker_settings, groups, alice, bob, carol
):
    group, _ = groups.direct(alice, bob)
    named, _ = groups.named(alice, [bob, carol])
    sent = [
        append(repo, g, alice, f"before the worker {i}") for i, g in enumerate([group, named] * 3)
    ]

    worker = build_worker(worker_settings)
    drain(worker, lambda: rows_at(repo, newest_by_group(sent), groups.members))
    seen = worker.records_seen
    assert seen >= len(sent)
    saved = json.loads(worker.checkpoints.path.read_text())
    assert saved["stream_arn"] == worker.stream_arn
    assert all(s["sequence_number"] for s in saved["shards"].values())

    restarted = build_worker(worker_settings)
    read: list[int] = []
    get_records = restarted.streams.get_records

    def recording(**params):
        answer = get_records(**params)
        read.extend(int(r["dynamodb"]["SequenceNumber"]) for r in answer["Records"])
        return answer

    restarted.streams.get_records = recording
    assert restarted.poll_once() == 0  # nothing up to the checkpoint is read again
    later = append(repo, group, bob, "after the restart")
    drain(restarted, lambda: rows_at(repo, {group: later}, groups.members))
    checkpoint = max(int(s["sequence_number"]) for s in saved["shards"].values())
    assert read and min(read) > checkpoint


def test_a_running_worker_follows_a_burst_and_logs_batches_at_debug_only(
    repo, worker_settings, groups, people, caplog
):
    group_ids = [groups.direct(people[0], p)[0] for p in people[1:4]]
    by_uuid = {p.uuid: p for p in people}
    stop = threading.Event()
    worker = build_worker(worker_settings, WorkerConfig(poll_interval_seconds=0.05), stop)
    caplog.set_level(logging.DEBUG, logger="cruddur.streams")
    runner = threading.Thread(target=worker.run)
    doubled: list[tuple[str, str]] = []
    watching = threading.Event()

    lists = MessagingService(repo)

    def watch() -> None:
        # "a member's list never shows a group twice": look while the rows are moving (a direct
        # group's row is put before the old one goes, so the table may hold two for a moment)
        while not watching.is_set():
            for person in people[:4]:
                shown = [c.group_uuid for c in lists.list_conversations(person).items]
                doubled.extend((person.uuid, g) for g in shown if shown.count(g) > 1)

    watcher = threading.Thread(target=watch)
    runner.start()
    watcher.start()
    try:
        sent = [
            append(repo, g, by_uuid[groups.members[g][i % 2]], f"burst {i}")
            for i, g in enumerate(group_ids * 20)
        ]
        assert poll_until(lambda: rows_at(repo, newest_by_group(sent), groups.members))
    finally:
        stop.set()
        watching.set()
        runner.join(timeout=10)
        watcher.join(timeout=10)
    assert not runner.is_alive()
    assert doubled == []
    batch_lines = [r for r in caplog.records if r.getMessage().startswith("batch shard=")]
    assert batch_lines and all(r.levelno == logging.DEBUG for r in batch_lines)
    assert len(batch_lines) == worker.batches
    assert_one_row_each(repo)


def test_a_poison_record_is_retried_then_dead_lettered_and_the_shard_goes_on(
    repo, worker_settings, groups, alice, bob
):
    group, _ = groups.direct(alice, bob)
    repo.client.put_item(
        TableName=repo.table,
        Item={
            "pk": {"S": "MSG#not-a-group"},
            "sk": {"S": "not a timestamp"},
            "message": {"S": "?"},
        },
    )
    after = append(repo, group, bob, "after the poison")
    worker = build_worker(worker_settings, WorkerConfig(max_retries=2, retry_backoff_seconds=0.01))

    drain(worker, lambda: rows_at(repo, {group: after}, groups.members))

    (entry,) = worker.dead_letters.entries()
    info = entry["DDBStreamBatchInfo"]
    assert info["batchSize"] == 1 and info["streamArn"] == worker.stream_arn
    assert entry["requestContext"]["approximateInvokeCount"] == 3
    (record,) = entry["records"]
    assert record["dynamodb"]["Keys"]["pk"]["S"] == "MSG#not-a-group"
    assert info["startSequenceNumber"] == record["dynamodb"]["SequenceNumber"]
    assert worker.dead_letters.path.parent == worker_settings.data_dir / "streams"
    # the checkpoint moved past it: a restart does not dead-letter it again
    restarted = build_worker(worker_settings)
    assert restarted.poll_once() == 0
    assert len(restarted.dead_letters.entries()) == 1


def test_an_outage_while_moving_rows_keeps_the_batch_instead_of_dead_lettering_it(
    repo, worker_settings, groups, alice, bob
):
    """DynamoDB unreachable (or throttling) for longer than the record retries is no poison: the
    checkpoint stays, nothing is dead-lettered, and the rows move once DynamoDB answers."""
    group, _ = groups.direct(alice, bob)
    worker = build_worker(worker_settings, WorkerConfig(max_retries=1, retry_backoff_seconds=0.01))
    assert poll_until(lambda: worker.poll_once() == 0)  # the group's creation is behind us
    checkpoint = worker.checkpoints.path.read_text()
    message = append(repo, group, bob, "sent during the outage")

    def unreachable(request, **_):
        target = request.headers.get("X-Amz-Target", b"")
        if target.endswith((b".TransactWriteItems", b".PutItem", b".DeleteItem")):
            raise EndpointConnectionError(endpoint_url=request.url)
        return None

    events = worker.repo.client.meta.events
    events.register_first("before-send.dynamodb", unreachable)
    try:
        with pytest.raises(BatchDeferred):
            worker.poll_once()
    finally:
        events.unregister("before-send.dynamodb", unreachable)
    assert worker.dead_letters.entries() == []
    assert worker.checkpoints.path.read_text() == checkpoint

    worker._iterators.clear()  # what `run` does after a failed pass: read again from the checkpoint
    drain(worker, lambda: rows_at(repo, {group: message}, groups.members))
    assert worker.dead_letters.entries() == []


class RecordedStop(threading.Event):
    """The worker's stop event, noting each pause `run` asks for instead of pausing; set after
    `passes` pauses, which ends the run."""

    def __init__(self, passes: int) -> None:
        super().__init__()
        self.passes = passes
        self.pauses: list[float] = []

    def wait(self, timeout: float | None = None) -> bool:
        self.pauses.append(float(timeout or 0))
        if len(self.pauses) >= self.passes:
            self.set()
        return self.is_set()


def test_the_worker_polls_again_after_the_batch_window_while_records_come_and_idles_otherwise(
    repo, worker_settings, groups, alice, bob
):
    group, _ = groups.direct(alice, bob)
    for i in range(3):
        append(repo, group, bob, f"message {i}")
    stop = RecordedStop(passes=4)
    config = WorkerConfig(poll_interval_seconds=7.0, batch_window_seconds=0.03)
    worker = build_worker(worker_settings, config, stop)
    seen: list[int] = []
    poll_once = worker.poll_once

    def counted() -> int:
        seen.append(poll_once())
        return seen[-1]

    worker.poll_once = counted  # type: ignore[method-assign]
    worker.run()

    assert seen[0] > 0 and 0 in seen, "records first, then an empty pass"
    assert stop.pauses == [0.03 if n else 7.0 for n in seen[: len(stop.pauses)]]
    assert rows_at(repo, {group: repo.newest_message(group)}, groups.members)
