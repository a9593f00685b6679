"""The messages table against DynamoDB Local: every access pattern and its guarantees."""

from __future__ import annotations

import itertools
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest

from cruddur.messaging import keys
from cruddur.messaging.errors import GroupNotFound
from cruddur.messaging.models import GroupKind, Message, UserRef
from cruddur.messaging.repository import MessageStore


def ticking_clock(start: datetime, step: timedelta = timedelta(seconds=1)):
    """A thread-safe clock that moves `step` forward on every reading."""
    counter = itertools.count()
    lock = threading.Lock()

    def now() -> datetime:
        with lock:
            return start + step * next(counter)

    return now


def conversation_rows(store: MessageStore, user: UserRef) -> list[dict]:
    return [item for item in store.scan() if item["pk"] == keys.conversation_pk(user.uuid)]


def every_message(store: MessageStore, group_uuid: str, page_size: int = 20) -> list[Message]:
    """Walk the pages newest to oldest, as the API client does, and return oldest first."""
    pages = []
    cursor = None
    while True:
        page = store.list_messages(group_uuid, limit=page_size, cursor=cursor)
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


def test_opening_a_conversation_writes_group_members_message_and_both_rows(store, alice, bob):
    sent = store.open_direct_conversation(alice, bob, "hello bob")

    assert sent.created_group
    assert store.is_member(sent.group_uuid, alice.uuid)
    assert store.is_member(sent.group_uuid, bob.uuid)
    group = store.get_group(sent.group_uuid)
    assert group is not None and group.kind is GroupKind.DIRECT and group.members_count == 2
    assert [m.text for m in store.list_messages(sent.group_uuid).items] == ["hello bob"]
    (alice_row,) = store.list_conversations(alice.uuid).items
    (bob_row,) = store.list_conversations(bob.uuid).items
    assert (alice_row.handle, bob_row.handle) == ("bob", "alice")  # each sees the other party
    assert alice_row.message == bob_row.message == "hello bob"
    assert alice_row.last_reply_at == sent.message.created_at


def test_only_conversation_rows_carry_the_index_attribute(store, alice, bob):
    store.open_direct_conversation(alice, bob, "hi")
    for item in store.scan():
        in_index = "message_group_uuid" in item
        assert in_index == item["pk"].startswith(keys.CONVERSATION_PREFIX), item


def test_asking_again_for_the_same_pair_from_either_side_reuses_the_group(store, alice, bob):
    first = store.open_direct_conversation(alice, bob, "one")
    again = store.open_direct_conversation(bob, alice, "two")
    assert not again.created_group
    assert again.group_uuid == first.group_uuid
    assert [m.text for m in store.list_messages(first.group_uuid).items] == ["one", "two"]


def test_the_same_pair_opened_20_times_at_once_from_both_sides_is_one_group(store, alice, bob):
    barrier = threading.Barrier(20)

    def open_from(i: int):
        sender, recipient = (alice, bob) if i % 2 else (bob, alice)
        barrier.wait()
        return store.open_direct_conversation(sender, recipient, f"message {i}")

    with ThreadPoolExecutor(20) as pool:
        results = list(pool.map(open_from, range(20)))

    groups = {r.group_uuid for r in results}
    assert len(groups) == 1
    assert sum(r.created_group for r in results) == 1
    (group_uuid,) = groups
    assert sorted(m.text for m in every_message(store, group_uuid)) == sorted(
        f"message {i}" for i in range(20)
    )
    pairs = [i for i in store.scan() if i["pk"].startswith(keys.PAIR_PREFIX)]
    metas = [i for i in store.scan() if i["sk"] == keys.META_SK]
    assert len(pairs) == 1 and len(metas) == 1
    assert len(conversation_rows(store, alice)) == 1
    assert len(conversation_rows(store, bob)) == 1


def test_a_named_group_has_every_member_and_a_row_each(store, alice, bob, carol):
    sent = store.create_group(alice, [bob, carol], "Book club", "first!")
    members = {m.user_uuid: m for m in store.list_members(sent.group_uuid)}
    assert set(members) == {alice.uuid, bob.uuid, carol.uuid}
    assert members[alice.uuid].role == "owner"
    for user in (alice, bob, carol):
        (row,) = store.list_conversations(user.uuid).items
        assert row.kind is GroupKind.GROUP and row.group_name == "Book club"
        assert row.handle == "alice"  # a group's row shows the last sender


# --- C: sending ----------------------------------------------------------------------------


def test_a_non_member_cannot_send_or_read(store, alice, bob, carol):
    sent = store.open_direct_conversation(alice, bob, "private")
    assert not store.is_member(sent.group_uuid, carol.uuid)
    with pytest.raises(GroupNotFound):
        store.send_to_group(sent.group_uuid, carol, "let me in")
    assert [m.text for m in store.list_messages(sent.group_uuid).items] == ["private"]


def test_a_group_that_does_not_exist_is_not_found(store, alice):
    with pytest.raises(GroupNotFound):
        store.send_to_group(keys.new_uuid(), alice, "anyone?")


def test_8_threads_times_200_sends_store_exactly_1600_messages(store, alice, bob):
    group = store.open_direct_conversation(alice, bob, "start").group_uuid

    def send(i: int) -> str:
        return store.send_to_group(group, alice if i % 2 else bob, f"m{i}").uuid

    with ThreadPoolExecutor(8) as pool:
        uuids = list(pool.map(send, range(1600)))

    stored = list(store.all_messages(group))
    assert len(stored) == 1601
    assert {m.uuid for m in stored} >= set(uuids)


def test_sends_with_a_frozen_clock_all_survive(ddb, table_name, alice, bob):
    frozen = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
    store = MessageStore(ddb, table_name, clock=lambda: frozen)
    group = store.open_direct_conversation(alice, bob, "start").group_uuid

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda i: store.send_to_group(group, alice, f"m{i}"), range(1600)))

    stored = list(store.all_messages(group))
    assert len(stored) == 1601
    assert {m.created_at for m in stored} == {keys.format_timestamp(frozen)}
    assert len({m.sk for m in stored}) == 1601


# --- A: listing messages ---------------------------------------------------------------------


def test_messages_page_newest_first_and_read_oldest_to_newest(ddb, table_name, alice, bob):
    store = MessageStore(ddb, table_name, clock=ticking_clock(datetime(2026, 3, 1, tzinfo=UTC)))
    group = store.open_direct_conversation(alice, bob, "m0").group_uuid
    for i in range(1, 45):
        store.append_message(group, alice, f"m{i}")

    first = store.list_messages(group, limit=20)
    assert [m.text for m in first.items] == [f"m{i}" for i in range(25, 45)]
    assert first.next_cursor is not None
    assert [m.text for m in every_message(store, group, page_size=7)] == [
        f"m{i}" for i in range(45)
    ]


def test_a_conversation_across_new_year_lists_fully(ddb, table_name, alice, bob):
    clock = ticking_clock(datetime(2025, 12, 31, 23, 58, tzinfo=UTC), timedelta(minutes=1))
    store = MessageStore(ddb, table_name, clock=clock)
    group = store.open_direct_conversation(alice, bob, "old year").group_uuid
    for text in ("almost", "midnight!", "happy new year"):
        store.append_message(group, bob, text)

    texts = [m.text for m in store.list_messages(group).items]
    assert texts == ["old year", "almost", "midnight!", "happy new year"]
    assert store.list_messages(group).items[-1].created_at.startswith("2026-01-01")


def test_a_conversation_whose_last_message_is_years_old_still_lists(ddb, table_name, alice, bob):
    store = MessageStore(ddb, table_name, clock=lambda: datetime(2019, 5, 5, tzinfo=UTC))
    sent = store.open_direct_conversation(alice, bob, "long ago")
    assert [c.group_uuid for c in store.list_conversations(alice.uuid).items] == [sent.group_uuid]
    assert [m.text for m in store.list_messages(sent.group_uuid).items] == ["long ago"]


# --- B: listing conversations ----------------------------------------------------------------


def test_conversations_are_most_recent_first_and_paginate(ddb, table_name, alice):
    store = MessageStore(ddb, table_name, clock=ticking_clock(datetime(2026, 2, 1, tzinfo=UTC)))
    friends = [UserRef(keys.new_uuid(), f"friend{i}", f"Friend {i}") for i in range(25)]
    for friend in friends:
        store.open_direct_conversation(alice, friend, f"hi {friend.handle}")

    seen = []
    cursor = None
    while True:
        page = store.list_conversations(alice.uuid, limit=10, cursor=cursor)
        seen.extend(page.items)
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert [c.handle for c in seen] == [f.handle for f in reversed(friends)]


# --- E: moving conversation rows -------------------------------------------------------------


def test_a_row_moves_forward_only(ddb, table_name, alice, bob):
    store = MessageStore(ddb, table_name, clock=ticking_clock(datetime(2026, 4, 1, tzinfo=UTC)))
    sent = store.open_direct_conversation(alice, bob, "first")
    newer = store.append_message(sent.group_uuid, bob, "newer")
    older_than_newer = store.append_message(sent.group_uuid, alice, "newest")

    store.move_conversation_rows(older_than_newer)
    store.move_conversation_rows(newer)  # arrives late: must not win

    for user in (alice, bob):
        (row,) = store.list_conversations(user.uuid).items
        assert row.message == "newest"
        assert row.last_reply_at == older_than_newer.created_at
        assert len(conversation_rows(store, user)) == 1


def test_50_concurrent_moves_leave_one_row_per_member_at_the_newest(ddb, table_name, alice, bob):
    store = MessageStore(ddb, table_name, clock=ticking_clock(datetime(2026, 4, 1, tzinfo=UTC)))
    group = store.open_direct_conversation(alice, bob, "start").group_uuid
    messages = [store.append_message(group, alice, f"m{i}") for i in range(50)]
    barrier = threading.Barrier(50)

    def move(message: Message):
        barrier.wait()
        return store.move_conversation_rows(message)

    with ThreadPoolExecutor(50) as pool:
        list(pool.map(move, reversed(messages)))

    for user in (alice, bob):
        rows = conversation_rows(store, user)
        assert len(rows) == 1
        assert rows[0]["message"] == "m49"
        assert rows[0]["last_message_sk"] == messages[-1].sk


def test_two_messages_in_the_same_microsecond_settle_on_the_larger_key(ddb, table_name, alice, bob):
    frozen = datetime(2026, 7, 1, tzinfo=UTC)
    store = MessageStore(ddb, table_name, clock=lambda: frozen)
    start = store.open_direct_conversation(alice, bob, "start")
    group = start.group_uuid
    a = store.append_message(group, alice, "a")
    b = store.append_message(group, bob, "b")
    # one timestamp for all three: the message key's uuid decides which is newest
    newest = max(start.message, a, b, key=lambda m: m.sk)

    for message in (a, b, a):
        store.move_conversation_rows(message)

    for user in (alice, bob):
        (row,) = store.list_conversations(user.uuid).items
        assert row.message == newest.text
        assert len(conversation_rows(store, user)) == 1


# --- the seed's format -------------------------------------------------------------------------


def test_rows_in_the_seeds_format_are_read_and_moved(store, ddb, table_name, alice, bob):
    old = datetime(2023, 4, 1, 10, 0, tzinfo=UTC)
    group = write_seed_conversation(ddb, table_name, alice, bob, lines=1, start=old)

    (message,) = store.list_messages(group).items
    assert (message.text, message.created_at) == ("seed line 0", "2023-04-01T10:00:00.000000+00:00")
    assert store.list_conversations(alice.uuid).items[0].group_uuid == group
    assert store.is_member(group, alice.uuid) and not store.is_member(group, keys.new_uuid())

    reply = store.send_to_group(group, bob, "our reply")
    store.move_conversation_rows(reply)
    for user in (alice, bob):
        rows = conversation_rows(store, user)
        assert len(rows) == 1 and rows[0]["message"] == "our reply"


def test_members_of_a_seed_format_group_are_its_row_owners(store, ddb, table_name, alice, bob):
    group = write_seed_conversation(ddb, table_name, alice, bob, lines=2)
    members = store.list_members(group)
    assert {(m.user_uuid, m.handle) for m in members} == {(alice.uuid, "alice"), (bob.uuid, "bob")}


def test_opening_a_pair_that_talks_in_the_seeds_format_reuses_that_group(
    store, ddb, table_name, alice, bob
):
    past = datetime(2023, 4, 1, 10, 0, tzinfo=UTC)
    group = write_seed_conversation(ddb, table_name, alice, bob, lines=2, start=past)

    reopened = store.open_direct_conversation(bob, alice, "found you")

    assert (reopened.group_uuid, reopened.created_group) == (group, False)
    assert store.find_direct_group(alice.uuid, bob.uuid) == group  # adopted: one GetItem next time
    assert store.open_direct_conversation(alice, bob, "again").group_uuid == group
    assert [m.text for m in store.list_messages(group).items] == [
        "seed line 0",
        "seed line 1",
        "found you",
        "again",
    ]


def test_a_reply_into_a_future_dated_seed_conversation_becomes_its_latest(
    store, ddb, table_name, alice, bob
):
    group = write_seed_conversation(ddb, table_name, alice, bob, lines=6)

    reply = store.send_to_group(group, bob, "a reply now")
    store.move_conversation_rows(reply)

    assert [m.text for m in store.list_messages(group).items][-1] == "a reply now"
    for user in (alice, bob):
        (row,) = store.list_conversations(user.uuid).items
        assert row.message == "a reply now"

    by_handle = store.open_direct_conversation(alice, bob, "and by handle")
    store.move_conversation_rows(by_handle.message)
    assert by_handle.group_uuid == group
    assert [m.text for m in store.list_messages(group).items][-2:] == [
        "a reply now",
        "and by handle",
    ]
    assert store.list_conversations(bob.uuid).items[0].message == "and by handle"
