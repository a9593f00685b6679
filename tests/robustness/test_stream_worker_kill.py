"""The stream worker SIGKILLed in the middle of a burst of sends through `cruddur serve`, then
started again on the same checkpoints (`streams/` under its data directory): every member's one
row ends at the newest message, no message is stored twice, nothing is dead-lettered, and the
checkpoint file the killed process left is whole. (tests/e2e/streams kills a worker fed by the
repository; here the burst comes through the served API while the kill happens.)"""

from __future__ import annotations

import json
import signal
from pathlib import Path

from cruddur.aws import dynamodb_client
from cruddur.messaging import schema
from fixtures_api import ApiClient, HttpTransport, serving
from fixtures_streams import assert_one_row_each, poll_until

from .conftest import (
    CATCH_UP_DEADLINE,
    RECOVERY_DEADLINE,
    SIZES,
    SendLoad,
    assert_members_reach_newest,
    checkpoint_path,
    print_figures,
    repository,
    stored_texts,
    stream_worker_process,
)


def test_a_worker_killed_mid_burst_and_restarted_leaves_every_row_at_the_newest(
    settings, postgres_url, register, tmp_path: Path
):
    handles = [f"member{i}" for i in range(5)]
    members = [register(h) for h in handles]
    worker_dir = tmp_path / "worker"
    checkpoint = checkpoint_path(settings, worker_dir)
    with serving(settings, postgres_url, tmp_path / "serve") as url:
        anonymous = ApiClient(HttpTransport(url))
        clients = [anonymous.as_user(h) for h in handles]
        created = clients[0].create_group("burst", handles[1:], "first")
        assert created.status == 200, created
        group = created.body["message_group_uuid"]
        burst = SIZES.burst_sends_per_client * SIZES.burst_clients

        with stream_worker_process(settings, worker_dir) as worker:
            # the group's first message is applied and checkpointed: the worker is running
            assert poll_until(checkpoint.exists, timeout=RECOVERY_DEADLINE), (
                "the worker never checkpointed"
            )
            before_burst = checkpoint.read_text()
            load = SendLoad(senders_clients(clients, SIZES.burst_clients), group, None).start()
            # killed while the burst is on and the worker is moving rows for it
            assert poll_until(
                lambda: (
                    checkpoint.read_text() != before_burst
                    and len(load.acknowledged()) >= burst // 3
                ),
                timeout=RECOVERY_DEADLINE,
            ), "the worker did not checkpoint during the burst"
            worker.send_signal(signal.SIGKILL)  # no handler runs, nothing is flushed
            worker.wait(timeout=30)
            acknowledged_when_killed = len(load.acknowledged())
        assert worker.returncode == -signal.SIGKILL
        # the killed worker left rows behind or mid-move, never doubled
        assert_one_row_each(repository(settings))
        left = json.loads(checkpoint.read_text())  # whole, not torn
        assert left["stream_arn"] == schema.stream_arn(
            dynamodb_client(settings), settings.table_name
        )

        with stream_worker_process(settings, worker_dir):
            assert poll_until(lambda: len(load.acknowledged()) >= burst, timeout=120)
            load.finish()
            answers = load.snapshot()
            assert {a.status for a in answers} == {200}, [a for a in answers if a.status != 200][:5]
            caught_up = assert_members_reach_newest(
                settings, group, [m.uuid for m in members], CATCH_UP_DEADLINE
            )

    texts = stored_texts(settings, group)
    assert len(texts) == len(set(texts)) == len(answers) + 1
    assert set(texts) == {a.text for a in answers} | {"first"}
    assert not list((worker_dir / "streams").glob("*.dead-letters.jsonl"))
    print_figures(
        "stream worker SIGKILL mid-burst",
        sends=len(answers),
        acknowledged_when_killed=acknowledged_when_killed,
        caught_up_after_restart_s=round(caught_up, 2),
    )


def senders_clients(clients: list[ApiClient], count: int) -> list[ApiClient]:
    return [clients[i % len(clients)] for i in range(count)]
