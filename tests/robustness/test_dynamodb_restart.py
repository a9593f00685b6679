"""DynamoDB Local on disk (`-dbPath`) stopped under load, by SIGTERM and by SIGKILL, and started
again on the same port while `cruddur serve` and `cruddur stream-worker` keep running.

While it is down the API answers 503 with Retry-After (never a 500, never a dropped connection);
once it is back the same API processes answer 200 again. Nothing acknowledged is lost: every
send answered 200 is stored once, and what is stored beyond those was a send that was answered 503
after the engine had committed it (the answer was lost with the engine), never an unknown text.
The stream: the worker, never restarted, catches up and every member's one row ends at the
newest message. What DynamoDB Local kept across each signal is printed and written down in
docs/robustness.md."""

from __future__ import annotations

import signal
import time
from pathlib import Path

from cruddur.aws import dynamodb_client, dynamodb_streams_client
from cruddur.messaging import schema
from cruddur.streams.shards import describe_shards, read_all_records
from fixtures_api import ApiClient, HttpTransport, serving
from fixtures_streams import message_records, poll_until

from .conftest import (
    CATCH_UP_DEADLINE,
    LONG,
    RECOVERY_DEADLINE,
    SIZES,
    Answer,
    DiskDynamoDB,
    SendLoad,
    assert_members_reach_newest,
    assert_only_200_or_503_with_retry_after,
    percentile,
    print_figures,
    stored_texts,
    stream_worker_process,
)

# The bounded form kills with SIGKILL only (each restart of the JVM costs seconds); the long form
# stops it with SIGTERM, then kills it with SIGKILL.
SIGNALS = (signal.SIGTERM, signal.SIGKILL) if LONG else (signal.SIGKILL,)


def test_dynamodb_local_killed_under_load_and_restarted_loses_nothing_acknowledged(
    disk_dynamodb, disk_settings, postgres_url, register, tmp_path: Path
):
    settings = disk_settings
    handles = ["alice", "bob", "carol"]
    members = [register(h) for h in handles]
    client = dynamodb_client(settings)
    streams = dynamodb_streams_client(settings)
    figures: dict[str, dict[str, object]] = {}
    with (
        serving(settings, postgres_url, tmp_path / "serve") as url,
        stream_worker_process(settings, tmp_path / "worker") as worker,
    ):
        anonymous = ApiClient(HttpTransport(url))
        clients = [anonymous.as_user(h) for h in handles]
        created = clients[0].create_group("outage", handles[1:])
        assert created.status == 200, created
        group = created.body["message_group_uuid"]
        arn_before = schema.stream_arn(client, settings.table_name)
        shards_before = [s.shard_id for s in describe_shards(streams, arn_before or "")]

        load = SendLoad(clients, group, sends_per_client=None).start()
        try:
            # one API and one worker outlive both outages, one after the other
            for sig in SIGNALS:
                figures[sig.name] = outage(disk_dynamodb, sig, load, anonymous)
        finally:
            load.finish()
        assert worker.poll() is None, "the stream worker died with the engine"
        answers = load.snapshot()
        assert_only_200_or_503_with_retry_after(answers)

        stored = stored_texts(settings, group)
        acknowledged = {a.text for a in answers if a.status == 200}
        answered_503 = {a.text for a in answers if a.status == 503}
        assert len(stored) == len(set(stored)), "a message is stored twice"
        assert acknowledged <= set(stored), f"lost: {sorted(acknowledged - set(stored))[:5]}"
        assert set(stored) <= acknowledged | answered_503, "a stored text nobody sent"
        readable = {m["message"] for m in clients[1].all_messages(group, limit=100)}
        assert acknowledged <= readable

        # the stream across the restarts: same table, same stream, and the worker catches up
        arn_after = schema.stream_arn(client, settings.table_name)
        shards_after = [s.shard_id for s in describe_shards(streams, arn_after or "")]
        caught_up = assert_members_reach_newest(
            settings, group, [m.uuid for m in members], CATCH_UP_DEADLINE
        )
        inserts = message_records(read_all_records(streams, arn_after or ""))
        # what docs/robustness.md says of DynamoDB Local on disk: the same stream, every insert
        assert arn_after == arn_before
        assert len(inserts) == len(stored)

    worker_log = (tmp_path / "worker" / "worker-0.log").read_text(errors="replace")
    dead_letters = list((tmp_path / "worker" / "streams").glob("*.dead-letters.jsonl"))
    assert not dead_letters, "an outage is not a poison record"
    for name, outage_figures in figures.items():
        print_figures(f"DynamoDB Local {name}", **outage_figures)
    print_figures(
        "DynamoDB Local across the restarts",
        acknowledged=len(acknowledged),
        answered_503=len(answered_503),
        stored=len(stored),
        stored_though_503=len(set(stored) & answered_503),
        shards_before=len(shards_before),
        shards_after=len(shards_after),
        shards_kept=len(set(shards_before) & set(shards_after)),
        message_inserts_in_stream=len(inserts),
        rows_caught_up_after_s=round(caught_up, 2),
        worker_passes_failed=worker_log.count("stream pass failed"),
    )


def outage(
    engine: DiskDynamoDB, sig: signal.Signals, load: SendLoad, anonymous: ApiClient
) -> dict[str, object]:
    """Kill the engine with `sig` under `load`, collect 503s, start it again on the same port and
    wait for sends to be acknowledged again; the outage's figures."""
    assert poll_until(lambda: len(load.acknowledged()) >= 20, timeout=RECOVERY_DEADLINE), (
        "no load before the kill"
    )
    acknowledged_before = len(load.acknowledged())
    engine.kill(sig)
    killed_at = time.monotonic()
    answered_before = len(load.snapshot())
    # down: every client is told to come back, and the health check says which engine

    def answered_503() -> list[Answer]:
        return [a for a in load.snapshot()[answered_before:] if a.status == 503]

    assert poll_until(
        lambda: len(answered_503()) >= SIZES.outage_answers, timeout=RECOVERY_DEADLINE
    ), f"no 503s while DynamoDB Local was down ({sig.name})"
    health = anonymous.get("/api/health-check")
    assert health.status == 503
    assert health.body["checks"]["dynamodb"] == "unavailable"
    unavailable = answered_503()

    restart_started = time.monotonic()
    engine.restart()
    restarted_in = time.monotonic() - restart_started
    acknowledged_at_restart = len(load.acknowledged())
    # the same API processes answer again, without being restarted
    assert poll_until(
        lambda: len(load.acknowledged()) >= acknowledged_at_restart + 20,
        timeout=RECOVERY_DEADLINE,
    ), f"the API did not recover once DynamoDB Local was back ({sig.name})"
    seconds_503 = [a.seconds for a in unavailable]
    return {
        "acknowledged_before_kill": acknowledged_before,
        "answered_503_while_down": len(unavailable),
        "p50_503_ms": round(percentile(seconds_503, 0.5) * 1000),
        "max_503_ms": round(max(seconds_503) * 1000),
        "restart_s": round(restarted_in, 1),
        "acknowledged_again_after_kill_s": round(time.monotonic() - killed_at, 1),
    }
