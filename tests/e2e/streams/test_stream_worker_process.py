"""The real `cruddur stream-worker` as a process (SIGTERM, SIGKILL mid-burst), and the Lambda zip imported by a fresh interpreter."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import zipfile
from pathlib import Path

from cruddur.deployment.packaging import STREAM_PROCESSOR_HANDLER, build_stream_processor_zip
from cruddur.messaging.models import Message
from cruddur.messaging.services import MessagingService
from fixtures_streams import (
    append,
    assert_one_row_each,
    conversation_rows,
    newest_by_group,
    poll_until,
    rows_at,
)


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


def test_sigterm_stops_the_worker_cleanly(repo, settings, groups, alice, bob, tmp_path: Path):
    group, _ = groups.direct(alice, bob)
    process = start_worker(settings, tmp_path)
    try:
        message = append(repo, group, bob, "before SIGTERM")
        assert poll_until(lambda: rows_at(repo, {group: message}, groups.members))
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=20)
    assert process.returncode == 0, stderr
    assert "stopped after" in stderr
    assert (tmp_path / "streams" / f"{settings.table_name}.checkpoints.json").exists()


def test_a_worker_killed_mid_burst_and_restarted_converges(
    repo, settings, groups, people, tmp_path: Path
):
    group_ids = [groups.direct(people[0], p)[0] for p in people[1:4]]
    group_ids.append(groups.named(people[0], people[1:5])[0])
    by_uuid = {p.uuid: p for p in people}
    checkpoint = tmp_path / "streams" / f"{settings.table_name}.checkpoints.json"
    sent: list[Message] = []

    def send(n: int) -> None:
        for i in range(n):
            g = group_ids[i % len(group_ids)]
            sent.append(append(repo, g, by_uuid[groups.members[g][i % 2]], f"m{len(sent)}"))

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
    # rows mid-move or behind, never lost; a direct group's row killed between its put and its
    # delete leaves an extra, older row, which no list shows and the restarted worker deletes
    rows = conversation_rows(repo)
    for g in group_ids:
        assert all(rows.get((m, g)) for m in groups.members[g])
    lists = MessagingService(repo)
    for person in people[:5]:
        shown = [c.group_uuid for c in lists.list_conversations(person).items]
        assert len(shown) == len(set(shown)), "a list shows a group twice"

    restarted = start_worker(settings, tmp_path)
    try:
        assert poll_until(lambda: rows_at(repo, newest_by_group(sent), groups.members), timeout=30)
    finally:
        restarted.send_signal(signal.SIGTERM)
        restarted.communicate(timeout=20)
    assert_one_row_each(repo)


def test_the_lambda_zip_carries_an_importable_handler(tmp_path: Path):
    target = build_stream_processor_zip(tmp_path / "fn.zip")
    assert build_stream_processor_zip(tmp_path / "again.zip").read_bytes() == target.read_bytes()
    with zipfile.ZipFile(target) as archive:
        names = archive.namelist()
        archive.extractall(tmp_path / "fn")
    assert "cruddur/streams/lambda_handler.py" in names
    assert not any("__pycache__" in n or n.startswith("cruddur/api/") for n in names)
    module, _, function = STREAM_PROCESSOR_HANDLER.rpartition(".")
    probe = (
        "import importlib, sys; "
        f"m = importlib.import_module({module!r}); "
        f"assert m.__file__.startswith({str(tmp_path / 'fn')!r}), m.__file__; "
        f"assert callable(getattr(m, {function!r})); "
        "assert 'flask' not in sys.modules and 'psycopg' not in sys.modules; "
        # the cache of REDIS_URL comes with the zip: the runtime has no redis package
        "import cruddur.cache.redis_backend as c, redis; "
        f"assert c.__file__.startswith({str(tmp_path / 'fn')!r}), c.__file__; "
        f"assert redis.__file__.startswith({str(tmp_path / 'fn')!r}), redis.__file__"
    )
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "fn")}
    subprocess.run([sys.executable, "-c", probe], env=env, check=True, cwd=tmp_path)
