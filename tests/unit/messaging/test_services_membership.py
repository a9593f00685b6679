"""Who may read, send to and list the members of a group: members only, and the same
answer for a group that is not theirs as for no group."""

from __future__ import annotations

from dataclasses import replace

import pytest

from cruddur.messaging import keys
from cruddur.messaging.errors import GroupNotFound
from cruddur.messaging.models import Membership

from .conftest import ALICE, BOB, CAROL, row_counts

# --- membership: members only, the same answer for no group -------------------------------------


@pytest.mark.parametrize("use_case", ["list_messages", "send_message", "list_members"])
@pytest.mark.parametrize("group", ["theirs", "missing"])
def test_non_members_and_missing_groups_get_the_same_group_not_found(
    service, fake, use_case, group
):
    theirs = service.open_conversation(ALICE, "bob", "private").group_uuid
    target = theirs if group == "theirs" else keys.new_uuid()
    before = row_counts(fake)
    call = {
        "list_messages": lambda: service.list_messages(CAROL, target),
        "send_message": lambda: service.send_message(CAROL, target, "let me in"),
        "list_members": lambda: service.list_members(CAROL, target),
    }[use_case]

    with pytest.raises(GroupNotFound) as refused:
        call()

    assert type(refused.value) is GroupNotFound
    assert row_counts(fake) == before
    assert [m.text for m in fake.all_messages(theirs)] == ["private"]


def test_a_refused_send_moves_no_conversation_row(service, fake):
    theirs = service.open_conversation(ALICE, "bob", "private").group_uuid
    mine = service.open_conversation(CAROL, "alice", "hello alice").group_uuid
    rows_before = {owner: dict(rows) for owner, rows in fake.conversations.items()}

    with pytest.raises(GroupNotFound):
        service.send_message(CAROL, theirs, "let me in")

    assert fake.conversations == rows_before
    assert [m.text for m in fake.all_messages(mine)] == ["hello alice"]
    assert [m.text for m in fake.all_messages(theirs)] == ["private"]


def test_a_conversation_row_does_not_make_a_member_of_one_of_our_groups(service, fake):
    """The seed's fallback (membership by conversation row) holds only for groups without
    metadata: a stray row cannot open a group that has membership rows."""
    theirs = service.open_conversation(ALICE, "bob", "private").group_uuid
    (bobs_row,) = fake.conversations_page(BOB.uuid, 20, None).items
    fake.put_conversation_row(replace(bobs_row, owner_uuid=CAROL.uuid))

    assert service.membership(theirs, CAROL.uuid) is None
    with pytest.raises(GroupNotFound):
        service.list_messages(CAROL, theirs)
    with pytest.raises(GroupNotFound):
        service.send_message(CAROL, theirs, "let me in")


def test_members_read_and_send_and_see_their_reply_last(service):
    group = service.open_conversation(ALICE, "bob", "hi").group_uuid

    reply = service.send_message(BOB, group, "hey")

    assert service.membership(group, ALICE.uuid) is Membership.MEMBER
    assert service.membership(group, BOB.uuid) is Membership.MEMBER
    assert (reply.group_uuid, reply.user_uuid, reply.handle) == (group, BOB.uuid, "bob")
    page = service.list_messages(ALICE, group)
    assert [m.text for m in page.items] == ["hi", "hey"]
    assert page.items[-1] == reply


def test_members_are_listed_to_members(service):
    group = service.open_conversation(ALICE, "bob", "hi").group_uuid
    members = service.list_members(BOB, group)
    assert {(m.handle, m.role) for m in members} == {("alice", "owner"), ("bob", "member")}


def test_messages_page_through_the_service_oldest_to_newest(service):
    group = service.open_conversation(ALICE, "bob", "m0").group_uuid
    for i in range(1, 7):
        service.send_message(BOB, group, f"m{i}")

    first = service.list_messages(ALICE, group, limit=4)
    older = service.list_messages(ALICE, group, limit=4, cursor=first.next_cursor)

    assert [m.text for m in first.items] == ["m3", "m4", "m5", "m6"]
    assert [m.text for m in older.items] == ["m0", "m1", "m2"]
    assert older.next_cursor is None
