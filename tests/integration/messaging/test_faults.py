"""Throttling, transaction conflicts and a dead endpoint, injected: DynamoDB Local shows none."""

from __future__ import annotations

import json
import random
import socket
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import pytest
from botocore.exceptions import ReadTimeoutError

from cruddur.aws import READ_TIMEOUT_SECONDS, RETRY_MAX_ATTEMPTS, dynamodb_client
from cruddur.local.processes import free_port
from cruddur.messaging import keys
from cruddur.messaging.errors import ContentionExhausted, StoreRefused, StoreUnavailable
from cruddur.messaging.repository import DynamoMessageRepository
from cruddur.messaging.retries import MAX_ATTEMPTS
from cruddur.messaging.services import MessagingService
from cruddur.streams.processor import is_outage
from faults import inject, throttled, transaction_cancelled, transaction_conflict


@pytest.fixture
def client(base_settings):
    """A client of its own, so injected faults touch no other test."""
    return dynamodb_client(base_settings)


@pytest.fixture
def faulty_repo(client, table_name):
    return DynamoMessageRepository(client, table_name, sleep=lambda _: None)


@pytest.fixture
def faulty(faulty_repo):
    """The use cases on the faulty client, backoff skipped."""
    return MessagingService(faulty_repo, sleep=lambda _: None)


def rows_of(repo, prefix: str) -> list[dict]:
    return [i for i in repo.scan() if i["pk"].startswith(prefix)]


def texts(repo, group_uuid: str) -> list[str]:
    return [m.text for m in repo.messages_page(group_uuid, 20, None).items]


def test_transaction_conflicts_are_retried_and_one_group_results(
    faulty, faulty_repo, client, alice, bob
):
    with inject(
        client,
        "TransactWriteItems",
        lambda body: transaction_conflict(len(body["TransactItems"])),
        times=3,
    ) as fault:
        sent = faulty.open_conversation_with(alice, bob, "hi")
    assert fault.injected == 3
    assert sent.created
    assert len(rows_of(faulty_repo, keys.PAIR_PREFIX)) == 1
    assert texts(faulty_repo, sent.group_uuid) == ["hi"]


def test_endless_conflicts_give_a_clear_error_after_bounded_attempts(
    faulty, faulty_repo, client, alice, bob
):
    with inject(
        client, "TransactWriteItems", lambda body: transaction_conflict(len(body["TransactItems"]))
    ) as fault:
        with pytest.raises(ContentionExhausted, match="still contended"):
            faulty.open_conversation_with(alice, bob, "hi")
    assert fault.injected == MAX_ATTEMPTS
    assert list(faulty_repo.scan()) == []  # nothing half-written


def test_throttled_writes_are_retried_by_the_client(faulty, faulty_repo, client, alice, bob):
    group = faulty.open_conversation_with(alice, bob, "start").group_uuid
    with inject(client, "PutItem", lambda body: throttled(), times=2) as fault:
        message = faulty.send_message(alice, group, "through the throttle")
    assert fault.injected == 2
    assert faulty_repo.messages_page(group, 20, None).items[-1].uuid == message.uuid


def test_a_put_whose_answer_was_lost_is_stored_once(faulty, faulty_repo, client, ddb, alice, bob):
    """The engine stores the message, the answer never arrives (read timeout), botocore sends the
    put again and its condition fails: that is our own write, not a key collision."""
    group = faulty.open_conversation_with(alice, bob, "start").group_uuid
    lost: list[str] = []

    def store_then_time_out(request, **_):
        if not request.headers.get("X-Amz-Target", b"").endswith(b".PutItem") or lost:
            return None
        ddb.put_item(**json.loads(request.body))  # the engine commits the write...
        lost.append(request.url)
        raise ReadTimeoutError(endpoint_url=request.url)  # ...and its answer is lost

    client.meta.events.register_first("before-send.dynamodb", store_then_time_out)
    try:
        message = faulty.send_message(alice, group, "sent once")
    finally:
        client.meta.events.unregister("before-send.dynamodb", store_then_time_out)
    assert lost
    texts = [m.text for m in faulty_repo.all_messages(group)]
    assert texts == ["start", "sent once"]
    assert faulty_repo.messages_page(group, 20, None).items[-1].uuid == message.uuid


def test_endless_throttling_gives_a_clear_error_and_writes_nothing(
    faulty, faulty_repo, client, alice, bob
):
    group = faulty.open_conversation_with(alice, bob, "start").group_uuid
    with inject(client, "PutItem", lambda body: throttled()) as fault:
        with pytest.raises(ContentionExhausted, match="ProvisionedThroughputExceeded"):
            faulty.send_message(alice, group, "never lands")
    assert fault.injected == RETRY_MAX_ATTEMPTS
    assert texts(faulty_repo, group) == ["start"]


def test_concurrent_openings_with_random_conflicts_still_make_one_group(
    faulty, faulty_repo, client, alice, bob
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
        return faulty.open_conversation_with(sender, recipient, f"m{i}")

    with inject(client, "TransactWriteItems", sometimes_conflict):
        with ThreadPoolExecutor(12) as pool:
            results = list(pool.map(open_from, range(12)))

    assert len({r.group_uuid for r in results}) == 1
    assert len(rows_of(faulty_repo, keys.PAIR_PREFIX)) == 1
    assert len(list(faulty_repo.all_messages(results[0].group_uuid))) == 12


def test_a_dead_endpoint_is_named_and_known_to_be_local(base_settings, table_name, alice):
    dead = replace(base_settings, dynamodb_endpoint_url=f"http://localhost:{free_port()}")
    repo = DynamoMessageRepository(dynamodb_client(dead), table_name, sleep=lambda _: None)
    with pytest.raises(StoreUnavailable, match=r"localhost:\d+") as raised:
        repo.conversations_page(alice.uuid, 20, None)
    assert raised.value.local  # the CLI's hint says to start DynamoDB Local


def test_an_endpoint_that_never_answers_is_given_up_after_bounded_attempts(
    base_settings, table_name, alice
):
    """A paused engine (SIGSTOP) still completes TCP handshakes from its listen backlog and never
    answers: each attempt waits out the read timeout, and there are RETRY_MAX_ATTEMPTS of them
    (a bounded wait: bench/ measures it, tests never compare durations)."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)  # never accepted, never answered
        endpoint = f"http://127.0.0.1:{silent.getsockname()[1]}"
        paused = replace(base_settings, dynamodb_endpoint_url=endpoint)
        client = dynamodb_client(paused)
        sent: list[str] = []
        client.meta.events.register("before-send.dynamodb", lambda request, **_: sent.append(1))
        repo = DynamoMessageRepository(client, table_name, sleep=lambda _: None)
        with pytest.raises(StoreUnavailable):
            repo.conversations_page(alice.uuid, 20, None)
    assert len(sent) == RETRY_MAX_ATTEMPTS
    assert client.meta.config.read_timeout == READ_TIMEOUT_SECONDS


def test_a_transaction_refused_for_good_is_not_retried_and_not_an_outage(
    faulty, faulty_repo, client, alice, bob
):
    """A cancellation no retry changes (a validation error) is tried once, reported as the store
    refusing (503 in the API), and the stream processor treats it as the record's failure."""

    def refused(body):
        return transaction_cancelled("ValidationError", len(body["TransactItems"]))

    with inject(client, "TransactWriteItems", refused) as fault:
        with pytest.raises(StoreRefused) as raised:
            faulty.open_conversation_with(alice, bob, "hi")
    assert fault.injected == 1
    assert not is_outage(raised.value)
    assert list(faulty_repo.scan()) == []
