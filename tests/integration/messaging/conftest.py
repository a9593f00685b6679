"""The repository contract's fixture and helpers, shared by test_repository_contract_*.py.

One contract, two implementations: `InMemoryMessageRepository` (the service tests' fake) and
`DynamoMessageRepository` on DynamoDB Local answer every access pattern alike: orderings, paging,
tie-breakers, conditional writes and their outcomes, and typed round trips. The fake half needs no
engine; the DynamoDB half gets a fresh table per test."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from cruddur.cache.memory import InProcessCache
from cruddur.cache.messaging import CachedMessageRepository
from cruddur.messaging import items, keys
from cruddur.messaging.fake import InMemoryMessageRepository
from cruddur.messaging.models import (
    Conversation,
    DirectPair,
    GroupKind,
    Message,
    MessageGroup,
    NewGroup,
    UserRef,
    WriteOutcome,
)
from cruddur.messaging.ports import MessageRepository
from cruddur.messaging.repository import DynamoMessageRepository
from cruddur.messaging.services import new_group_rows, new_message

BASE = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(params=["memory", "dynamodb", "cached"])
def store(request: pytest.FixtureRequest) -> MessageRepository:
    """The repository under contract: the fake, the table on DynamoDB Local (only this half
    starts the engine), or the fake behind the cache (reads from the cache must agree too)."""
    if request.param == "memory":
        return InMemoryMessageRepository()
    if request.param == "cached":
        return CachedMessageRepository(InMemoryMessageRepository(), InProcessCache())
    return request.getfixturevalue("repo")


# --- helpers --------------------------------------------------------------------------------


def at(seconds: float) -> str:
    """A timestamp `seconds` after BASE, in the table's fixed-width format."""
    return keys.format_timestamp(BASE + timedelta(seconds=seconds))


def put_conversation_row(store: MessageRepository, row: Conversation) -> None:
    """Write a conversation row as it is, as the seed's tools or a half-done move leave them."""
    if isinstance(store, InMemoryMessageRepository):
        store.put_conversation_row(row)
    elif isinstance(store, CachedMessageRepository):
        # written behind the cache's back, as other tools do: it learns of it from the stream
        put_conversation_row(store.inner, row)
        keys_of_row = {"pk": {"S": f"GRP#{row.owner_uuid}"}, "sk": {"S": row.sk}}
        store.rows_changed([{"eventName": "INSERT", "dynamodb": {"Keys": keys_of_row}}])
    else:
        assert isinstance(store, DynamoMessageRepository)
        store.client.put_item(TableName=store.table, Item=items.conversation_item(row))


def conversation_row(
    owner: UserRef,
    group_uuid: str,
    shown: UserRef,
    timestamp: str,
    *,
    message: Message | None = None,
    kind_recorded: bool = True,
) -> Conversation:
    """A conversation row of `owner` for the group at `timestamp`; our format unless
    `kind_recorded` is false (the seed's: bare timestamp sort key, no kind, no message key)."""
    return Conversation(
        owner_uuid=owner.uuid,
        group_uuid=group_uuid,
        user_uuid=shown.uuid,
        handle=shown.handle,
        display_name=shown.display_name,
        message=message.text if message else f"at {timestamp}",
        last_reply_at=timestamp,
        sk=keys.conversation_sk(timestamp, group_uuid) if kind_recorded else timestamp,
        last_message_sk=message.sk if message and kind_recorded else "",
        kind_recorded=kind_recorded,
    )


def direct_group(creator: UserRef, other: UserRef, text: str | None = "hi") -> NewGroup:
    """Every row of a new direct group between the two, with its pair row."""
    group = MessageGroup(
        uuid=keys.new_uuid(),
        kind=GroupKind.DIRECT,
        name=None,
        created_by=creator.uuid,
        created_at=at(0),
        members_count=2,
    )
    rows = new_group_rows(group, creator, [creator, other], text)
    pair = DirectPair(creator.uuid, other.uuid, group.uuid, group.created_at)
    return replace(rows, pair=pair)


def named_group(creator: UserRef, others: list[UserRef], text: str | None = "welcome") -> NewGroup:
    group = MessageGroup(
        uuid=keys.new_uuid(),
        kind=GroupKind.GROUP,
        name="Book club",
        created_by=creator.uuid,
        created_at=at(0),
        members_count=1 + len(others),
    )
    return new_group_rows(group, creator, [creator, *others], text)


def add_messages(
    store: MessageRepository, group_uuid: str, sender: UserRef, n: int
) -> list[Message]:
    """`n` messages one second apart, stored newest first (storage order must not matter);
    returned oldest first."""
    messages = [new_message(group_uuid, sender, f"m{i}", at(i)) for i in range(n)]
    for message in reversed(messages):
        assert store.add_message(message) is WriteOutcome.CREATED
    return messages


def walk_messages(store: MessageRepository, group_uuid: str, size: int) -> list[list[Message]]:
    """Every page of the group's messages, following next_cursor until it ends (bounded)."""
    pages: list[list[Message]] = []
    cursor: str | None = None
    for _ in range(1000):
        page = store.messages_page(group_uuid, size, cursor)
        pages.append(page.items)
        cursor = page.next_cursor
        if cursor is None:
            return pages
    raise AssertionError("next_cursor never ended")


def walk_conversations(
    store: MessageRepository, owner: UserRef, size: int
) -> list[list[Conversation]]:
    pages: list[list[Conversation]] = []
    cursor: str | None = None
    for _ in range(1000):
        page = store.conversations_page(owner.uuid, size, cursor)
        pages.append(page.items)
        cursor = page.next_cursor
        if cursor is None:
            return pages
    raise AssertionError("next_cursor never ended")


def nothing_of(store: MessageRepository, new: NewGroup) -> None:
    """Assert that no row of `new` is stored (its pair row aside)."""
    group_uuid = new.group.uuid
    assert store.get_group(group_uuid) is None
    assert store.list_members(group_uuid) == []
    for member in new.members:
        assert store.get_member(group_uuid, member.user_uuid) is None
    assert list(store.all_messages(group_uuid)) == []
    assert store.group_conversation_rows(group_uuid) == []
    for row in new.conversations:
        assert store.member_conversation_rows(row.owner_uuid, group_uuid) == []
