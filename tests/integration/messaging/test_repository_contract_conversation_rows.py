"""The repository contract: a group's conversation rows, their moves (conditional replace),
deletes, a member's rows of one group and the seed-format queries."""

from __future__ import annotations

from cruddur.messaging import keys
from cruddur.messaging.models import WriteOutcome
from cruddur.messaging.services import new_message
from cruddur.streams.moves import moved_row

from .conftest import at, conversation_row, direct_group, named_group, put_conversation_row

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
