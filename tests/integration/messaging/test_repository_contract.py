"""One contract, two implementations: `InMemoryMessageRepository` (the service tests' fake) and
`DynamoMessageRepository` on DynamoDB Local answer every access pattern alike: orderings, paging,
tie-breakers, conditional writes and their outcomes, and typed round trips. The fake half needs no
engine; the DynamoDB half gets a fresh table per test."""

from __future__ import annotations

import inspect
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from cruddur.messaging import items, keys
from cruddur.messaging.fake import InMemoryMessageRepository
from cruddur.messaging.models import (
    MAX_GROUP_MEMBERS,
    MAX_PAGE_SIZE,
    Conversation,
    DirectPair,
    GroupKind,
    Message,
    MessageGroup,
    NewGroup,
    Page,
    UserRef,
    WriteOutcome,
)
from cruddur.messaging.ports import MessageRepository
from cruddur.messaging.repository import DynamoMessageRepository
from cruddur.messaging.services import new_group_rows, new_message
from cruddur.streams.moves import moved_row

BASE = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(params=["memory", "dynamodb"])
def store(request: pytest.FixtureRequest) -> MessageRepository:
    """The repository under contract: the fake, or the table on DynamoDB Local (only this half
    starts the engine)."""
    if request.param == "memory":
        return InMemoryMessageRepository()
    return request.getfixturevalue("repo")


# --- helpers --------------------------------------------------------------------------------


def at(seconds: float) -> str:
    """A timestamp `seconds` after BASE, in the table's fixed-width format."""
    return keys.format_timestamp(BASE + timedelta(seconds=seconds))


def put_conversation_row(store: MessageRepository, row: Conversation) -> None:
    """Write a conversation row as it is, as the seed's tools or a half-done move leave them."""
    if isinstance(store, InMemoryMessageRepository):
        store.put_conversation_row(row)
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


# --- both classes implement the Protocol ------------------------------------------------------


def protocol_methods() -> list[str]:
    return sorted(
        name
        for name, member in vars(MessageRepository).items()
        if callable(member) and not name.startswith("_")
    )


def test_the_contract_covers_every_method_of_the_protocol():
    # a method added to the Protocol must be added here, and to the contract below
    assert protocol_methods() == sorted(
        [
            "messages_page",
            "all_messages",
            "newest_message",
            "add_message",
            "conversations_page",
            "member_conversation_rows",
            "seed_format_groups_with",
            "get_group",
            "get_member",
            "list_members",
            "get_pair",
            "add_pair",
            "create_group",
            "group_conversation_rows",
            "replace_conversation_row",
            "delete_conversation_row",
            "describe",
        ]
    )


@pytest.mark.parametrize("implementation", [InMemoryMessageRepository, DynamoMessageRepository])
@pytest.mark.parametrize("name", protocol_methods())
def test_each_implementation_has_every_protocol_method_with_the_same_parameters(
    implementation: type, name: str
):
    expected = inspect.signature(getattr(MessageRepository, name))
    method = getattr(implementation, name, None)
    assert method is not None, f"{implementation.__name__} has no {name}"
    actual = inspect.signature(method)
    assert list(actual.parameters.values()) == list(expected.parameters.values())
    assert actual.return_annotation == expected.return_annotation


# --- A: a group's messages: ordering and paging -------------------------------------------------


def test_the_newest_page_of_messages_is_returned_oldest_to_newest(store, alice):
    group = keys.new_uuid()
    messages = add_messages(store, group, alice, 5)

    page = store.messages_page(group, 3, None)

    assert page.items == messages[2:]
    assert page.next_cursor is not None


def test_all_messages_are_oldest_first(store, alice):
    group = keys.new_uuid()
    messages = add_messages(store, group, alice, 5)
    assert list(store.all_messages(group)) == messages


def test_newest_message_is_the_last_one_or_none_for_an_empty_group(store, alice):
    group = keys.new_uuid()
    assert store.newest_message(group) is None
    messages = add_messages(store, group, alice, 3)
    assert store.newest_message(group) == messages[-1]


def test_an_unknown_group_has_an_empty_page_without_a_cursor(store):
    assert store.messages_page(keys.new_uuid(), 20, None) == Page(items=[], next_cursor=None)


@pytest.mark.parametrize("count, size", [(7, 3), (6, 3), (1, 1), (2, 5)])
def test_following_next_cursor_walks_every_message_once_in_order_and_ends(
    store, alice, count, size
):
    group = keys.new_uuid()
    messages = add_messages(store, group, alice, count)

    pages = walk_messages(store, group, size)

    assert all(len(page) <= size for page in pages)
    assert [m for page in reversed(pages) for m in page] == messages


def test_a_page_short_of_the_size_is_the_last_one(store, alice):
    group = keys.new_uuid()
    add_messages(store, group, alice, 7)
    assert [len(page) for page in walk_messages(store, group, 3)] == [3, 3, 1]


def test_a_full_page_always_has_a_cursor_even_when_no_row_follows(store, alice):
    """DynamoDB stops a query at its Limit without knowing whether more rows follow: rows ending
    exactly at a page boundary lead to one empty page without a cursor. The fake does the same."""
    group = keys.new_uuid()
    add_messages(store, group, alice, 6)

    assert [len(page) for page in walk_messages(store, group, 3)] == [3, 3, 0]
    assert [len(page) for page in walk_messages(store, group, 6)] == [6, 0]


def test_a_page_size_above_the_maximum_is_capped(store, alice):
    group = keys.new_uuid()
    messages = add_messages(store, group, alice, MAX_PAGE_SIZE + 1)

    page = store.messages_page(group, MAX_PAGE_SIZE * 5, None)

    assert page.items == messages[1:]
    assert page.next_cursor is not None
    rest = store.messages_page(group, MAX_PAGE_SIZE * 5, page.next_cursor)
    assert rest.items == messages[:1]


def test_a_page_size_below_one_returns_one_row(store, alice):
    group = keys.new_uuid()
    messages = add_messages(store, group, alice, 2)
    assert store.messages_page(group, 0, None).items == messages[-1:]


def test_a_message_cursor_never_reaches_another_group(store, alice, bob):
    mine, theirs = keys.new_uuid(), keys.new_uuid()
    add_messages(store, mine, alice, 4)
    other_messages = add_messages(store, theirs, bob, 4)

    cursor = store.messages_page(mine, 2, None).next_cursor  # after mine's m2
    assert cursor is not None
    page = store.messages_page(theirs, 20, cursor)

    # only the other group's rows older than the cursor's sort key, nothing of `mine`
    assert page.items == [m for m in other_messages if m.sk < keys.decode_cursor(cursor)]
    assert {m.group_uuid for m in page.items} == {theirs}


# --- B: a user's conversations: ordering and paging ---------------------------------------------


def test_conversations_are_most_recent_first_and_every_row_is_reached_once(store, alice, bob):
    rows = [conversation_row(alice, keys.new_uuid(), bob, at(i)) for i in range(7)]
    for row in rows[3:] + rows[:3]:  # storage order must not matter
        put_conversation_row(store, row)

    first = store.conversations_page(alice.uuid, 3, None)
    pages = walk_conversations(store, alice, 3)

    assert first.items == list(reversed(rows))[:3]
    assert [r for page in pages for r in page] == list(reversed(rows))


def test_conversation_pages_end_like_message_pages(store, alice, bob):
    for i in range(4):
        put_conversation_row(store, conversation_row(alice, keys.new_uuid(), bob, at(i)))

    assert [len(page) for page in walk_conversations(store, alice, 2)] == [2, 2, 0]
    assert [len(page) for page in walk_conversations(store, alice, 3)] == [3, 1]
    assert store.conversations_page(bob.uuid, 20, None) == Page(items=[], next_cursor=None)


def test_conversation_pages_are_capped_at_the_maximum(store, alice, bob):
    rows = [conversation_row(alice, keys.new_uuid(), bob, at(i)) for i in range(MAX_PAGE_SIZE + 1)]
    for row in rows:
        put_conversation_row(store, row)

    page = store.conversations_page(alice.uuid, MAX_PAGE_SIZE + 50, None)

    assert page.items == list(reversed(rows))[:MAX_PAGE_SIZE]
    assert page.next_cursor is not None


def test_a_conversation_cursor_never_reaches_another_owner(store, alice, bob, carol):
    for i in range(4):
        put_conversation_row(store, conversation_row(alice, keys.new_uuid(), carol, at(i)))
    bobs = [conversation_row(bob, keys.new_uuid(), carol, at(i)) for i in range(4)]
    for row in bobs:
        put_conversation_row(store, row)

    cursor = store.conversations_page(alice.uuid, 2, None).next_cursor
    assert cursor is not None
    page = store.conversations_page(bob.uuid, 20, cursor)

    assert page.items == [r for r in reversed(bobs) if r.sk < keys.decode_cursor(cursor)]
    assert {r.owner_uuid for r in page.items} == {bob.uuid}


# --- tie-breakers ---------------------------------------------------------------------------


def test_two_messages_of_the_same_microsecond_are_both_kept_in_uuid_order(store, alice, bob):
    group = keys.new_uuid()
    same = at(0)
    first = new_message(group, alice, "from alice", same)
    second = new_message(group, bob, "from bob", same)

    assert store.add_message(first) is WriteOutcome.CREATED
    assert store.add_message(second) is WriteOutcome.CREATED

    by_tie_breaker = sorted([first, second], key=lambda m: m.uuid)
    assert list(store.all_messages(group)) == by_tie_breaker
    assert store.messages_page(group, 20, None).items == by_tie_breaker
    assert store.newest_message(group) == by_tie_breaker[-1]
    assert {m.created_at for m in store.all_messages(group)} == {same}


def test_two_conversation_rows_of_one_owner_at_the_same_time_are_both_kept(store, alice, bob):
    same = at(0)
    rows = [conversation_row(alice, keys.new_uuid(), bob, same) for _ in range(2)]
    for row in rows:
        put_conversation_row(store, row)

    page = store.conversations_page(alice.uuid, 20, None)

    assert page.items == sorted(rows, key=lambda r: r.group_uuid, reverse=True)


# --- C: add_message's outcomes -----------------------------------------------------------------


def test_add_message_is_created_then_already_stored_for_the_very_same_message(store, alice):
    message = new_message(keys.new_uuid(), alice, "hello", at(0))

    assert store.add_message(message) is WriteOutcome.CREATED
    assert store.add_message(message) is WriteOutcome.ALREADY_STORED
    assert list(store.all_messages(message.group_uuid)) == [message]


def test_another_message_under_a_taken_key_fails_and_leaves_the_first(store, alice, bob):
    first = new_message(keys.new_uuid(), alice, "the first", at(0))
    impostor = replace(first, text="another", user_uuid=bob.uuid, handle=bob.handle)

    assert store.add_message(first) is WriteOutcome.CREATED
    assert store.add_message(impostor) is WriteOutcome.CONDITION_FAILED
    assert list(store.all_messages(first.group_uuid)) == [first]


# --- pairs ------------------------------------------------------------------------------------


def test_a_pair_row_is_written_once_whichever_side_writes_it(store, alice, bob):
    pair = DirectPair(alice.uuid, bob.uuid, keys.new_uuid(), at(0))
    rival = DirectPair(bob.uuid, alice.uuid, keys.new_uuid(), at(1))

    assert store.add_pair(pair) is WriteOutcome.CREATED
    assert store.add_pair(pair) is WriteOutcome.CONDITION_FAILED
    assert store.add_pair(rival) is WriteOutcome.CONDITION_FAILED
    assert store.get_pair(alice.uuid, bob.uuid) == pair


def test_get_pair_answers_from_either_side_as_asked(store, alice, bob, carol):
    pair = DirectPair(alice.uuid, bob.uuid, keys.new_uuid(), at(0), seed_format=True)
    store.add_pair(pair)

    assert store.get_pair(bob.uuid, alice.uuid) == DirectPair(
        bob.uuid, alice.uuid, pair.group_uuid, pair.created_at, seed_format=True
    )
    assert store.get_pair(alice.uuid, carol.uuid) is None


# --- D: create_group --------------------------------------------------------------------------


def test_a_created_direct_group_reads_back_row_for_row(store, alice, bob):
    new = direct_group(alice, bob, "hello bob")
    group_uuid = new.group.uuid

    assert store.create_group(new) is WriteOutcome.CREATED

    assert store.get_group(group_uuid) == new.group
    assert store.get_pair(alice.uuid, bob.uuid) == new.pair
    assert store.list_members(group_uuid) == sorted(new.members, key=lambda m: m.user_uuid)
    for member in new.members:
        assert store.get_member(group_uuid, member.user_uuid) == member
    assert list(store.all_messages(group_uuid)) == [new.message]
    for row in new.conversations:
        assert store.conversations_page(row.owner_uuid, 20, None).items == [row]


def test_a_created_named_group_reads_back_row_for_row(store, alice, bob, carol):
    new = named_group(alice, [bob, carol])
    group_uuid = new.group.uuid

    assert store.create_group(new) is WriteOutcome.CREATED

    group = store.get_group(group_uuid)
    assert group == new.group and group.name == "Book club" and group.members_count == 3
    assert store.list_members(group_uuid) == sorted(new.members, key=lambda m: m.user_uuid)
    assert {m.role for m in store.list_members(group_uuid)} == {"owner", "member"}
    assert store.get_member(group_uuid, keys.new_uuid()) is None
    assert sorted(store.group_conversation_rows(group_uuid), key=lambda r: r.owner_uuid) == sorted(
        new.conversations, key=lambda r: r.owner_uuid
    )


def test_a_group_of_the_largest_size_is_created_in_one_write(store, alice):
    others = [
        UserRef(keys.new_uuid(), f"user{i}", f"User {i}") for i in range(MAX_GROUP_MEMBERS - 1)
    ]
    new = named_group(alice, others)

    assert store.create_group(new) is WriteOutcome.CREATED

    assert len(store.list_members(new.group.uuid)) == MAX_GROUP_MEMBERS
    assert len(store.group_conversation_rows(new.group.uuid)) == MAX_GROUP_MEMBERS


def test_a_group_created_without_a_message_has_no_message_row(store, alice, bob):
    new = named_group(alice, [bob], text=None)

    assert store.create_group(new) is WriteOutcome.CREATED

    assert list(store.all_messages(new.group.uuid)) == []
    assert {r.message for r in store.group_conversation_rows(new.group.uuid)} == {""}


def test_create_group_for_a_pair_that_has_its_row_writes_nothing(store, alice, bob):
    winner = direct_group(bob, alice, "bob was first")
    loser = direct_group(alice, bob, "alice too late")
    assert store.create_group(winner) is WriteOutcome.CREATED

    assert store.create_group(loser) is WriteOutcome.CONDITION_FAILED

    nothing_of(store, loser)
    assert store.get_pair(alice.uuid, bob.uuid).group_uuid == winner.group.uuid
    for user in (alice, bob):
        (row,) = store.conversations_page(user.uuid, 20, None).items
        assert row.group_uuid == winner.group.uuid


def test_a_group_whose_metadata_exists_is_not_created_again(store, alice, bob):
    first = named_group(alice, [bob])
    store.create_group(first)
    again = replace(first, message=new_message(first.group.uuid, alice, "again", at(5)))

    assert store.create_group(again) is WriteOutcome.CONDITION_FAILED
    assert list(store.all_messages(first.group.uuid)) == [first.message]


# --- E: conversation rows of a group ------------------------------------------------------------


def test_group_conversation_rows_are_every_members_row_of_that_group_only(store, alice, bob, carol):
    ours = named_group(alice, [bob, carol])
    other = direct_group(alice, bob)
    store.create_group(ours)
    store.create_group(other)

    rows = store.group_conversation_rows(ours.group.uuid)

    assert sorted(rows, key=lambda r: r.owner_uuid) == sorted(
        ours.conversations, key=lambda r: r.owner_uuid
    )
    assert store.group_conversation_rows(keys.new_uuid()) == []


def test_replacing_a_row_with_a_newer_message_moves_it(store, alice, bob):
    new = direct_group(alice, bob)
    store.create_group(new)
    current = next(r for r in new.conversations if r.owner_uuid == alice.uuid)
    reply = new_message(new.group.uuid, bob, "a reply", at(10))

    assert store.replace_conversation_row(current, moved_row(current, reply)) is (
        WriteOutcome.CREATED
    )

    (row,) = store.conversations_page(alice.uuid, 20, None).items
    assert row == moved_row(current, reply)
    assert (row.message, row.last_reply_at, row.last_message_sk) == ("a reply", at(10), reply.sk)
    assert store.member_conversation_rows(alice.uuid, new.group.uuid) == [row]
    assert row in store.group_conversation_rows(new.group.uuid)
    assert current not in store.group_conversation_rows(new.group.uuid)


def test_replacing_a_row_that_already_shows_that_message_or_a_newer_one_fails(store, alice, bob):
    new = direct_group(alice, bob)
    store.create_group(new)
    current = next(r for r in new.conversations if r.owner_uuid == alice.uuid)
    older = new_message(new.group.uuid, bob, "older", at(10))
    newer = new_message(new.group.uuid, bob, "newer", at(20))
    at_newer = moved_row(current, newer)
    store.replace_conversation_row(current, at_newer)

    assert store.replace_conversation_row(at_newer, moved_row(at_newer, newer)) is (
        WriteOutcome.CONDITION_FAILED
    )
    assert store.replace_conversation_row(at_newer, moved_row(at_newer, older)) is (
        WriteOutcome.CONDITION_FAILED
    )
    assert store.conversations_page(alice.uuid, 20, None).items == [at_newer]


def test_replacing_a_row_that_is_gone_fails_and_writes_nothing(store, alice, bob):
    new = direct_group(alice, bob)
    store.create_group(new)
    current = next(r for r in new.conversations if r.owner_uuid == alice.uuid)
    reply = new_message(new.group.uuid, bob, "a reply", at(10))
    store.delete_conversation_row(current)

    assert store.replace_conversation_row(current, moved_row(current, reply)) is (
        WriteOutcome.CONDITION_FAILED
    )
    assert store.conversations_page(alice.uuid, 20, None).items == []


def test_a_same_key_replace_of_a_row_that_is_gone_fails_and_writes_nothing(store, alice, bob):
    group = keys.new_uuid()
    same = at(5)
    one, other = sorted(
        (new_message(group, alice, "one", same), new_message(group, bob, "other", same)),
        key=lambda m: m.sk,
    )
    current = conversation_row(alice, group, bob, same, message=one)  # never stored

    assert store.replace_conversation_row(current, moved_row(current, other)) is (
        WriteOutcome.CONDITION_FAILED
    )
    assert store.conversations_page(alice.uuid, 20, None).items == []


def test_a_stale_row_cannot_replace_one_that_moved_on(store, alice, bob):
    """Two movers read the same row; the second one's `current` is gone once the first moved."""
    new = direct_group(alice, bob)
    store.create_group(new)
    current = next(r for r in new.conversations if r.owner_uuid == alice.uuid)
    first = new_message(new.group.uuid, bob, "first", at(10))
    second = new_message(new.group.uuid, bob, "second", at(20))

    assert store.replace_conversation_row(current, moved_row(current, second)) is (
        WriteOutcome.CREATED
    )
    assert store.replace_conversation_row(current, moved_row(current, first)) is (
        WriteOutcome.CONDITION_FAILED
    )
    assert store.conversations_page(alice.uuid, 20, None).items == [moved_row(current, second)]


def test_a_newer_message_of_the_same_microsecond_replaces_the_row_under_the_same_key(
    store, alice, bob
):
    group = keys.new_uuid()
    same = at(5)
    one, other = sorted(
        (new_message(group, alice, "one", same), new_message(group, bob, "other", same)),
        key=lambda m: m.sk,
    )
    current = conversation_row(alice, group, bob, same, message=one)
    put_conversation_row(store, current)
    newer = moved_row(current, other)
    assert newer.sk == current.sk

    assert store.replace_conversation_row(current, newer) is WriteOutcome.CREATED
    assert store.conversations_page(alice.uuid, 20, None).items == [newer]
    # and back to the smaller key of that microsecond: refused
    assert store.replace_conversation_row(newer, current) is WriteOutcome.CONDITION_FAILED
    assert store.conversations_page(alice.uuid, 20, None).items == [newer]


def test_a_seed_format_row_is_replaced_and_keeps_its_shape(store, alice, bob):
    group = keys.new_uuid()
    seed = conversation_row(alice, group, bob, at(0), kind_recorded=False)
    put_conversation_row(store, seed)
    reply = new_message(group, bob, "our reply", at(10))

    assert store.replace_conversation_row(seed, moved_row(seed, reply)) is WriteOutcome.CREATED

    (row,) = store.conversations_page(alice.uuid, 20, None).items
    assert row == moved_row(seed, reply)
    assert (row.kind_recorded, row.message, row.last_reply_at) == (False, "our reply", at(10))


def test_deleting_a_conversation_row_is_idempotent(store, alice, bob):
    new = direct_group(alice, bob)
    store.create_group(new)
    mine = next(r for r in new.conversations if r.owner_uuid == alice.uuid)
    theirs = next(r for r in new.conversations if r.owner_uuid == bob.uuid)

    store.delete_conversation_row(mine)
    store.delete_conversation_row(mine)
    store.delete_conversation_row(conversation_row(alice, keys.new_uuid(), bob, at(1)))

    assert store.conversations_page(alice.uuid, 20, None).items == []
    assert store.group_conversation_rows(new.group.uuid) == [theirs]


# --- a member's rows of one group ---------------------------------------------------------------


def test_member_conversation_rows_are_the_owners_rows_of_that_group_oldest_first(store, alice, bob):
    group, other_group = keys.new_uuid(), keys.new_uuid()
    old = conversation_row(alice, group, bob, at(1))
    stray = conversation_row(alice, group, bob, at(3))
    put_conversation_row(store, stray)
    put_conversation_row(store, old)
    put_conversation_row(store, conversation_row(alice, other_group, bob, at(2)))
    put_conversation_row(store, conversation_row(bob, group, alice, at(1)))

    assert store.member_conversation_rows(alice.uuid, group) == [old, stray]
    assert store.member_conversation_rows(alice.uuid, keys.new_uuid()) == []


def test_the_not_before_bound_keeps_rows_at_or_after_it(store, alice, bob):
    group = keys.new_uuid()
    rows = [conversation_row(alice, group, bob, at(i)) for i in (1, 3, 5)]
    for row in rows:
        put_conversation_row(store, row)

    assert (
        store.member_conversation_rows(alice.uuid, group, keys.conversation_sk(at(2), ""))
        == rows[1:]
    )
    assert store.member_conversation_rows(alice.uuid, group, rows[1].sk) == rows[1:]
    assert store.member_conversation_rows(alice.uuid, group, keys.conversation_sk(at(9), "")) == []


def test_a_not_before_bound_that_is_no_fixed_width_timestamp_is_ignored(store, alice, bob):
    group = keys.new_uuid()
    rows = [conversation_row(alice, group, bob, at(i)) for i in (1, 3)]
    for row in rows:
        put_conversation_row(store, row)

    # a seed-format bound in another offset: text order is not time order, so it is dropped
    assert store.member_conversation_rows(alice.uuid, group, "2099-01-01T10:00:00+02:00") == rows


def test_seed_format_groups_with_finds_only_seed_rows_showing_the_other_user(
    store, alice, bob, carol
):
    with_bob = keys.new_uuid()
    put_conversation_row(store, conversation_row(alice, with_bob, bob, at(1), kind_recorded=False))
    put_conversation_row(
        store, conversation_row(alice, keys.new_uuid(), carol, at(2), kind_recorded=False)
    )
    put_conversation_row(store, conversation_row(alice, keys.new_uuid(), bob, at(3)))
    put_conversation_row(
        store, conversation_row(bob, keys.new_uuid(), bob, at(4), kind_recorded=False)
    )

    assert store.seed_format_groups_with(alice.uuid, bob.uuid) == [with_bob]
    assert store.seed_format_groups_with(alice.uuid, keys.new_uuid()) == []
    assert store.seed_format_groups_with(carol.uuid, bob.uuid) == []


def test_seed_format_groups_with_answers_in_sort_key_order(store, alice, bob):
    older, newer = keys.new_uuid(), keys.new_uuid()
    put_conversation_row(store, conversation_row(alice, newer, bob, at(9), kind_recorded=False))
    put_conversation_row(store, conversation_row(alice, older, bob, at(1), kind_recorded=False))

    assert store.seed_format_groups_with(alice.uuid, bob.uuid) == [older, newer]


def test_a_seed_format_row_reads_back_as_written(store, alice, bob):
    row = conversation_row(alice, keys.new_uuid(), bob, at(1), kind_recorded=False)
    put_conversation_row(store, row)

    assert store.conversations_page(alice.uuid, 20, None).items == [row]
    assert store.group_conversation_rows(row.group_uuid) == [row]


# --- tool-kit ---------------------------------------------------------------------------------


def test_describe_reports_an_active_table(store):
    assert store.describe()["TableStatus"] == "ACTIVE"
