"""The local worker against DynamoDB Local's stream: TRIM_HORIZON, durable checkpoints, retries and
the dead-letter file, a live burst, SIGTERM and SIGKILL of the real `cruddur stream-worker`."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import threading
import zipfile
from dataclasses import replace
from pathlib import Path

import pytest
from botocore.exceptions import EndpointConnectionError

from cruddur.cli.streams import LAMBDA_HANDLER, build_lambda_zip
from cruddur.messaging import keys
from cruddur.messaging.models import Message
from cruddur.streams.checkpoints import CheckpointStore, WorkerAlreadyRunning
from cruddur.streams.worker import BatchDeferred, StreamWorker, WorkerConfig, build_worker
from fixtures_streams import (
    assert_one_row_each,
    assert_rows_at,
    conversation_rows,
    newest_by_group,
    poll_until,
)


@pytest.fixture
def worker_settings(settings, tmp_path: Path):
    return replace(settings, data_dir=tmp_path / "data")


def rows_at(store, newest: dict[str, Message], members: dict[str, list[str]]) -> bool:
    try:
        assert_rows_at(store, newest, members)
    except AssertionError:
        return False
    return True


def drain(worker: StreamWorker, until) -> None:
    """Poll until a pass reads nothing new and `until` holds (GetRecords may answer a shard's
    records over several calls, and only per item is the stream ordered)."""
    assert poll_until(lambda: worker.poll_once() == 0 and until(), timeout=30)


def test_starts_at_trim_horizon_and_a_restart_resumes_after_its_checkpoint(
    store, worker_settings, groups, alice, bob, carol
):
    group, _ = groups.direct(alice, bob)
    named, _ = groups.named(alice, [bob, carol])
    sent = [
        store.append_message(g, alice, f"before the worker {i}")
        for i, g in enumerate([group, named] * 3)
    ]

    worker = build_worker(worker_settings)
    drain(worker, lambda: rows_at(store, newest_by_group(sent), groups.members))
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
    later = store.append_message(group, bob, "after the restart")
    drain(restarted, lambda: rows_at(store, {group: later}, groups.members))
    checkpoint = max(int(s["sequence_number"]) for s in saved["shards"].values())
    assert read and min(read) > checkpoint


def test_a_running_worker_follows_a_burst_and_logs_batches_at_debug_only(
    store, worker_settings, groups, people, caplog
):
    group_ids = [groups.direct(people[0], p)[0] for p in people[1:4]]
    by_uuid = {p.uuid: p for p in people}
    stop = threading.Event()
    worker = build_worker(worker_settings, WorkerConfig(poll_interval_seconds=0.05), stop)
    caplog.set_level(logging.DEBUG, logger="cruddur.streams")
    runner = threading.Thread(target=worker.run)
    doubled: list[tuple[str, str]] = []
    watching = threading.Event()

    def watch() -> None:
        # "no user ever has two rows for one group": look while the rows are moving
        while not watching.is_set():
            doubled.extend(k for k, v in conversation_rows(store).items() if len(v) > 1)

    watcher = threading.Thread(target=watch)
    runner.start()
    watcher.start()
    try:
        sent = [
            store.append_message(g, by_uuid[groups.members[g][i % 2]], f"burst {i}")
            for i, g in enumerate(group_ids * 20)
        ]
        assert poll_until(lambda: rows_at(store, newest_by_group(sent), groups.members))
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
    assert_one_row_each(store)


def test_a_poison_record_is_retried_then_dead_lettered_and_the_shard_goes_on(
    store, worker_settings, groups, alice, bob
):
    group, _ = groups.direct(alice, bob)
    store.client.put_item(
        TableName=store.table,
        Item={
            "pk": {"S": "MSG#not-a-group"},
            "sk": {"S": "not a timestamp"},
            "message": {"S": "?"},
        },
    )
    after = store.append_message(group, bob, "after the poison")
    worker = build_worker(worker_settings, WorkerConfig(max_retries=2, retry_backoff_seconds=0.01))

    drain(worker, lambda: rows_at(store, {group: after}, groups.members))

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
    store, worker_settings, groups, alice, bob
):
    """DynamoDB unreachable (or throttling) for longer than the record retries is no poison: the
    checkpoint stays, nothing is dead-lettered, and the rows move once DynamoDB answers."""
    group, _ = groups.direct(alice, bob)
    worker = build_worker(worker_settings, WorkerConfig(max_retries=1, retry_backoff_seconds=0.01))
    assert poll_until(lambda: worker.poll_once() == 0)  # the group's creation is behind us
    checkpoint = worker.checkpoints.path.read_text()
    message = store.append_message(group, bob, "sent during the outage")

    def unreachable(request, **_):
        if request.headers.get("X-Amz-Target", b"").endswith(b".TransactWriteItems"):
            raise EndpointConnectionError(endpoint_url=request.url)
        return None

    events = worker.store.client.meta.events
    events.register_first("before-send.dynamodb", unreachable)
    try:
        with pytest.raises(BatchDeferred):
            worker.poll_once()
    finally:
        events.unregister("before-send.dynamodb", unreachable)
    assert worker.dead_letters.entries() == []
    assert worker.checkpoints.path.read_text() == checkpoint

    worker._iterators.clear()  # what `run` does after a failed pass: read again from the checkpoint
    drain(worker, lambda: rows_at(store, {group: message}, groups.members))
    assert worker.dead_letters.entries() == []


def test_checkpoints_belong_to_one_stream_and_one_worker(tmp_path: Path):
    first = CheckpointStore(tmp_path, "cruddur-messages")
    first.load("arn:stream/1")
    first.advance("shard-a", "000042")
    first.finish("shard-a")

    again = CheckpointStore(tmp_path, "cruddur-messages")
    again.load("arn:stream/1")
    assert again.position("shard-a") == "000042" and again.finished() == {"shard-a"}
    recreated = CheckpointStore(tmp_path, "cruddur-messages")
    recreated.load("arn:stream/2")  # the table was dropped and created again
    assert recreated.position("shard-a") is None

    first.acquire()
    try:
        with pytest.raises(WorkerAlreadyRunning):
            again.acquire()
    finally:
        first.release()
    again.acquire()
    again.release()


# --- the real command, as a process ---------------------------------------------------------


def start_worker(settings, data_dir: Path) -> subprocess.Popen:
    env = {
        **os.environ,
        "AWS_ENDPOINT_URL_DYNAMODB": settings.dynamodb_endpoint_url,
        "AWS_ENDPOINT_URL_DYNAMODB_STREAMS": settings.dynamodb_streams_endpoint_url,
        "DDB_MESSAGE_TABLE": settings.table_name,
        "CRUDDUR_DATA_DIR": str(data_dir),
        "AWS_DEFAULT_REGION": settings.region,
    }
    return subprocess.Popen(
        [sys.executable, "-c", "from cruddur.cli import main; main()", "stream-worker"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_sigterm_stops_the_worker_cleanly(store, settings, groups, alice, bob, tmp_path: Path):
    group, _ = groups.direct(alice, bob)
    process = start_worker(settings, tmp_path)
    try:
        message = store.append_message(group, bob, "before SIGTERM")
        assert poll_until(lambda: rows_at(store, {group: message}, groups.members))
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=20)
    assert process.returncode == 0, stderr
    assert "stopped after" in stderr
    assert (tmp_path / "streams" / f"{settings.table_name}.checkpoints.json").exists()


def test_a_worker_killed_mid_burst_and_restarted_converges(
    store, settings, groups, people, tmp_path: Path
):
    group_ids = [groups.direct(people[0], p)[0] for p in people[1:4]]
    group_ids.append(groups.named(people[0], people[1:5])[0])
    by_uuid = {p.uuid: p for p in people}
    checkpoint = tmp_path / "streams" / f"{settings.table_name}.checkpoints.json"
    sent: list[Message] = []

    def send(n: int) -> None:
        for i in range(n):
            g = group_ids[i % len(group_ids)]
            sent.append(store.append_message(g, by_uuid[groups.members[g][i % 2]], f"m{len(sent)}"))

    process = start_worker(settings, tmp_path)
    try:
        send(40)
        assert poll_until(checkpoint.exists, timeout=30), "the worker checkpointed a batch"
        sender = threading.Thread(target=send, args=(80,))
        sender.start()
        poll_until(lambda: len(sent) >= 80, timeout=30)
    finally:
        process.kill()  # SIGKILL: no handler runs, no checkpoint is flushed
        process.communicate(timeout=20)
    sender.join()
    assert process.returncode == -signal.SIGKILL
    # rows mid-move or behind, never lost or doubled
    assert_one_row_each(store)
    rows = conversation_rows(store)
    for g in group_ids:
        assert all(rows.get((m, g)) for m in groups.members[g])

    restarted = start_worker(settings, tmp_path)
    try:
        assert poll_until(lambda: rows_at(store, newest_by_group(sent), groups.members), timeout=30)
    finally:
        restarted.send_signal(signal.SIGTERM)
        restarted.communicate(timeout=20)
    assert_one_row_each(store)


def test_the_lambda_zip_carries_an_importable_handler(tmp_path: Path):
    target = build_lambda_zip(tmp_path / "fn.zip")
    assert build_lambda_zip(tmp_path / "again.zip").read_bytes() == target.read_bytes()
    with zipfile.ZipFile(target) as archive:
        names = archive.namelist()
        archive.extractall(tmp_path / "fn")
    assert "cruddur/streams/lambda_handler.py" in names
    assert not any("__pycache__" in n or n.startswith("cruddur/api/") for n in names)
    module, _, function = LAMBDA_HANDLER.rpartition(".")
    probe = (
        "import importlib, sys; "
        f"m = importlib.import_module({module!r}); "
        f"assert m.__file__.startswith({str(tmp_path / 'fn')!r}), m.__file__; "
        f"assert callable(getattr(m, {function!r})); "
        "assert 'flask' not in sys.modules"
    )
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "fn")}
    subprocess.run([sys.executable, "-c", probe], env=env, check=True, cwd=tmp_path)


def test_keys_module_is_the_only_formatter_used():
    """The stream package builds no key by hand (STYLE: keys.py formats MSG#/GRP#)."""
    package = Path(keys.__file__).resolve().parents[1] / "streams"
    for path in package.glob("*.py"):
        text = path.read_text()
        assert '"MSG#' not in text and '"GRP#' not in text and 'f"GRP#' not in text, path
