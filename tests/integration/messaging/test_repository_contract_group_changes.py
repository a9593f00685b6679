"""The repository contract: changing a named group (add members, remove one, rename, refresh a
member's row) and a member's view of messages bounded by their joining. Every write is all or
nothing, guarded by the group's metadata as read."""

from __future__ import annotations

from dataclasses import replace

from cruddur.messaging import keys
from cruddur.messaging.models import (
    Conversation,
    GroupKind,
    Member,
    MessageGroup,
    UserRef,
    WriteOutcome,
)
from cruddur.streams.moves import moved_row

from .conftest import add_messages, at, direct_group, named_group


def joined_rows(
    group: MessageGroup, adder: UserRef, people: list[UserRef], joined_at: str
) -> tuple[list[Member], list[Conversation]]:
    members = [Member(u.uuid, u.handle, u.display_name, joined_at) for u in people]
    rows = [
        Conversation(
            owner_uuid=u.uuid,
            group_uuid=group.uuid,
            user_uuid=adder.uuid,
            handle=adder.handle,
            display_name=adder.display_name,
            message="",
            last_reply_at=joined_at,
            sk=keys.conversation_sk(joined_at, group.uuid),
            kind=GroupKind.GROUP,
            group_name=group.name,
            last_message_sk=joined_at,
            members_count=group.members_count,
            meta_version=group.meta_version,
        )
        for u in people
    ]
    return members, rows


def grown(group: MessageGroup, by: int) -> MessageGroup:
    return replace(
        group, members_count=group.members_count + by, meta_version=group.meta_version + 1
    )


def test_added_members_get_membership_and_a_row_and_meta_counts_them(store, alice, bob, carol):
    new = named_group(alice, [bob])
    store.create_group(new)
    updated = grown(new.group, 1)
    members, rows = joined_rows(updated, alice, [carol], at(10))

    assert store.add_members(new.group, updated, members, rows) is WriteOutcome.CREATED

    assert store.get_group(new.group.uuid) == updated
    assert store.get_member(new.group.uuid, carol.uuid) == members[0]
    assert store.conversations_page(carol.uuid, 20, None).items == rows
    assert len(store.list_members(new.group.uuid)) == 3


def test_adding_against_stale_metadata_writes_nothing(store, alice, bob, carol):
    new = named_group(alice, [bob])
    store.create_group(new)
    renamed = replace(new.group, name="Other", meta_version=1)
    assert store.rename_group(new.group, renamed) is WriteOutcome.CREATED
    members, rows = joined_rows(grown(new.group, 1), alice, [carol], at(10))

    assert store.add_members(new.group, grown(new.group, 1), members, rows) is (
        WriteOutcome.CONDITION_FAILED
    )

    assert store.get_group(new.group.uuid) == renamed
    assert store.get_member(new.group.uuid, carol.uuid) is None
    assert store.conversations_page(carol.uuid, 20, None).items == []


def test_adding_someone_already_a_member_writes_nothing(store, alice, bob, carol):
    new = named_group(alice, [bob])
    store.create_group(new)
    members, rows = joined_rows(grown(new.group, 2), alice, [carol, bob], at(10))

    assert store.add_members(new.group, grown(new.group, 2), members, rows) is (
        WriteOutcome.CONDITION_FAILED
    )

    assert store.get_group(new.group.uuid) == new.group
    assert store.get_member(new.group.uuid, carol.uuid) is None


def test_a_direct_group_never_takes_members(store, alice, bob, carol):
    new = direct_group(alice, bob)
    store.create_group(new)
    members, rows = joined_rows(grown(new.group, 1), alice, [carol], at(10))

    assert store.add_members(new.group, grown(new.group, 1), members, rows) is (
        WriteOutcome.CONDITION_FAILED
    )
    assert store.get_member(new.group.uuid, carol.uuid) is None


def test_removing_a_member_deletes_membership_and_rows_and_hands_over_the_role(
    store, alice, bob, carol
):
    new = named_group(alice, [bob, carol])
    store.create_group(new)
    updated = replace(new.group, members_count=2, meta_version=1)
    rows = store.member_conversation_rows(alice.uuid, new.group.uuid)

    assert store.remove_member(new.group, updated, alice.uuid, rows, bob.uuid) is (
        WriteOutcome.CREATED
    )

    assert store.get_member(new.group.uuid, alice.uuid) is None
    assert store.conversations_page(alice.uuid, 20, None).items == []
    assert store.get_group(new.group.uuid) == updated
    assert store.get_member(new.group.uuid, bob.uuid).role == "owner"
    assert store.get_member(new.group.uuid, carol.uuid).role == "member"


def test_removing_with_a_row_that_moved_meanwhile_writes_nothing(store, alice, bob, carol):
    new = named_group(alice, [bob, carol])
    store.create_group(new)
    [row] = store.member_conversation_rows(carol.uuid, new.group.uuid)
    [reply] = add_messages(store, new.group.uuid, bob, 1)
    reply = replace(reply, sk=keys.message_sk(at(5), reply.uuid), created_at=at(5))
    store.add_message(reply)
    assert store.replace_conversation_row(row, moved_row(row, reply)) is WriteOutcome.CREATED
    updated = replace(new.group, members_count=2, meta_version=1)

    assert store.remove_member(new.group, updated, carol.uuid, [row]) is (
        WriteOutcome.CONDITION_FAILED
    )

    assert store.get_member(new.group.uuid, carol.uuid) is not None
    assert store.get_group(new.group.uuid) == new.group
    [moved] = store.member_conversation_rows(carol.uuid, new.group.uuid)
    assert store.remove_member(new.group, updated, carol.uuid, [moved]) is WriteOutcome.CREATED
    assert store.member_conversation_rows(carol.uuid, new.group.uuid) == []


def test_removing_someone_not_a_member_writes_nothing(store, alice, bob, carol):
    new = named_group(alice, [bob])
    store.create_group(new)
    updated = replace(new.group, members_count=1, meta_version=1)

    assert store.remove_member(new.group, updated, carol.uuid, []) is (
        WriteOutcome.CONDITION_FAILED
    )
    assert store.get_group(new.group.uuid) == new.group


def test_renaming_is_guarded_by_the_version_read(store, alice, bob):
    new = named_group(alice, [bob])
    store.create_group(new)
    first = replace(new.group, name="First", meta_version=1)
    second = replace(new.group, name="Second", meta_version=1)

    assert store.rename_group(new.group, first) is WriteOutcome.CREATED
    assert store.rename_group(new.group, second) is WriteOutcome.CONDITION_FAILED
    assert store.get_group(new.group.uuid) == first


def rows_of_group(store, people: list[UserRef], group: MessageGroup) -> list[Conversation]:
    return [r for u in people for r in store.member_conversation_rows(u.uuid, group.uuid)]


def test_a_rename_shows_on_every_members_row_in_the_same_write(store, alice, bob, carol):
    new = named_group(alice, [bob, carol])
    store.create_group(new)
    renamed = replace(new.group, name="Renamed", meta_version=1)
    rows = rows_of_group(store, [alice, bob, carol], new.group)

    assert store.rename_group(new.group, renamed, rows) is WriteOutcome.CREATED

    for who in (alice, bob, carol):
        [shown] = store.conversations_page(who.uuid, 20, None).items
        assert (shown.group_name, shown.members_count, shown.meta_version) == ("Renamed", 3, 1)
    # rows read before it no longer match: a second change from them writes nothing
    again = replace(renamed, name="Again", meta_version=2)
    assert store.rename_group(renamed, again, rows) is WriteOutcome.CONDITION_FAILED
    assert store.get_group(new.group.uuid) == renamed


def test_a_rename_with_a_row_that_moved_meanwhile_writes_nothing(store, alice, bob):
    new = named_group(alice, [bob])
    store.create_group(new)
    rows = rows_of_group(store, [alice, bob], new.group)
    [reply] = add_messages(store, new.group.uuid, alice, 1)
    reply = replace(reply, sk=keys.message_sk(at(5), reply.uuid), created_at=at(5))
    [bobs] = store.member_conversation_rows(bob.uuid, new.group.uuid)
    assert store.replace_conversation_row(bobs, moved_row(bobs, reply)) is WriteOutcome.CREATED
    renamed = replace(new.group, name="Renamed", meta_version=1)

    assert store.rename_group(new.group, renamed, rows) is WriteOutcome.CONDITION_FAILED

    assert store.get_group(new.group.uuid) == new.group
    assert [r.group_name for r in rows_of_group(store, [alice, bob], new.group)] == [
        new.group.name,
        new.group.name,
    ]
    fresh = rows_of_group(store, [alice, bob], new.group)
    assert store.rename_group(new.group, renamed, fresh) is WriteOutcome.CREATED
    assert [r.group_name for r in rows_of_group(store, [alice, bob], new.group)] == [
        "Renamed",
        "Renamed",
    ]


def test_adding_and_removing_show_the_new_size_on_the_others_rows(store, alice, bob, carol):
    new = named_group(alice, [bob])
    store.create_group(new)
    updated = grown(new.group, 1)
    members, rows = joined_rows(updated, alice, [carol], at(10))
    others = rows_of_group(store, [alice, bob], new.group)

    assert store.add_members(new.group, updated, members, rows, others) is WriteOutcome.CREATED
    assert [r.members_count for r in rows_of_group(store, [alice, bob, carol], new.group)] == [
        3,
        3,
        3,
    ]

    smaller = replace(updated, members_count=2, meta_version=updated.meta_version + 1)
    leaving = store.member_conversation_rows(carol.uuid, new.group.uuid)
    staying = rows_of_group(store, [alice, bob], new.group)
    assert store.remove_member(updated, smaller, carol.uuid, leaving, refreshed=staying) is (
        WriteOutcome.CREATED
    )
    assert [r.members_count for r in rows_of_group(store, [alice, bob], new.group)] == [2, 2]
    assert store.get_group(new.group.uuid) == smaller


def test_the_last_member_leaving_deletes_the_group(store, alice, bob):
    new = named_group(alice, [bob])
    store.create_group(new)
    one_left = replace(new.group, members_count=1, meta_version=1)
    bobs = store.member_conversation_rows(bob.uuid, new.group.uuid)
    alices = store.member_conversation_rows(alice.uuid, new.group.uuid)
    assert store.remove_member(new.group, one_left, bob.uuid, bobs, refreshed=alices) is (
        WriteOutcome.CREATED
    )
    alices = store.member_conversation_rows(alice.uuid, new.group.uuid)
    nobody = replace(one_left, members_count=0, meta_version=2)

    # against stale metadata nothing is deleted
    assert store.remove_member(new.group, nobody, alice.uuid, alices) is (
        WriteOutcome.CONDITION_FAILED
    )
    assert store.get_group(new.group.uuid) == one_left

    assert store.remove_member(one_left, nobody, alice.uuid, alices) is WriteOutcome.CREATED

    assert store.get_group(new.group.uuid) is None
    assert store.list_members(new.group.uuid) == []
    assert store.conversations_page(alice.uuid, 20, None).items == []
    # the messages stay, unreachable through membership (nobody is a member)
    assert [m.text for m in store.all_messages(new.group.uuid)] == [new.message.text]


def test_a_page_bounded_by_a_joining_shows_nothing_older(store, alice, bob):
    new = named_group(alice, [bob], text=None)
    store.create_group(new)
    messages = add_messages(store, new.group.uuid, alice, 10)
    joined_at = at(4.5)

    first = store.messages_page(new.group.uuid, 3, None, not_before_sk=joined_at)
    assert [m.text for m in first.items] == ["m7", "m8", "m9"]
    second = store.messages_page(new.group.uuid, 3, first.next_cursor, not_before_sk=joined_at)
    assert [m.text for m in second.items] == ["m5", "m6"]
    assert second.next_cursor is None
    older = keys.encode_cursor(messages[3].sk)
    assert store.messages_page(new.group.uuid, 3, older, not_before_sk=joined_at).items == []
    # the default page (the cached one) is bounded alike
    page = store.messages_page(new.group.uuid, 20, None, not_before_sk=joined_at)
    assert [m.text for m in page.items] == ["m5", "m6", "m7", "m8", "m9"]
    assert page.next_cursor is None
    assert len(store.messages_page(new.group.uuid, 20, None).items) == 10
