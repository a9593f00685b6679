"""PostgreSQL and Redis stopped and started again under load, each a PRIVATE instance this test
started (never the machine's shared servers), while `cruddur serve` keeps running.

- PostgreSQL down: every call that needs a user (sign-in, every authenticated call: the token's
  subject is looked up) answers 503 `service_unavailable` with Retry-After, the health check
  names PostgreSQL; the users pool refuses them at once, without waiting its timeout for a
  connection (counted from the API's log, never timed); once it is back the same API answers 200
  again and nothing is half-stored.
- Redis down: the API fails open (sends and reads keep answering 200 from the engines, rate
  limits let requests through), only what cannot run without Redis says 503 (a keyed send:
  `idempotency_unavailable`; the event stream: `live_unavailable`); once Redis is back keyed
  sends and event streams work again, and no list or page is stale (the cache's epoch)."""

from __future__ import annotations

import json
import shutil
import socket
import time
import urllib.parse
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import pytest

from cruddur.local.postgres import PrivatePostgres
from cruddur.users.db import apply_migrations, create_pool
from cruddur.users.models import demo_user_uuid
from cruddur.users.pg_errors import POOL_TIMEOUT_REASON
from cruddur.users.repository import UserRepository
from fixtures_api import PASSWORD, ApiClient, HttpTransport, serving
from fixtures_postgres import (
    TEST_PASSWORD_HASHER,
    initdb_unavailable_reason,
    reachable_tmp_dir,
)
from fixtures_streams import poll_until

from .conftest import (
    RECOVERY_DEADLINE,
    SIZES,
    SendLoad,
    assert_only_200_or_503_with_retry_after,
    percentile,
    print_figures,
    repository,
    stored_texts,
    stream_worker_process,
)


@pytest.fixture
def private_postgres() -> Iterator[PrivatePostgres]:
    """A PostgreSQL cluster of this test's own (a unix socket, no TCP port), migrated."""
    reason = initdb_unavailable_reason()
    if reason:
        pytest.skip(f"a private PostgreSQL cannot start here: {reason}")
    folder = reachable_tmp_dir("cruddur-robust-pg-")
    cluster = PrivatePostgres(folder / "postgres")
    try:
        cluster.start()
        apply_migrations(cluster.url)
        yield cluster
    finally:
        cluster.stop()
        shutil.rmtree(folder, ignore_errors=True)


# 503s to collect while PostgreSQL is down: enough that refusals waiting the pool's timeout (5 s
# each) would show far beyond the few a discovery may cost.
POSTGRES_OUTAGE_ANSWERS = max(SIZES.outage_answers, 20)
SERVE_WORKERS = 2  # fixtures_api.serving
# The load's two clients and the three calls checked while PostgreSQL is down.
CALLERS = 2 + 3


def postgresql_refusals(log_path: Path) -> list[str]:
    """The reason of every request the API answered 503 for PostgreSQL's sake, from its JSON log
    lines (`dependency unavailable: PostgreSQL at <url> is unavailable (<reason>)`)."""
    reasons = []
    for line in log_path.read_text(errors="replace").splitlines():
        if not line.startswith("{"):
            continue  # gunicorn's own lines
        message = json.loads(line).get("message", "")
        if message.startswith("dependency unavailable: PostgreSQL at "):
            reasons.append(message.partition(" is unavailable (")[2].removesuffix(")"))
    return reasons


def register_on(url: str, *handles: str) -> None:
    pool = create_pool(url, min_size=1, max_size=1)
    try:
        users = UserRepository(pool, hasher=TEST_PASSWORD_HASHER)
        for handle in handles:
            user = users.create(
                handle, handle.title(), f"{handle}@example.com", uuid=demo_user_uuid(handle)
            )
            users.set_password(user.uuid, PASSWORD)
    finally:
        pool.close()


def test_postgresql_stopped_and_started_gives_503s_then_recovers(
    settings, private_postgres: PrivatePostgres, tmp_path: Path
):
    register_on(private_postgres.url, "alice", "bob")
    with serving(settings, private_postgres.url, tmp_path / "serve") as url:
        anonymous = ApiClient(HttpTransport(url))
        alice, bob = anonymous.as_user("alice"), anonymous.as_user("bob")
        opened = alice.send_to_handle("bob", "before the outage")
        assert opened.status == 200, opened
        group = opened.body["message_group_uuid"]

        load = SendLoad([alice, bob], group, sends_per_client=None).start()
        try:
            assert poll_until(lambda: len(load.acknowledged()) >= 10, timeout=RECOVERY_DEADLINE)
            assert private_postgres.stop() is True
            stopped_at = time.monotonic()
            answered_before = len(load.snapshot())

            def answered_503() -> list:
                return [a for a in load.snapshot()[answered_before:] if a.status == 503]

            assert poll_until(
                lambda: len(answered_503()) >= POSTGRES_OUTAGE_ANSWERS,
                timeout=RECOVERY_DEADLINE,
            ), "no 503s while PostgreSQL was down"
            with ThreadPoolExecutor(3) as pool:
                health, sign_in, listed = pool.map(
                    lambda call: call(),
                    [
                        lambda: anonymous.get("/api/health-check"),
                        lambda: anonymous.sign_in("alice"),
                        alice.conversations,
                    ],
                )
            assert health.status == 503
            assert health.body["checks"] == {"dynamodb": "ok", "postgresql": "unavailable"}
            assert (sign_in.status, sign_in.errors) == (503, ["service_unavailable"])
            assert sign_in.header("Retry-After")
            assert (listed.status, listed.errors) == (503, ["service_unavailable"])
            unavailable = answered_503()

            down_for = time.monotonic() - stopped_at
            private_postgres.start()
            started_at = time.monotonic()
            acknowledged_at_start = len(load.acknowledged())
            assert poll_until(
                lambda: len(load.acknowledged()) > acknowledged_at_start,
                timeout=RECOVERY_DEADLINE,
            ), "the API did not use PostgreSQL again once it was back"
            recovered_after = time.monotonic() - started_at
            assert poll_until(
                lambda: len(load.acknowledged()) >= acknowledged_at_start + 10,
                timeout=RECOVERY_DEADLINE,
            )
        finally:
            load.finish()
        assert anonymous.sign_in("alice").status == 200
        assert alice.conversations().status == 200

        answers = load.snapshot()
        assert_only_200_or_503_with_retry_after(answers)
        # a send refused for PostgreSQL's sake stopped before DynamoDB: nothing half-stored
        acknowledged = {a.text for a in answers if a.status == 200}
        assert set(stored_texts(settings, group)) == acknowledged | {"before the outage"}

    # Refused without waiting: a request waits the pool's timeout only before its worker's pool
    # has found the server down (at most once per caller and worker); every other refusal says
    # it did not wait. Counted from the log, so a slow machine changes nothing.
    reasons = postgresql_refusals(tmp_path / "serve" / "gunicorn.log")
    waited = [r for r in reasons if r == POOL_TIMEOUT_REASON]
    refused_at_once = [r for r in reasons if r.startswith("down, refused without waiting: ")]
    assert len(reasons) >= len(unavailable) + 2  # the load's 503s, the sign-in and the list
    assert len(waited) <= SERVE_WORKERS * CALLERS, waited
    assert len(refused_at_once) >= len(reasons) - SERVE_WORKERS * CALLERS, reasons

    seconds = [a.seconds for a in unavailable]
    print_figures(
        "PostgreSQL stopped and started",
        acknowledged=len(acknowledged),
        answered_503_while_down=len(unavailable),
        refused_at_once=len(refused_at_once),
        waited_for_the_pool=len(waited),
        p50_503_ms=round(percentile(seconds, 0.5) * 1000),
        max_503_ms=round(max(seconds) * 1000),
        down_s=round(down_for, 1),
        acknowledged_again_after_start_s=round(recovered_after, 1),
    )


def open_event_stream(base_url: str, token: str, group: str, deadline: float = 30.0) -> bytes:
    """Open GET /api/events?group=, read until the server says it is connected (or answers
    otherwise), close; what was read."""
    parts = urllib.parse.urlsplit(base_url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    with socket.create_connection((host, port), timeout=deadline) as sock:
        sock.sendall(
            (
                f"GET /api/events?group={group} HTTP/1.1\r\nHost: {host}\r\n"
                f"Authorization: Bearer {token}\r\nAccept: text/event-stream\r\n\r\n"
            ).encode()
        )
        received = b""
        ends = time.monotonic() + deadline
        while b": connected" not in received and b"\r\n\r\n{" not in received:
            sock.settimeout(max(0.01, ends - time.monotonic()))
            chunk = sock.recv(4096)
            if not chunk:
                break
            received += chunk
        return received


def test_redis_stopped_and_started_fails_open_then_recovers(
    settings, postgres_url, register, private_redis, tmp_path: Path
):
    register("alice"), register("bob")
    shared = replace(settings, redis_url=private_redis.url)
    # a limit far above the load: checked on every send, so failing open is exercised
    env = {"REDIS_URL": private_redis.url, "RATE_LIMIT_SENDS_PER_MINUTE": "100000"}
    with (
        serving(shared, postgres_url, tmp_path / "serve", **env) as url,
        stream_worker_process(shared, tmp_path / "worker", REDIS_URL=private_redis.url),
    ):
        anonymous = ApiClient(HttpTransport(url))
        alice, bob = anonymous.as_user("alice"), anonymous.as_user("bob")
        opened = alice.send_to_handle("bob", "before the outage")
        assert opened.status == 200, opened
        group = opened.body["message_group_uuid"]
        assert b"HTTP/1.1 200" in open_event_stream(url, bob.token or "", group)
        assert bob.conversations().status == 200  # the list is cached now

        load = SendLoad([alice, bob], group, sends_per_client=None).start()
        try:
            assert poll_until(lambda: len(load.acknowledged()) >= 10, timeout=RECOVERY_DEADLINE)
            private_redis.stop()
            stopped_at = time.monotonic()
            acknowledged_at_stop = len(load.acknowledged())
            # down: sends keep being stored (limits fail open), reads come from the engines
            assert poll_until(
                lambda: len(load.acknowledged()) >= acknowledged_at_stop + SIZES.outage_answers,
                timeout=RECOVERY_DEADLINE,
            ), "sends stopped while Redis was down"
            keyed = alice.post(
                "/api/messages",
                {"message": "keyed while down", "message_group_uuid": group},
                headers={"Idempotency-Key": "robustness-redis-down"},
            )
            events = open_event_stream(url, bob.token or "", group)
            listed = bob.conversations()
            health = anonymous.get("/api/health-check")
            assert (keyed.status, keyed.errors) == (503, ["idempotency_unavailable"])
            assert keyed.header("Retry-After")
            assert events.startswith(b"HTTP/1.1 503"), events[:200]
            assert b"live_unavailable" in events
            assert listed.status == 200
            assert health.status == 200, health

            private_redis.start()
            started_at = time.monotonic()

            def keyed_send_accepted() -> bool:
                answer = alice.post(
                    "/api/messages",
                    {"message": "keyed once back", "message_group_uuid": group},
                    headers={"Idempotency-Key": "robustness-redis-back"},
                )
                assert answer.status in (200, 503), answer
                return answer.status == 200

            assert poll_until(keyed_send_accepted, timeout=RECOVERY_DEADLINE, interval=0.5)
            recovered_after = time.monotonic() - started_at
            assert b"HTTP/1.1 200" in open_event_stream(url, bob.token or "", group)
        finally:
            load.finish()
        answers = load.snapshot()
        assert [a for a in answers if a.status != 200] == []  # Redis never refused a plain send
        stored = stored_texts(settings, group)
        assert set(stored) == {a.text for a in answers} | {"before the outage", "keyed once back"}
        assert len(stored) == len(set(stored))

        # nothing stale once Redis is back: the newest message heads bob's list and his page
        newest = max(repository(settings).all_messages(group), key=lambda m: m.sk)
        assert poll_until(
            lambda: bob.conversations().body[0]["message"] == newest.text, timeout=RECOVERY_DEADLINE
        ), "bob's list stayed stale after the outage"
        assert bob.messages(group).body[-1]["uuid"] == newest.uuid

    print_figures(
        "Redis stopped and started",
        acknowledged=len(answers),
        acknowledged_while_down=len(load.acknowledged()) - acknowledged_at_stop,
        down_s=round(started_at - stopped_at, 1),
        keyed_sends_accepted_again_after_s=round(recovered_after, 1),
        cache=health.body.get("cache"),
    )
