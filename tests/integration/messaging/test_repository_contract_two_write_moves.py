"""The repository contract: a direct group's row moves in two writes (put the new row, then delete
the old one if it still shows an older message), so a member may hold an extra, older row of a
group for a moment, or after a crash until the replay. Reads collapse it: a list page shows each
group once, still holds `limit` groups, and cursors neither skip nor repeat a group."""

from __future__ import annotations

from cruddur.messaging import keys
from cruddur.messaging.models import WriteOutcome
from cruddur.messaging.services import new_message
from cruddur.streams.moves import MoveOutcome, move_conversation_rows, move_row, moved_row

from .conftest import at, conversation_row, direct_group, put_conversation_row, walk_conversations

# --- the two writes -----------------------------------------------------------------------------


def test_a_moved_row_is_put_only_on_a_free_key(store, alice, bob):
    new = direct_group(alice, bob)
    store.create_group(new)
    current = next(r for r in new.conversations if r.owner_uuid == alice.uuid)
    reply = new_message(new.group.uuid, bob, "a reply", at(10))
    moved = moved_row(current, reply)

    assert store.put_moved_conversation_row(moved) is WriteOutcome.CREATED
    assert store.put_moved_conversation_row(moved) is WriteOutcome.CONDITION_FAILED

    assert store.member_conversation_rows(alice.uuid, new.group.uuid) == [current, moved]


def test_the_replaced_row_is_deleted_only_while_it_shows_an_older_message(store, alice, bob):
    new = direct_group(alice, bob)
    store.create_group(new)
    current = next(r for r in new.conversations if r.owner_uuid == alice.uuid)
    reply = new_message(new.group.uuid, bob, "a reply", at(10))
    moved = moved_row(current, reply)
    store.put_moved_conversation_row(moved)

    # the newest row never goes: it shows the message the delete is for
    assert store.delete_replaced_conversation_row(moved, moved) is (WriteOutcome.CONDITION_FAILED)
    assert store.delete_replaced_conversation_row(current, moved) is WriteOutcome.CREATED
    assert store.delete_replaced_conversation_row(current, moved) is (WriteOutcome.CONDITION_FAILED)

    assert store.member_conversation_rows(alice.uuid, new.group.uuid) == [moved]
    assert store.conversations_page(alice.uuid, 20, None).items == [moved]


# --- reads collapse an extra row; the replay removes it ---------------------------------------


def test_an_extra_row_left_by_a_crash_is_collapsed_on_read_and_removed_by_the_replay(
    store, alice, bob, carol
):
    new = direct_group(alice, bob)
    store.create_group(new)
    other = direct_group(alice, carol)
    store.create_group(other)
    current = next(r for r in new.conversations if r.owner_uuid == alice.uuid)
    reply = new_message(new.group.uuid, bob, "a reply", at(10))
    store.add_message(reply)
    # the crash: the new row is put, the old one never deleted
    store.put_moved_conversation_row(moved_row(current, reply))

    listed = store.conversations_page(alice.uuid, 20, None).items
    assert [(r.group_uuid, r.last_message_sk) for r in listed] == [
        (new.group.uuid, reply.sk),
        (other.group.uuid, other.conversations[0].last_message_sk),
    ]
    assert len(store.member_conversation_rows(alice.uuid, new.group.uuid)) == 2

    # the retried message: every member at the reply, one row each
    outcomes = move_conversation_rows(store, reply)

    assert outcomes == {alice.uuid: MoveOutcome.ALREADY_CURRENT, bob.uuid: MoveOutcome.MOVED}
    for member in (alice, bob):
        (row,) = store.member_conversation_rows(member.uuid, new.group.uuid)
        assert row.last_message_sk == reply.sk


def test_a_move_that_lost_the_race_to_a_newer_one_leaves_only_the_newer_row(store, alice, bob):
    new = direct_group(alice, bob)
    store.create_group(new)
    current = next(r for r in new.conversations if r.owner_uuid == alice.uuid)
    older = new_message(new.group.uuid, bob, "older", at(10))
    newer = new_message(new.group.uuid, alice, "newer", at(20))
    for message in (older, newer):
        store.add_message(message)
    # the newer move finished between the older move's read and its writes
    store.put_moved_conversation_row(moved_row(current, newer))
    store.delete_replaced_conversation_row(current, moved_row(current, newer))

    # the older move, with the row as it read it: its put lands, its delete finds the old row
    # gone, it reads again and deletes its own row, older than the newest
    assert move_row(store, current, older) is MoveOutcome.ALREADY_CURRENT

    (row,) = store.member_conversation_rows(alice.uuid, new.group.uuid)
    assert row.last_message_sk == newer.sk


# --- pages with extra rows ----------------------------------------------------------------------


def test_pages_hold_limit_distinct_groups_and_cursors_neither_skip_nor_repeat(store, alice, bob):
    groups = [keys.new_uuid() for _ in range(6)]
    newest = [conversation_row(alice, g, bob, at(100 + i)) for i, g in enumerate(groups)]
    for row in newest:
        put_conversation_row(store, row)
    # extra, older rows of groups 5, 4 and 1: on the first page, and far below it
    for g, when in ((groups[5], 104.5), (groups[4], 1), (groups[1], 2)):
        put_conversation_row(store, conversation_row(alice, g, bob, at(when)))

    first = store.conversations_page(alice.uuid, 2, None)
    pages = walk_conversations(store, alice, 2)

    assert [r.group_uuid for r in first.items] == [groups[5], groups[4]]
    listed = [r for page in pages for r in page]
    assert [r.group_uuid for r in listed] == list(reversed(groups))
    assert listed == list(reversed(newest))
    assert [len(page) for page in pages] == [2, 2, 2, 0]


def test_a_page_of_one_shows_the_next_group_not_an_extra_row(store, alice, bob):
    groups = [keys.new_uuid() for _ in range(3)]
    for i, g in enumerate(groups):
        put_conversation_row(store, conversation_row(alice, g, bob, at(10 * (i + 1))))
    put_conversation_row(store, conversation_row(alice, groups[2], bob, at(25)))

    pages = walk_conversations(store, alice, 1)

    assert [[r.group_uuid for r in page] for page in pages] == [
        [groups[2]],
        [groups[1]],
        [groups[0]],
        [],
    ]
