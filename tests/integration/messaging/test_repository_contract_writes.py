"""The repository contract: conditional writes and their outcomes (messages, pair rows,
groups), alike on the fake and on DynamoDB."""

from __future__ import annotations

from dataclasses import replace

from cruddur.messaging import keys
from cruddur.messaging.models import DirectPair, WriteOutcome
from cruddur.messaging.services import new_message

from .conftest import at, direct_group, named_group, nothing_of

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


# --- pairs: written once ---------------------------------------------------------------------


def test_a_pair_row_is_written_once_whichever_side_writes_it(store, alice, bob):
    pair = DirectPair(alice.uuid, bob.uuid, keys.new_uuid(), at(0))
    rival = DirectPair(bob.uuid, alice.uuid, keys.new_uuid(), at(1))

    assert store.add_pair(pair) is WriteOutcome.CREATED
    assert store.add_pair(pair) is WriteOutcome.CONDITION_FAILED
    assert store.add_pair(rival) is WriteOutcome.CONDITION_FAILED
    assert store.get_pair(alice.uuid, bob.uuid) == pair


# --- D: create_group's conditions ---------------------------------------------------------


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
