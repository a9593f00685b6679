"""Stream processor fixtures: reading a table's stream, groups of any size, the conversation rows
as stored, and faults DynamoDB Local never shows (GSI lag, a crash right after a write)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest

from cruddur.aws import dynamodb_client, dynamodb_streams_client
from cruddur.config import Settings
from cruddur.messaging import keys, schema
from cruddur.messaging.fake import StaticUserDirectory
from cruddur.messaging.models import Message, UserRef
from cruddur.messaging.repository import DynamoMessageRepository
from cruddur.messaging.services import MessagingService
from cruddur.streams.shards import read_all_records
from cruddur.users.models import demo_user_uuid


def user(handle: str) -> UserRef:
    return UserRef(uuid=demo_user_uuid(handle), handle=handle, display_name=handle.title())


def read_stream(settings: Settings) -> list[dict[str, Any]]:
    """Every record of the table's stream so far, shards in order (a test's stand-in for Lambda)."""
    arn = schema.stream_arn(dynamodb_client(settings), settings.table_name)
    assert arn, "the test table has no stream"
    return read_all_records(dynamodb_streams_client(settings), arn)


def message_records(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        r
        for r in records
        if r["eventName"] == "INSERT" and r["dynamodb"]["Keys"]["pk"]["S"].startswith("MSG#")
    ]


def conversation_rows(repo: DynamoMessageRepository) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """Every conversation row of the table, by (owner uuid, group uuid), read with a consistent
    scan (the truth, not the GSI)."""
    rows: dict[tuple[str, str], list[dict[str, Any]]] = {}
    params: dict[str, Any] = {"TableName": repo.table, "ConsistentRead": True}
    while True:
        page = repo.client.scan(**params)
        for item in page["Items"]:
            pk = item["pk"]["S"]
            if pk.startswith(keys.CONVERSATION_PREFIX):
                owner = keys.user_uuid_from_conversation_pk(pk)
                rows.setdefault((owner, item["message_group_uuid"]["S"]), []).append(item)
        if "LastEvaluatedKey" not in page:
            return rows
        params["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def snapshot(repo: DynamoMessageRepository) -> dict[tuple[str, str], tuple[str, ...]]:
    """The conversation rows as comparable values (key and what they show)."""
    return {
        key: tuple(
            sorted(
                f"{r['sk']['S']}|{r.get('last_message_sk', {}).get('S', '')}|"
                f"{r['message']['S']}|{r['user_uuid']['S']}"
                for r in items
            )
        )
        for key, items in conversation_rows(repo).items()
    }


def assert_one_row_each(repo: DynamoMessageRepository) -> None:
    for (owner, group), items in conversation_rows(repo).items():
        assert len(items) == 1, f"{owner} has {len(items)} rows for group {group}"


def append(repo: DynamoMessageRepository, group: str, sender: UserRef, text: str) -> Message:
    """Send into the group through the use case (conversation rows are the processor's job)."""
    return MessagingService(repo).send_message(sender, group, text)


def newest_by_group(messages: list[Message]) -> dict[str, Message]:
    newest: dict[str, Message] = {}
    for m in messages:
        if m.group_uuid not in newest or m.sk > newest[m.group_uuid].sk:
            newest[m.group_uuid] = m
    return newest


def assert_rows_at(
    repo: DynamoMessageRepository, newest: dict[str, Message], members: dict[str, list[str]]
) -> None:
    """Each member of each group has exactly one row, showing the group's newest message."""
    rows = conversation_rows(repo)
    for group, message in newest.items():
        for member in members[group]:
            items = rows.get((member, group), [])
            assert len(items) == 1, f"{member} has {len(items)} rows for {group}"
            row = items[0]
            assert row["last_message_sk"]["S"] == message.sk
            assert row["message"]["S"] == message.text
            assert row["sk"]["S"] == keys.conversation_sk(message.created_at, group)


def rows_at(
    repo: DynamoMessageRepository, newest: dict[str, Message], members: dict[str, list[str]]
) -> bool:
    """`assert_rows_at` as a condition to poll for."""
    try:
        assert_rows_at(repo, newest, members)
    except AssertionError:
        return False
    return True


def poll_until(
    predicate: Callable[[], bool], timeout: float = 20.0, interval: float = 0.05
) -> bool:
    """Poll `predicate` until it holds or the deadline passes (no fixed sleeps in tests)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


@dataclass
class Groups:
    """Creates groups through the use cases (pair, metadata, membership, conversation rows)."""

    messaging: MessagingService
    members: dict[str, list[str]]

    def direct(self, a: UserRef, b: UserRef, text: str = "hello") -> tuple[str, Message]:
        opened = self.messaging.open_conversation_with(a, b, text)
        self.members[opened.group_uuid] = [a.uuid, b.uuid]
        return opened.group_uuid, opened.message

    def named(
        self, creator: UserRef, others: list[UserRef], text: str = "welcome"
    ) -> tuple[str, Message]:
        service = MessagingService(self.messaging.messages, StaticUserDirectory(others))
        created = service.create_group(creator, "team", [o.handle for o in others], text)
        assert created.message is not None
        self.members[created.group.uuid] = [creator.uuid, *[o.uuid for o in others]]
        return created.group.uuid, created.message


@pytest.fixture
def groups(messaging: MessagingService) -> Groups:
    return Groups(messaging, {})


@pytest.fixture
def people() -> list[UserRef]:
    return [user(h) for h in ("alice", "bob", "carol", "dave", "erin", "frank", "grace")]


@pytest.fixture
def own_client(base_settings: Settings) -> Any:
    """A DynamoDB client of the test's own, for fault hooks that must not reach other tests."""
    return dynamodb_client(base_settings)


@contextmanager
def gsi_lag(client: Any, hide: Callable[[dict[str, Any]], bool]) -> Iterator[list[dict[str, Any]]]:
    """AWS's index is eventually consistent, DynamoDB Local's is not: drop the items `hide`
    selects from every GSI Query answer, as a lagging index would. Yields what was hidden."""
    hidden: list[dict[str, Any]] = []

    def drop(parsed: dict[str, Any], model: Any, context: dict[str, Any], **_: Any) -> None:
        params = context.get("lag_params") or {}
        if model.name != "Query" or not params.get("IndexName"):
            return
        kept = []
        for item in parsed.get("Items", []):
            (hidden if hide(item) else kept).append(item)
        parsed["Items"] = kept
        parsed["Count"] = len(kept)

    def remember(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context["lag_params"] = params

    events = client.meta.events
    events.register("before-parameter-build.dynamodb.Query", remember)
    events.register("after-call.dynamodb.Query", drop)
    try:
        yield hidden
    finally:
        events.unregister("after-call.dynamodb.Query", drop)
        events.unregister("before-parameter-build.dynamodb.Query", remember)


class InjectedCrash(Exception):
    """Stands for the process dying right after a write DynamoDB has committed."""


@contextmanager
def crash_after(client: Any, operation: str, times: int = 1) -> Iterator[list[int]]:
    """Raise InjectedCrash after the first `times` successful `operation` calls (the write is
    committed, the caller never hears of it)."""
    crashed: list[int] = []

    def crash(http_response: Any, model: Any, **_: Any) -> None:
        if model.name == operation and http_response.status_code < 300 and len(crashed) < times:
            crashed.append(1)
            raise InjectedCrash(f"crash after {operation}")

    client.meta.events.register("after-call.dynamodb", crash)
    try:
        yield crashed
    finally:
        client.meta.events.unregister("after-call.dynamodb", crash)
