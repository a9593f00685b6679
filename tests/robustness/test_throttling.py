"""Throttling DynamoDB Local never does, injected at the HTTP layer of the API's own client
(tests/faults.py) while several clients send and open conversations at once: gusts (a share of
every call throttled) are absorbed by the retries; a storm (every call throttled) ends in 503
`try_again` with Retry-After once the retries are spent. Never a 500, and nothing half-written:
a send answered 503 is not stored, a first contact answered 503 left no pair, group, member or
conversation row behind, and every group in the table is whole."""

from __future__ import annotations

import random
import threading
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from functools import partial
from typing import Any

import pytest

from cruddur.api import create_app
from cruddur.aws import dynamodb_client
from cruddur.messaging import keys
from cruddur.messaging.repository import DynamoMessageRepository
from faults import inject, throttled, transaction_cancelled
from fixtures_api import ApiClient, ApiResponse, FlaskTransport

from .conftest import LONG, print_figures

OPERATIONS = ("GetItem", "PutItem", "Query", "TransactWriteItems")
WRITES = ("PutItem", "TransactWriteItems")
GUST_SHARE = 0.3
CLIENTS = 8 if LONG else 4
SENDS_PER_CLIENT = 40 if LONG else 5


class Weather:
    """Decides, call by call, whether DynamoDB throttles: a share of every call in a gust, every
    write in a storm (reads pass, so each request gets as far as its write). A transaction is
    cancelled with ThrottlingError, as DynamoDB does."""

    def __init__(self, share: float) -> None:
        self.share = share
        self.storm = False
        self.throttled = 0
        self._random = random.Random(13)
        self._lock = threading.Lock()

    def __call__(self, operation: str, body: dict[str, Any]) -> Any:
        with self._lock:
            if self.storm:
                hit = operation in WRITES
            else:
                hit = self._random.random() < self.share
            if not hit:
                return None
            self.throttled += 1
        if "TransactItems" in body:
            return transaction_cancelled("ThrottlingError", len(body["TransactItems"]))
        return throttled()


@pytest.fixture
def throttled_api(settings, table_name, users, register, signing_key):
    client = dynamodb_client(settings)
    app = create_app(settings, messages=DynamoMessageRepository(client, table_name), users=users)
    return client, ApiClient(FlaskTransport(app))


def table_items(repo: DynamoMessageRepository) -> list[dict[str, Any]]:
    return list(repo.scan())


def assert_every_group_whole(items: list[dict[str, Any]]) -> None:
    """Every pair names a group with metadata and two members; every message and every
    conversation row belongs to a group with metadata; every group has a member."""
    metas, members = set(), defaultdict(set)
    for item in items:
        pk, sk = item["pk"], item["sk"]
        if pk.startswith(keys.GROUP_PREFIX) and sk == "META":
            metas.add(pk[len(keys.GROUP_PREFIX) :])
        elif pk.startswith(keys.GROUP_PREFIX):
            members[pk[len(keys.GROUP_PREFIX) :]].add(sk)
    for item in items:
        pk = item["pk"]
        if pk.startswith(keys.PAIR_PREFIX):
            assert item["group_uuid"] in metas, item
            assert len(members[item["group_uuid"]]) == 2, item
        elif pk.startswith(keys.MESSAGE_PREFIX):
            assert pk[len(keys.MESSAGE_PREFIX) :] in metas, item
        elif pk.startswith(keys.CONVERSATION_PREFIX):
            assert item["message_group_uuid"] in metas, item
    assert all(members[group] for group in metas)


def test_throttling_is_retried_then_503_and_never_half_writes(
    throttled_api, settings, table_name, register
):
    client, anonymous = throttled_api
    repo = DynamoMessageRepository(dynamodb_client(settings), table_name)
    handles = [f"client{i}" for i in range(CLIENTS)]
    for handle in handles + ["peer"]:
        register(handle)
    clients = [anonymous.as_user(h) for h in handles]
    groups = [c.send_to_handle("peer", "hello").body["message_group_uuid"] for c in clients]
    weather = Weather(GUST_SHARE)
    answers: list[tuple[str, str, ApiResponse]] = []  # (kind, text or handle, answer)
    lock = threading.Lock()

    def client_run(index: int, sends: int, first_contact: bool) -> None:
        api = clients[index]
        for n in range(sends):
            text = f"client {index} {'storm' if weather.storm else 'gust'} {n}"
            answer = api.send_to_group(groups[index], text)
            with lock:
                answers.append(("send", text, answer))
        if first_contact:
            other = handles[(index + 1) % len(handles)]
            answer = api.send_to_handle(other, f"first contact from client {index}")
            with lock:
                answers.append(("first", f"first contact from client {index}", answer))

    with ExitStack() as faults:
        for operation in OPERATIONS:
            faults.enter_context(inject(client, operation, partial(weather, operation)))
        with ThreadPoolExecutor(CLIENTS) as pool:
            list(pool.map(lambda i: client_run(i, SENDS_PER_CLIENT, i % 2 == 0), range(CLIENTS)))
        gusts = list(answers)
        weather.storm = True
        # one request each: a send from the even clients, a first contact from the odd ones
        with ThreadPoolExecutor(CLIENTS) as pool:
            list(pool.map(lambda i: client_run(i, 1 - i % 2, i % 2 == 1), range(CLIENTS)))
    storm = answers[len(gusts) :]

    statuses = {a.status for _, _, a in answers}
    assert statuses <= {200, 503}, [a for _, _, a in answers if a.status not in (200, 503)][:3]
    refused = [a for _, _, a in answers if a.status == 503]
    assert all(a.errors == ["try_again"] and a.header("Retry-After") for a in refused), refused[:3]
    # a storm outlasts the retries: every call of it is refused
    assert all(a.status == 503 for _, _, a in storm), [a for _, _, a in storm if a.status != 503]

    items = table_items(repo)
    stored = {i["message"] for i in items if i["pk"].startswith(keys.MESSAGE_PREFIX)}
    for kind, text, answer in answers:
        assert (text in stored) == (answer.status == 200), (kind, text, answer.status)
    assert_every_group_whole(items)
    pairs = [i for i in items if i["pk"].startswith(keys.PAIR_PREFIX)]
    opened = sum(1 for kind, _, a in answers if kind == "first" and a.status == 200)
    assert len(pairs) == len(clients) + opened

    print_figures(
        "throttling",
        gust_answers=len(gusts),
        gust_503=sum(1 for _, _, a in gusts if a.status == 503),
        storm_answers=len(storm),
        throttled_calls=weather.throttled,
    )
