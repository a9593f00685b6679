"""Direct conversations: one group per pair, whichever side opens it, and the pair race."""

from __future__ import annotations

from datetime import timedelta

import pytest

from cruddur.messaging.errors import InvalidInput, UserNotFound
from cruddur.messaging.fake import InMemoryMessageRepository
from cruddur.messaging.models import GroupKind, NewGroup, UserRef, WriteOutcome
from cruddur.messaging.services import MessagingService

from .conftest import ALICE, BOB, CAROL, EMPTY, START, row_counts, service_on

# --- direct conversations: one group per pair -------------------------------------------------


def test_refused_openings_store_nothing_and_the_first_contact_stores_every_row(service, fake):
    """Every check runs before the first write: refused calls leave the store empty; the first
    contact then writes the pair, the group, both memberships, the message and both rows."""
    for handle, text in (("  ", "hi"), ("@Alice", "hi"), ("nobody", "hi"), ("bob", " ")):
        with pytest.raises((InvalidInput, UserNotFound)):
            service.open_conversation(ALICE, handle, text)
    assert row_counts(fake) == EMPTY

    sent = service.open_conversation(ALICE, "@bob", "  hi  ")

    assert row_counts(fake) == {
        "pairs": 1,
        "groups": 1,
        "members": 2,
        "messages": 1,
        "conversations": 2,
    }
    assert sent.created and sent.message.text == "hi"
    group = fake.get_group(sent.group_uuid)
    assert group is not None
    assert (group.kind, group.name, group.members_count, group.created_by) == (
        GroupKind.DIRECT,
        None,
        2,
        ALICE.uuid,
    )
    (alice_row,) = service.list_conversations(ALICE).items
    (bob_row,) = service.list_conversations(BOB).items
    assert (alice_row.handle, bob_row.handle) == ("bob", "alice")  # each sees the other party
    assert alice_row.message == bob_row.message == "hi"
    assert alice_row.last_message_sk == sent.message.sk


def test_the_pair_has_one_group_whichever_side_opens_first(service, fake):
    first = service.open_conversation(ALICE, "bob", "one")
    second = service.open_conversation(BOB, "alice", "two")
    third = service.open_conversation(ALICE, "bob", "three")

    assert (first.created, second.created, third.created) == (True, False, False)
    assert first.group_uuid == second.group_uuid == third.group_uuid
    assert [m.text for m in fake.all_messages(first.group_uuid)] == ["one", "two", "three"]
    assert (len(fake.pairs), len(fake.groups)) == (1, 1)


def test_the_direct_group_is_found_from_either_side(service):
    assert service.find_direct_group(ALICE.uuid, BOB.uuid) is None
    group = service.open_conversation(BOB, "alice", "hi").group_uuid
    assert service.find_direct_group(ALICE.uuid, BOB.uuid) == group
    assert service.find_direct_group(BOB.uuid, ALICE.uuid) == group
    assert service.find_direct_group(ALICE.uuid, CAROL.uuid) is None


def test_each_pair_has_its_own_group(service):
    with_bob = service.open_conversation(ALICE, "bob", "hi bob")
    with_carol = service.open_conversation(ALICE, "carol", "hi carol")
    assert with_bob.group_uuid != with_carol.group_uuid
    assert with_bob.created and with_carol.created


class LosesThePairRace(InMemoryMessageRepository):
    """The other side opens the pair's group between our read of the pair row and our write: our
    create_group finds the pair row taken (CONDITION_FAILED, nothing written)."""

    def __init__(self, winner: UserRef, peer: UserRef) -> None:
        super().__init__()
        self.winner, self.peer = winner, peer
        self.winning_group: str | None = None
        self.attempts: list[NewGroup] = []

    def create_group(self, new: NewGroup) -> WriteOutcome:
        self.attempts.append(new)
        if self.winning_group is None:
            self.winning_group = "racing"  # the rival's own create_group below goes through
            rival = MessagingService(self, clock=lambda: START - timedelta(seconds=1))
            self.winning_group = rival.open_conversation_with(
                self.winner, self.peer, "I was first"
            ).group_uuid
            outcome = super().create_group(new)
            assert outcome is WriteOutcome.CONDITION_FAILED  # the pair row is taken
            return outcome
        return super().create_group(new)


def test_losing_the_pair_race_sends_into_the_winners_group():
    fake = LosesThePairRace(winner=BOB, peer=ALICE)
    service = service_on(fake)

    sent = service.open_conversation(ALICE, "bob", "me too")

    assert sent.group_uuid == fake.winning_group
    assert not sent.created
    assert [m.text for m in fake.all_messages(sent.group_uuid)] == ["I was first", "me too"]
    assert row_counts(fake) == {
        "pairs": 1,
        "groups": 1,
        "members": 2,
        "messages": 2,
        "conversations": 2,
    }
    losing = fake.attempts[0]
    assert fake.get_group(losing.group.uuid) is None
