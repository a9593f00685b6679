"""The use cases on the real table (DynamoDB Local): every access pattern and its guarantees under
concurrency, and data written in the seed's format. The rules alone are tested on the fake in
tests/unit/messaging; the fake and the table agree by tests/integration/messaging/
test_repository_contract_*.py."""

from __future__ import annotations

import itertools
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest

from cruddur.messaging import keys
from cruddur.messaging.errors import GroupNotFound
from cruddur.messaging.fake import StaticUserDirectory
from cruddur.messaging.models import GroupKind, Message, UserRef
from cruddur.messaging.repository import DynamoMessageRepository
from cruddur.messaging.services import MessagingService
from cruddur.streams.moves import move_conversation_rows


@pytest.fixture
def service(messaging: MessagingService) -> MessagingService:
    return messaging


def ticking_clock(start: datetime, step: timedelta = timedelta(seconds=1)):
    """A thread-safe clock that moves `step` forward on every reading."""
    counter = itertools.count()
    lock = threading.Lock()

    def now() -> datetime:
        with lock:
            return start + step * next(counter)

    return now


def conversation_rows(repo: DynamoMessageRepository, user: UserRef) -> list[dict]:
    return [item for item in repo.scan() if item["pk"] == keys.conversation_pk(user.uuid)]


def texts(repo: DynamoMessageRepository, group_uuid: str) -> list[str]:
    """The newest page of the group's messages, oldest first."""
    return [m.text for m in repo.messages_page(group_uuid, 20, None).items]


def every_message(
    repo: DynamoMessageRepository, group_uuid: str, page_size: int = 20
) -> list[Message]:
    """Walk the pages newest to oldest, as the API client does, and return oldest first."""
    pages = []
    cursor = None
    while True:
        page = repo.messages_page(group_uuid, page_size, cursor)
        pages.append(page.items)
        cursor = page.next_cursor
        if cursor is None:
            break
    return [m for chunk in reversed(pages) for m in chunk]


def write_seed_conversation(
    ddb, table_name, a: UserRef, b: UserRef, lines: int, start: datetime | None = None
) -> str:
    """What the seed's own bin/ddb/seed writes: message i at start + i minutes (from now, the last
    ones lie in the future), both conversation rows at the last message, plain puts with
    `isoformat()` timestamps, no pair or group rows."""
    group = keys.new_uuid()
    now = start or datetime.now(UTC)

    def put(**attributes: str) -> None:
        ddb.put_item(TableName=table_name, Item={k: {"S": v} for k, v in attributes.items()})

    last = ""
    for i in range(lines):
        sender = a if i % 2 == 0 else b
        last = (now + timedelta(minutes=i)).isoformat()
        put(
            pk=f"MSG#{group}",
            sk=last,
            message_uuid=keys.new_uuid(),
            message=f"seed line {i}",
            user_uuid=sender.uuid,
            user_display_name=sender.display_name,
            user_handle=sender.handle,
        )
    for owner, other in ((a, b), (b, a)):
        put(
            pk=f"GRP#{owner.uuid}",
            sk=last,
            message_group_uuid=group,
            message=f"seed line {lines - 1}",
            user_uuid=other.uuid,
            user_display_name=other.display_name,
            user_handle=other.handle,
        )
    return group


# --- D: opening conversations ---------------------------------------------------------------


def test_opening_a_conversation_writes_group_members_message_and_both_rows(
    service, repo, alice, bob
):
    sent = service.open_conversation_with(alice, bob, "hello bob")

    assert sent.created
    assert service.membership(sent.group_uuid, alice.uuid) is not None
    assert service.membership(sent.group_uuid, bob.uuid) is not None
    group = repo.get_group(sent.group_uuid)
    assert group is not None and group.kind is GroupKind.DIRECT and group.members_count == 2
    assert [m.text for m in repo.messages_page(sent.group_uuid, 20, None).items] == ["hello bob"]
    (alice_row,) = service.list_conversations(alice).items
    (bob_row,) = service.list_conversations(bob).items
    assert (alice_row.handle, bob_row.handle) == ("bob", "alice")  # each sees the other party
    assert alice_row.message == bob_row.message == "hello bob"
    assert alice_row.last_reply_at == sent.message.created_at


def test_only_conversation_rows_carry_the_index_attribute(service, repo, alice, bob):
    service.open_conversation_with(alice, bob, "hi")
    for item in repo.scan():
        in_index = "message_group_uuid" in item
        assert in_index == item["pk"].startswith(keys.CONVERSATION_PREFIX), item


def test_asking_again_for_the_same_pair_from_either_side_reuses_the_group(
    service, repo, alice, bob
):
    first = service.open_conversation_with(alice, bob, "one")
    again = service.open_conversation_with(bob, alice, "two")
    assert not again.created
    assert again.group_uuid == first.group_uuid
    assert [m.text for m in repo.messages_page(first.group_uuid, 20, None).items] == ["one", "two"]


def test_the_same_pair_opened_20_times_at_once_from_both_sides_is_one_group(
    service, repo, alice, bob
):
    barrier = threading.Barrier(20)

    def open_from(i: int):
        sender, recipient = (alice, bob) if i % 2 else (bob, alice)
        barrier.wait()
        return service.open_conversation_with(sender, recipient, f"message {i}")

    with ThreadPoolExecutor(20) as pool:
        results = list(pool.map(open_from, range(20)))

    groups = {r.group_uuid for r in results}
    assert len(groups) == 1
    assert sum(r.created for r in results) == 1
    (group_uuid,) = groups
    assert sorted(m.text for m in every_message(repo, group_uuid)) == sorted(
        f"message {i}" for i in range(20)
    )
    pairs = [i for i in repo.scan() if i["pk"].startswith(keys.PAIR_PREFIX)]
    metas = [i for i in repo.scan() if i["sk"] == keys.META_SK]
    assert len(pairs) == 1 and len(metas) == 1
    assert len(conversation_rows(repo, alice)) == 1
    assert len(conversation_rows(repo, bob)) == 1


def test_a_named_group_has_every_member_and_a_row_each(service, repo, alice, bob, carol):
    directory = StaticUserDirectory([bob, carol])
    created = MessagingService(repo, directory).create_group(
        alice, "Book club", ["bob", "carol"], "first!"
    )
    members = {m.user_uuid: m for m in service.list_members(alice, created.group.uuid)}
    assert set(members) == {alice.uuid, bob.uuid, carol.uuid}
    assert members[alice.uuid].role == "owner"
    for user in (alice, bob, carol):
        (row,) = service.list_conversations(user).items
        assert row.kind is GroupKind.GROUP and row.group_name == "Book club"
        assert row.handle == "alice"  # a group's row shows the last sender


# --- C: sending ----------------------------------------------------------------------------


def test_a_non_member_cannot_send_or_read(service, repo, alice, bob, carol):
    sent = service.open_conversation_with(alice, bob, "private")
    assert service.membership(sent.group_uuid, carol.uuid) is None
    with pytest.raises(GroupNotFound):
        service.send_message(carol, sent.group_uuid, "let me in")
    assert [m.text for m in repo.messages_page(sent.group_uuid, 20, None).items] == ["private"]


def test_a_group_that_does_not_exist_is_not_found(service, repo, alice):
    with pytest.raises(GroupNotFound):
        service.send_message(alice, keys.new_uuid(), "anyone?")


def test_8_threads_times_200_sends_store_exactly_1600_messages(service, repo, alice, bob):
    group = service.open_conversation_with(alice, bob, "start").group_uuid

    def send(i: int) -> str:
        return service.send_message(alice if i % 2 else bob, group, f"m{i}").uuid

    with ThreadPoolExecutor(8) as pool:
        uuids = list(pool.map(send, range(1600)))

    stored = list(repo.all_messages(group))
    assert len(stored) == 1601
    assert {m.uuid for m in stored} >= set(uuids)


def test_sends_with_a_frozen_clock_all_survive(ddb, table_name, alice, bob):
    frozen = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
    service = MessagingService(DynamoMessageRepository(ddb, table_name), clock=lambda: frozen)
    repo = service.messages
    group = service.open_conversation_with(alice, bob, "start").group_uuid

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda i: service.send_message(alice, group, f"m{i}"), range(1600)))

    stored = list(repo.all_messages(group))
    assert len(stored) == 1601
    assert {m.created_at for m in stored} == {keys.format_timestamp(frozen)}
    assert len({m.sk for m in stored}) == 1601


# --- A: listing messages ---------------------------------------------------------------------


def test_messages_page_newest_first_and_read_oldest_to_newest(ddb, table_name, alice, bob):
    service = MessagingService(
        DynamoMessageRepository(ddb, table_name),
        clock=ticking_clock(datetime(2026, 3, 1, tzinfo=UTC)),
    )
    repo = service.messages
    group = service.open_conversation_with(alice, bob, "m0").group_uuid
    for i in range(1, 45):
        service.send_message(alice, group, f"m{i}")

    first = repo.messages_page(group, 20, None)
    assert [m.text for m in first.items] == [f"m{i}" for i in range(25, 45)]
    assert first.next_cursor is not None
    assert [m.text for m in every_message(repo, group, page_size=7)] == [f"m{i}" for i in range(45)]


def test_a_conversation_across_new_year_lists_fully(ddb, table_name, alice, bob):
    clock = ticking_clock(datetime(2025, 12, 31, 23, 58, tzinfo=UTC), timedelta(minutes=1))
    service = MessagingService(DynamoMessageRepository(ddb, table_name), clock=clock)
    repo = service.messages
    group = service.open_conversation_with(alice, bob, "old year").group_uuid
    for text in ("almost", "midnight!", "happy new year"):
        service.send_message(bob, group, text)

    texts = [m.text for m in repo.messages_page(group, 20, None).items]
    assert texts == ["old year", "almost", "midnight!", "happy new year"]
    assert repo.messages_page(group, 20, None).items[-1].created_at.startswith("2026-01-01")


def test_a_conversation_whose_last_message_is_years_old_still_lists(ddb, table_name, alice, bob):
    service = MessagingService(
        DynamoMessageRepository(ddb, table_name), clock=lambda: datetime(2019, 5, 5, tzinfo=UTC)
    )
    repo = service.messages
    sent = service.open_conversation_with(alice, bob, "long ago")
    assert [c.group_uuid for c in service.list_conversations(alice).items] == [sent.group_uuid]
    assert [m.text for m in repo.messages_page(sent.group_uuid, 20, None).items] == ["long ago"]


# --- B: listing conversations ----------------------------------------------------------------


def test_conversations_are_most_recent_first_and_paginate(ddb, table_name, alice):
    service = MessagingService(
        DynamoMessageRepository(ddb, table_name),
        clock=ticking_clock(datetime(2026, 2, 1, tzinfo=UTC)),
    )
    friends = [UserRef(keys.new_uuid(), f"friend{i}", f"Friend {i}") for i in range(25)]
    for friend in friends:
        service.open_conversation_with(alice, friend, f"hi {friend.handle}")

    seen = []
    cursor = None
    while True:
        page = service.list_conversations(alice, limit=10, cursor=cursor)
        seen.extend(page.items)
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert [c.handle for c in seen] == [f.handle for f in reversed(friends)]


# --- E: moving conversation rows -------------------------------------------------------------


def test_a_row_moves_forward_only(ddb, table_name, alice, bob):
    service = MessagingService(
        DynamoMessageRepository(ddb, table_name),
        clock=ticking_clock(datetime(2026, 4, 1, tzinfo=UTC)),
    )
    repo = service.messages
    sent = service.open_conversation_with(alice, bob, "first")
    newer = service.send_message(bob, sent.group_uuid, "newer")
    older_than_newer = service.send_message(alice, sent.group_uuid, "newest")

    move_conversation_rows(repo, older_than_newer)
    move_conversation_rows(repo, newer)  # arrives late: must not win

    for user in (alice, bob):
        (row,) = service.list_conversations(user).items
        assert row.message == "newest"
        assert row.last_reply_at == older_than_newer.created_at
        assert len(conversation_rows(repo, user)) == 1


def test_50_concurrent_moves_leave_one_row_per_member_at_the_newest(ddb, table_name, alice, bob):
    service = MessagingService(
        DynamoMessageRepository(ddb, table_name),
        clock=ticking_clock(datetime(2026, 4, 1, tzinfo=UTC)),
    )
    repo = service.messages
    group = service.open_conversation_with(alice, bob, "start").group_uuid
    messages = [service.send_message(alice, group, f"m{i}") for i in range(50)]
    barrier = threading.Barrier(50)

    def move(message: Message):
        barrier.wait()
        return move_conversation_rows(repo, message)

    with ThreadPoolExecutor(50) as pool:
        list(pool.map(move, reversed(messages)))

    for user in (alice, bob):
        rows = conversation_rows(repo, user)
        assert len(rows) == 1
        assert rows[0]["message"] == "m49"
        assert rows[0]["last_message_sk"] == messages[-1].sk


def test_two_messages_in_the_same_microsecond_settle_on_the_larger_key(ddb, table_name, alice, bob):
    frozen = datetime(2026, 7, 1, tzinfo=UTC)
    service = MessagingService(DynamoMessageRepository(ddb, table_name), clock=lambda: frozen)
    repo = service.messages
    start = service.open_conversation_with(alice, bob, "start")
    group = start.group_uuid
    a = service.send_message(alice, group, "a")
    b = service.send_message(bob, group, "b")
    # one timestamp for all three: the message key's uuid decides which is newest
    newest = max(start.message, a, b, key=lambda m: m.sk)

    for message in (a, b, a):
        move_conversation_rows(repo, message)

    for user in (alice, bob):
        (row,) = service.list_conversations(user).items
        assert row.message == newest.text
        assert len(conversation_rows(repo, user)) == 1


# --- the seed's format -------------------------------------------------------------------------


def test_rows_in_the_seeds_format_are_read_and_moved(service, repo, ddb, table_name, alice, bob):
    old = datetime(2023, 4, 1, 10, 0, tzinfo=UTC)
    group = write_seed_conversation(ddb, table_name, alice, bob, lines=1, start=old)

    (message,) = repo.messages_page(group, 20, None).items
    assert (message.text, message.created_at) == ("seed line 0", "2023-04-01T10:00:00.000000+00:00")
    assert service.list_conversations(alice).items[0].group_uuid == group
    assert service.membership(group, alice.uuid) is not None
    assert service.membership(group, keys.new_uuid()) is None

    reply = service.send_message(bob, group, "our reply")
    move_conversation_rows(repo, reply)
    for user in (alice, bob):
        rows = conversation_rows(repo, user)
        assert len(rows) == 1 and rows[0]["message"] == "our reply"


def test_members_of_a_seed_format_group_are_its_row_owners(
    service, repo, ddb, table_name, alice, bob
):
    group = write_seed_conversation(ddb, table_name, alice, bob, lines=2)
    members = service.list_members(alice, group)
    assert {(m.user_uuid, m.handle) for m in members} == {(alice.uuid, "alice"), (bob.uuid, "bob")}


def test_opening_a_pair_that_talks_in_the_seeds_format_reuses_that_group(
    service, repo, ddb, table_name, alice, bob
):
    past = datetime(2023, 4, 1, 10, 0, tzinfo=UTC)
    group = write_seed_conversation(ddb, table_name, alice, bob, lines=2, start=past)

    reopened = service.open_conversation_with(bob, alice, "found you")

    assert (reopened.group_uuid, reopened.created) == (group, False)
    assert (
        service.find_direct_group(alice.uuid, bob.uuid) == group
    )  # adopted: one GetItem next time
    assert service.open_conversation_with(alice, bob, "again").group_uuid == group
    assert [m.text for m in repo.messages_page(group, 20, None).items] == [
        "seed line 0",
        "seed line 1",
        "found you",
        "again",
    ]


def test_a_reply_into_a_future_dated_seed_conversation_becomes_its_latest(
    service, repo, ddb, table_name, alice, bob
):
    group = write_seed_conversation(ddb, table_name, alice, bob, lines=6)

    reply = service.send_message(bob, group, "a reply now")
    move_conversation_rows(repo, reply)

    assert [m.text for m in repo.messages_page(group, 20, None).items][-1] == "a reply now"
    for user in (alice, bob):
        (row,) = service.list_conversations(user).items
        assert row.message == "a reply now"

    by_handle = service.open_conversation_with(alice, bob, "and by handle")
    move_conversation_rows(repo, by_handle.message)
    assert by_handle.group_uuid == group
    assert [m.text for m in repo.messages_page(group, 20, None).items][-2:] == [
        "a reply now",
        "and by handle",
    ]
    assert service.list_conversations(bob).items[0].message == "and by handle"
