"""The repository contract: a group's messages and a user's conversations, their ordering,
paging and tie-breakers, alike on the fake and on DynamoDB."""

from __future__ import annotations

import pytest

from cruddur.messaging import keys
from cruddur.messaging.models import MAX_PAGE_SIZE, Page, WriteOutcome
from cruddur.messaging.services import new_message

from .conftest import (
    add_messages,
    at,
    conversation_row,
    put_conversation_row,
    walk_conversations,
    walk_messages,
)

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
