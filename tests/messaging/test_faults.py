"""Throttling, transaction conflicts and a dead endpoint, injected: DynamoDB Local shows none."""

from __future__ import annotations

import json
import random
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import pytest
from botocore.exceptions import ReadTimeoutError

from cruddur.aws import RETRY_MAX_ATTEMPTS, dynamodb_client
from cruddur.local.processes import free_port
from cruddur.messaging import keys
from cruddur.messaging.errors import ContentionExhausted, StoreUnavailable
from cruddur.messaging.repository import MAX_ATTEMPTS, MessageStore
from faults import inject, throttled, transaction_conflict


@pytest.fixture
def client(base_settings):
    """A client of its own, so injected faults touch no other test."""
    return dynamodb_client(base_settings)


@pytest.fixture
def faulty_store(client, table_name):
    return MessageStore(client, table_name, sleep=lambda _: None)


def rows_of(store, prefix: str) -> list[dict]:
    return [i for i in store.scan() if i["pk"].startswith(prefix)]


def test_transaction_conflicts_are_retried_and_one_group_results(faulty_store, client, alice, bob):
    with inject(
        client,
        "TransactWriteItems",
        lambda body: transaction_conflict(len(body["TransactItems"])),
        times=3,
    ) as fault:
        sent = faulty_store.open_direct_conversation(alice, bob, "hi")
    assert fault.injected == 3
    assert sent.created_group
    assert len(rows_of(faulty_store, keys.PAIR_PREFIX)) == 1
    assert [m.text for m in faulty_store.list_messages(sent.group_uuid).items] == ["hi"]


def test_endless_conflicts_give_a_clear_error_after_bounded_attempts(
    faulty_store, client, alice, bob
):
    with inject(
        client, "TransactWriteItems", lambda body: transaction_conflict(len(body["TransactItems"]))
    ) as fault:
        with pytest.raises(ContentionExhausted, match="still contended"):
            faulty_store.open_direct_conversation(alice, bob, "hi")
    assert fault.injected == MAX_ATTEMPTS
    assert list(faulty_store.scan()) == []  # nothing half-written


def test_throttled_writes_are_retried_by_the_client(faulty_store, client, alice, bob):
    group = faulty_store.open_direct_conversation(alice, bob, "start").group_uuid
    with inject(client, "PutItem", lambda body: throttled(), times=2) as fault:
        message = faulty_store.send_to_group(group, alice, "through the throttle")
    assert fault.injected == 2
    assert faulty_store.list_messages(group).items[-1].uuid == message.uuid


def test_a_put_whose_answer_was_lost_is_stored_once(faulty_store, client, ddb, alice, bob):
    """The engine stores the message, the answer never arrives (read timeout), botocore sends the
    put again and its condition fails: that is our own write, not a key collision."""
    group = faulty_store.open_direct_conversation(alice, bob, "start").group_uuid
    lost: list[str] = []

    def store_then_time_out(request, **_):
        if not request.headers.get("X-Amz-Target", b"").endswith(b".PutItem") or lost:
            return None
        ddb.put_item(**json.loads(request.body))  # the engine commits the write...
        lost.append(request.url)
        raise ReadTimeoutError(endpoint_url=request.url)  # ...and its answer is lost

    client.meta.events.register_first("before-send.dynamodb", store_then_time_out)
    try:
        message = faulty_store.send_to_group(group, alice, "sent once")
    finally:
        client.meta.events.unregister("before-send.dynamodb", store_then_time_out)
    assert lost
    texts = [m.text for m in faulty_store.all_messages(group)]
    assert texts == ["start", "sent once"]
    assert faulty_store.list_messages(group).items[-1].uuid == message.uuid


def test_endless_throttling_gives_a_clear_error_and_writes_nothing(
    faulty_store, client, alice, bob
):
    group = faulty_store.open_direct_conversation(alice, bob, "start").group_uuid
    with inject(client, "PutItem", lambda body: throttled()) as fault:
        with pytest.raises(ContentionExhausted, match="ProvisionedThroughputExceeded"):
            faulty_store.send_to_group(group, alice, "never lands")
    assert fault.injected == RETRY_MAX_ATTEMPTS
    assert [m.text for m in faulty_store.list_messages(group).items] == ["start"]


def test_concurrent_openings_with_random_conflicts_still_make_one_group(
    faulty_store, client, alice, bob
):
    chance = random.Random(7)
    lock = threading.Lock()

    def sometimes_conflict(body):
        with lock:
            hit = chance.random() < 0.4
        return transaction_conflict(len(body["TransactItems"])) if hit else None

    barrier = threading.Barrier(12)

    def open_from(i: int):
        barrier.wait()
        sender, recipient = (alice, bob) if i % 2 else (bob, alice)
        return faulty_store.open_direct_conversation(sender, recipient, f"m{i}")

    with inject(client, "TransactWriteItems", sometimes_conflict):
        with ThreadPoolExecutor(12) as pool:
            results = list(pool.map(open_from, range(12)))

    assert len({r.group_uuid for r in results}) == 1
    assert len(rows_of(faulty_store, keys.PAIR_PREFIX)) == 1
    assert len(list(faulty_store.all_messages(results[0].group_uuid))) == 12


def test_a_dead_endpoint_is_named_with_how_to_start_it(base_settings, table_name, alice):
    dead = replace(base_settings, dynamodb_endpoint_url=f"http://localhost:{free_port()}")
    store = MessageStore(dynamodb_client(dead), table_name, sleep=lambda _: None)
    with pytest.raises(StoreUnavailable, match=r"localhost:\d+.*cruddur ddb local start"):
        store.list_conversations(alice.uuid)


def test_an_endpoint_that_never_answers_gives_up_in_bounded_time(base_settings, table_name, alice):
    """A paused engine (SIGSTOP) still completes TCP handshakes from its listen backlog and never
    answers: every retry waits out the read timeout, and the sum must stay far from a hang."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)  # never accepted, never answered
        endpoint = f"http://127.0.0.1:{silent.getsockname()[1]}"
        paused = replace(base_settings, dynamodb_endpoint_url=endpoint)
        store = MessageStore(dynamodb_client(paused), table_name, sleep=lambda _: None)
        started = time.monotonic()
        with pytest.raises(StoreUnavailable):
            store.list_conversations(alice.uuid)
        waited = time.monotonic() - started
    # 5 attempts x the 3 s read timeout (+ backoff) is ~15 s; the old 10 s timeout made it 50 s+
    assert waited < 40, f"a silent endpoint held the caller {waited:.0f}s"
