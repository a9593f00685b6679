"""Groups written in the seed's format (no metadata, membership or pair rows): membership by
conversation row, adoption by a direct conversation, and replies dated after the seed."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from cruddur.messaging import keys
from cruddur.messaging.errors import GroupNotFound
from cruddur.messaging.fake import InMemoryMessageRepository
from cruddur.messaging.models import (
    Conversation,
    DirectPair,
    Member,
    Membership,
    Message,
    UserRef,
    WriteOutcome,
)

from .conftest import ALICE, BOB, CAROL, row_counts, service_on

# --- groups written in the seed's format ----------------------------------------------------------

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


def write_seed_conversation(
    fake: InMemoryMessageRepository, a: UserRef, b: UserRef, start: datetime, lines: int = 2
) -> tuple[str, list[Message]]:
    """What the seed's tools write: messages one minute apart under bare timestamp sort keys, each
    member's conversation row at the last one, no metadata, membership or pair rows."""
    group = keys.new_uuid()
    messages = []
    for i in range(lines):
        sender = a if i % 2 == 0 else b
        timestamp = keys.format_timestamp(start + timedelta(minutes=i))
        message = Message(
            uuid=keys.new_uuid(),
            group_uuid=group,
            user_uuid=sender.uuid,
            handle=sender.handle,
            display_name=sender.display_name,
            text=f"seed line {i}",
            created_at=timestamp,
            sk=timestamp,
        )
        fake.put_message_row(message)
        messages.append(message)
    last = messages[-1]
    for owner, other in ((a, b), (b, a)):
        fake.put_conversation_row(
            Conversation(
                owner_uuid=owner.uuid,
                group_uuid=group,
                user_uuid=other.uuid,
                handle=other.handle,
                display_name=other.display_name,
                message=last.text,
                last_reply_at=last.created_at,
                sk=last.sk,
                kind_recorded=False,
            )
        )
    return group, messages


def test_the_owners_of_a_seed_groups_rows_are_its_members(fake):
    service = service_on(fake, clock=lambda: NOW)
    group, messages = write_seed_conversation(fake, ALICE, BOB, NOW - timedelta(days=1))

    assert service.membership(group, ALICE.uuid) is Membership.SEED_FORMAT
    assert service.membership(group, BOB.uuid) is Membership.SEED_FORMAT
    assert service.membership(group, CAROL.uuid) is None
    assert service.list_messages(BOB, group).items == messages
    for refused in (
        lambda: service.list_messages(CAROL, group),
        lambda: service.send_message(CAROL, group, "let me in"),
        lambda: service.list_members(CAROL, group),
    ):
        with pytest.raises(GroupNotFound):
            refused()


def test_a_seed_groups_members_are_listed_from_its_rows(fake):
    service = service_on(fake, clock=lambda: NOW)
    group, _ = write_seed_conversation(fake, ALICE, BOB, NOW - timedelta(days=1))

    members = service.list_members(ALICE, group)

    assert members == sorted(
        [
            Member(ALICE.uuid, "alice", "Alice", joined_at=""),
            Member(BOB.uuid, "bob", "Bob", joined_at=""),
        ],
        key=lambda m: m.user_uuid,
    )


@pytest.mark.parametrize("opener, other", [(ALICE, "bob"), (BOB, "alice")])
def test_opening_a_pair_that_talks_in_the_seeds_format_adopts_that_group(fake, opener, other):
    service = service_on(fake, clock=lambda: NOW)
    group, _ = write_seed_conversation(fake, ALICE, BOB, NOW - timedelta(days=1))

    opened = service.open_conversation(opener, other, "found you")
    again = service.open_conversation(BOB if opener is ALICE else ALICE, opener.handle, "again")

    assert (opened.group_uuid, opened.created) == (group, False)
    assert (again.group_uuid, again.created) == (group, False)
    pair = fake.get_pair(ALICE.uuid, BOB.uuid)
    assert pair is not None and (pair.group_uuid, pair.seed_format) == (group, True)
    assert len(fake.pairs) == 1
    assert (len(fake.groups), row_counts(fake)["members"]) == (0, 0)  # still in the seed's format
    assert [m.text for m in fake.all_messages(group)] == [
        "seed line 0",
        "seed line 1",
        "found you",
        "again",
    ]


def test_a_seed_row_showing_someone_else_is_not_adopted(fake):
    service = service_on(fake, clock=lambda: NOW)
    seed_group, _ = write_seed_conversation(fake, ALICE, CAROL, NOW - timedelta(days=1))

    opened = service.open_conversation(ALICE, "bob", "hi bob")

    assert opened.created and opened.group_uuid != seed_group


class OtherSideAdoptsFirst(InMemoryMessageRepository):
    """The other side adopts a seed group of the pair between our query and our pair write."""

    def __init__(self, winning_group: str) -> None:
        super().__init__()
        self.winning_group = winning_group
        self.raced = False

    def add_pair(self, pair: DirectPair) -> WriteOutcome:
        if not self.raced:
            self.raced = True
            theirs = DirectPair(pair.user_b, pair.user_a, self.winning_group, pair.created_at, True)
            assert super().add_pair(theirs) is WriteOutcome.CREATED
        return super().add_pair(pair)


def test_losing_the_race_to_adopt_a_seed_group_sends_into_the_adopted_one():
    winning = keys.new_uuid()
    fake = OtherSideAdoptsFirst(winning)
    service = service_on(fake, clock=lambda: NOW)
    write_seed_conversation(fake, ALICE, BOB, NOW - timedelta(days=2))
    fake.put_conversation_row(
        replace(
            next(iter(fake.conversations[ALICE.uuid].values())),
            group_uuid=winning,
            sk=keys.format_timestamp(NOW - timedelta(days=1)),
        )
    )

    opened = service.open_conversation(ALICE, "bob", "which one?")

    assert opened.group_uuid == winning
    assert fake.get_pair(ALICE.uuid, BOB.uuid).group_uuid == winning
    assert opened.message in fake.all_messages(winning)


def test_a_reply_into_a_future_dated_seed_group_is_dated_after_its_newest_message(fake):
    service = service_on(fake, clock=lambda: NOW)
    group, messages = write_seed_conversation(fake, ALICE, BOB, NOW + timedelta(minutes=5), 3)
    newest = messages[-1]

    reply = service.send_message(BOB, group, "a reply now")

    assert reply.created_at == keys.next_timestamp(newest.created_at)
    assert reply.created_at > newest.created_at > keys.format_timestamp(NOW)
    assert fake.newest_message(group) == reply

    by_handle = service.open_conversation(ALICE, "bob", "and by handle")

    assert by_handle.group_uuid == group
    assert by_handle.message.created_at == keys.next_timestamp(reply.created_at)
    assert fake.newest_message(group) == by_handle.message


def test_a_reply_into_a_seed_group_of_the_past_is_dated_now(fake):
    service = service_on(fake, clock=lambda: NOW)
    group, _ = write_seed_conversation(fake, ALICE, BOB, NOW - timedelta(days=1))

    reply = service.send_message(BOB, group, "hello again")

    assert reply.created_at == keys.format_timestamp(NOW)
    assert fake.newest_message(group) == reply
