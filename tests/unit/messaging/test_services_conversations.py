"""A user's conversations list: most recent first, one entry per group, and its paging."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from cruddur.messaging import keys

from .conftest import ALICE, BOB, CAROL, START, service_on, user

# --- conversations list --------------------------------------------------------------------------


def test_conversations_are_most_recent_first(service):
    with_bob = service.open_conversation(ALICE, "bob", "first").group_uuid
    with_carol = service.open_conversation(ALICE, "carol", "second").group_uuid
    club = service.create_group(BOB, "Club", ["alice"], "third").group.uuid

    listed = [c.group_uuid for c in service.list_conversations(ALICE).items]

    assert listed == [club, with_carol, with_bob]


def test_each_group_is_listed_once_when_a_stray_older_row_shares_the_page(service, fake):
    group = service.open_conversation(ALICE, "bob", "newest").group_uuid
    other = service.open_conversation(ALICE, "carol", "other").group_uuid
    (_, current) = fake.conversations_page(ALICE.uuid, 20, None).items
    assert current.group_uuid == group
    stray_at = keys.format_timestamp(START - timedelta(days=1))
    stray = replace(
        current,
        sk=keys.conversation_sk(stray_at, group),
        last_reply_at=stray_at,
        message="older",
        last_message_sk="",
    )
    fake.put_conversation_row(stray)

    listed = service.list_conversations(ALICE).items

    assert [c.group_uuid for c in listed] == [other, group]
    assert listed[1] == current  # the newer row is the one shown
    assert len(fake.member_conversation_rows(ALICE.uuid, group)) == 2  # skipped, not deleted


def test_conversations_page_with_their_cursor(fake):
    friends = [user(f"friend{i}") for i in range(5)]
    service = service_on(fake, ALICE, *friends)
    for friend in friends:
        service.open_conversation(ALICE, friend.handle, f"hi {friend.handle}")

    first = service.list_conversations(ALICE, limit=3)
    rest = service.list_conversations(ALICE, limit=3, cursor=first.next_cursor)

    assert [c.handle for c in first.items + rest.items] == [f.handle for f in reversed(friends)]
    assert rest.next_cursor is None


def test_someone_without_conversations_has_an_empty_list(service):
    page = service.list_conversations(CAROL)
    assert (page.items, page.next_cursor) == ([], None)
