"""The repository contract: created groups read back row for row (metadata, members,
messages, conversation rows), and pair rows from either side."""

from __future__ import annotations

from cruddur.messaging import keys
from cruddur.messaging.models import MAX_GROUP_MEMBERS, DirectPair, UserRef, WriteOutcome

from .conftest import at, direct_group, named_group

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


# --- pairs ------------------------------------------------------------------------------------


def test_get_pair_answers_from_either_side_as_asked(store, alice, bob, carol):
    pair = DirectPair(alice.uuid, bob.uuid, keys.new_uuid(), at(0), seed_format=True)
    store.add_pair(pair)

    assert store.get_pair(bob.uuid, alice.uuid) == DirectPair(
        bob.uuid, alice.uuid, pair.group_uuid, pair.created_at, seed_format=True
    )
    assert store.get_pair(alice.uuid, carol.uuid) is None


def test_a_deleted_membership_row_is_gone_and_deleting_again_changes_nothing(store, alice, bob):
    new = named_group(alice, [bob])
    store.create_group(new)
    assert store.get_member(new.group.uuid, bob.uuid) is not None

    store.delete_member(new.group.uuid, bob.uuid)
    store.delete_member(new.group.uuid, bob.uuid)

    assert store.get_member(new.group.uuid, bob.uuid) is None
    assert [m.user_uuid for m in store.list_members(new.group.uuid)] == [alice.uuid]
