"""The messaging use cases and their rules, on the in-memory repository (no engine). The fake and
DynamoDB agree by tests/integration/messaging/test_repository_contract.py; what needs the real
engine (concurrency, the seed's raw items, moves) is in tests/integration."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from cruddur.messaging import keys, retries, services
from cruddur.messaging.errors import ContentionExhausted, GroupNotFound, InvalidInput, UserNotFound
from cruddur.messaging.fake import InMemoryMessageRepository, StaticUserDirectory
from cruddur.messaging.models import (
    MAX_GROUP_MEMBERS,
    MAX_MESSAGE_CHARS,
    Conversation,
    DirectPair,
    GroupKind,
    Member,
    Membership,
    Message,
    NewGroup,
    UserRef,
    WriteOutcome,
)
from cruddur.messaging.services import MessagingService

START = datetime(2026, 5, 1, 9, 0, tzinfo=UTC)


def user(handle: str) -> UserRef:
    return UserRef(
        uuid=str(uuid.uuid5(uuid.NAMESPACE_URL, f"https://cruddur.test/{handle}")),
        handle=handle,
        display_name=handle.title(),
    )


ALICE, BOB, CAROL = user("alice"), user("bob"), user("carol")


def ticking_clock(start: datetime = START, step: timedelta = timedelta(seconds=1)):
    """A clock that moves `step` forward on every reading: each send gets its own second."""
    counter = itertools.count()
    return lambda: start + step * next(counter)


def no_sleep(_: float) -> None:
    """Backoff skipped: the retries are tested, not their timing."""


def service_on(
    fake: InMemoryMessageRepository,
    *people: UserRef,
    clock: Callable[[], datetime] | None = None,
) -> MessagingService:
    return MessagingService(
        fake,
        StaticUserDirectory(people or (ALICE, BOB, CAROL)),
        clock=clock or ticking_clock(),
        sleep=no_sleep,
    )


@pytest.fixture
def fake() -> InMemoryMessageRepository:
    return InMemoryMessageRepository()


@pytest.fixture
def service(fake: InMemoryMessageRepository) -> MessagingService:
    return service_on(fake)


def row_counts(fake: InMemoryMessageRepository) -> dict[str, int]:
    """How many rows of each type the repository holds."""
    return {
        "pairs": len(fake.pairs),
        "groups": len(fake.groups),
        "members": sum(len(rows) for rows in fake.members.values()),
        "messages": sum(len(rows) for rows in fake.messages.values()),
        "conversations": sum(len(rows) for rows in fake.conversations.values()),
    }


EMPTY = {"pairs": 0, "groups": 0, "members": 0, "messages": 0, "conversations": 0}


def codes(excinfo: pytest.ExceptionInfo[InvalidInput]) -> list[str]:
    return excinfo.value.codes


# --- input validation: pure functions -------------------------------------------------------


@pytest.mark.parametrize(
    "text, code",
    [
        ("", "message_blank"),
        ("   \n\t", "message_blank"),
        (None, "message_blank"),
        (42, "message_blank"),
        ("x" * (MAX_MESSAGE_CHARS + 1), "message_exceed_max_chars"),
    ],
)
def test_bad_messages_are_refused_with_their_code(text, code):
    with pytest.raises(InvalidInput) as refused:
        services.clean_message(text)
    assert codes(refused) == [code]


def test_messages_count_code_points_after_trimming():
    emoji = "\N{GRINNING FACE}" * MAX_MESSAGE_CHARS
    assert services.clean_message(f"  {emoji}  ") == emoji


@pytest.mark.parametrize("value", ["../../etc", "", None, 42, "5ae290ed", "' OR 1=1 --"])
def test_malformed_group_uuids_are_invalid_input(value):
    with pytest.raises(InvalidInput) as refused:
        services.clean_group_uuid(value)
    assert codes(refused) == ["message_group_uuid_invalid"]


def test_group_uuids_are_canonicalised():
    assert (
        services.clean_group_uuid("5AE290ED-55D1-47A0-BC6D-FE2BC2700399")
        == "5ae290ed-55d1-47a0-bc6d-fe2bc2700399"
    )


@pytest.mark.parametrize("cursor", ["%%%", "!!!", "e30", "bm90IGpzb24"])
def test_malformed_cursors_are_invalid_input(cursor):
    with pytest.raises(InvalidInput) as refused:
        services.clean_cursor(cursor)
    assert codes(refused) == ["cursor_invalid"]


@pytest.mark.parametrize("cursor", [None, ""])
def test_no_cursor_means_the_first_page(cursor):
    assert services.clean_cursor(cursor) is None


# --- input validation through the use cases ---------------------------------------------------


def test_a_message_of_the_maximum_length_is_sent_and_one_more_character_is_refused(service, fake):
    group = service.open_conversation(ALICE, "bob", "hi").group_uuid
    longest = "x" * MAX_MESSAGE_CHARS

    sent = service.send_message(ALICE, group, longest)
    with pytest.raises(InvalidInput) as refused:
        service.send_message(ALICE, group, longest + "x")

    assert codes(refused) == ["message_exceed_max_chars"]
    assert sent.text == longest
    assert [m.text for m in fake.all_messages(group)] == ["hi", longest]


def test_sends_are_stored_trimmed(service, fake):
    opened = service.open_conversation(ALICE, "@bob", "  hi  ")
    reply = service.send_message(BOB, opened.group_uuid, "\n hey \t")
    assert (opened.message.text, reply.text) == ("hi", "hey")
    assert [m.text for m in fake.all_messages(opened.group_uuid)] == ["hi", "hey"]


@pytest.mark.parametrize("use_case", ["list_messages", "send_message", "list_members"])
def test_every_group_use_case_refuses_a_malformed_group_uuid(service, use_case):
    call = {
        "list_messages": lambda: service.list_messages(ALICE, "../../etc"),
        "send_message": lambda: service.send_message(ALICE, "../../etc", "hi"),
        "list_members": lambda: service.list_members(ALICE, "../../etc"),
    }[use_case]
    with pytest.raises(InvalidInput) as refused:
        call()
    assert codes(refused) == ["message_group_uuid_invalid"]


def test_a_group_uuid_in_capitals_names_the_same_group(service):
    sent = service.open_conversation(ALICE, "bob", "hi")
    page = service.list_messages(BOB, sent.group_uuid.upper())
    assert [m.uuid for m in page.items] == [sent.message.uuid]


def test_a_malformed_cursor_is_refused_by_both_listings(service):
    group = service.open_conversation(ALICE, "bob", "hi").group_uuid
    with pytest.raises(InvalidInput) as conversations:
        service.list_conversations(ALICE, cursor="%%%")
    with pytest.raises(InvalidInput) as messages:
        service.list_messages(ALICE, group, cursor="%%%")
    assert codes(conversations) == codes(messages) == ["cursor_invalid"]


@pytest.mark.parametrize("handle", ["", "  ", "@", " @ ", None, 42])
def test_a_blank_recipient_handle_is_refused_and_nothing_is_stored(service, fake, handle):
    with pytest.raises(InvalidInput) as refused:
        service.open_conversation(ALICE, handle, "hi")
    assert codes(refused) == ["user_receiver_handle_blank"]
    assert row_counts(fake) == EMPTY


@pytest.mark.parametrize("handle", ["alice", "@alice", "@Alice", " ALICE "])
def test_messaging_yourself_is_refused_and_nothing_is_stored(service, fake, handle):
    with pytest.raises(InvalidInput) as refused:
        service.open_conversation(ALICE, handle, "hi")
    assert codes(refused) == ["cannot_message_self"]
    assert row_counts(fake) == EMPTY


def test_messaging_yourself_by_user_is_refused(service, fake):
    with pytest.raises(InvalidInput) as refused:
        service.open_conversation_with(ALICE, ALICE, "hi")
    assert codes(refused) == ["cannot_message_self"]
    assert row_counts(fake) == EMPTY


def test_an_unknown_handle_is_user_not_found_and_nothing_is_stored(service, fake):
    with pytest.raises(UserNotFound, match="nobody"):
        service.open_conversation(ALICE, "@nobody", "hi")
    assert row_counts(fake) == EMPTY


def test_a_blank_first_message_is_refused_before_the_recipient_is_looked_up(service, fake):
    with pytest.raises(InvalidInput) as refused:
        service.open_conversation(ALICE, "nobody", "   ")
    assert codes(refused) == ["message_blank"]
    assert row_counts(fake) == EMPTY


def test_opening_a_conversation_needs_a_user_directory(fake):
    without = MessagingService(fake)
    with pytest.raises(RuntimeError, match="user directory"):
        without.open_conversation(ALICE, "bob", "hi")
    assert row_counts(fake) == EMPTY


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


# --- named groups -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, handles, expected",
    [
        (" ", ["bob"], ["group_name_blank"]),
        (None, ["bob"], ["group_name_blank"]),
        ("x" * (services.MAX_GROUP_NAME_CHARS + 1), ["bob"], ["group_name_exceed_max_chars"]),
        ("Club", "bob", ["handles_invalid"]),
        ("Club", ["bob", 7], ["handles_invalid"]),
        ("Club", None, ["handles_invalid"]),
        ("", {"bob": 1}, ["group_name_blank", "handles_invalid"]),
        ("Just me", ["alice"], ["group_members_too_few"]),
        ("Just me", ["@Alice", "  ", "@"], ["group_members_too_few"]),
        ("Nobody", [], ["group_members_too_few"]),
    ],
)
def test_bad_group_requests_are_refused_with_their_codes_and_store_nothing(
    service, fake, name, handles, expected
):
    with pytest.raises(InvalidInput) as refused:
        service.create_group(ALICE, name, handles, "hi")
    assert codes(refused) == expected
    assert row_counts(fake) == EMPTY


def test_a_group_name_of_the_maximum_length_is_accepted(service, fake):
    name = "x" * services.MAX_GROUP_NAME_CHARS
    created = service.create_group(ALICE, f"  {name}  ", ["bob"])
    assert created.group.name == name
    assert fake.get_group(created.group.uuid) == created.group


def test_a_blank_first_message_of_a_group_is_refused(service, fake):
    with pytest.raises(InvalidInput) as refused:
        service.create_group(ALICE, "Club", ["bob"], "  ")
    assert codes(refused) == ["message_blank"]
    assert row_counts(fake) == EMPTY


def crowd(size: int) -> list[UserRef]:
    return [user(f"user{i:02d}") for i in range(size)]


def test_a_group_has_at_most_40_members_counting_its_creator(fake):
    others = crowd(MAX_GROUP_MEMBERS)
    service = service_on(fake, ALICE, *others)

    with pytest.raises(InvalidInput) as refused:
        service.create_group(ALICE, "Crowd", [u.handle for u in others])
    assert codes(refused) == ["group_members_too_many"]
    assert row_counts(fake) == EMPTY

    largest = [u.handle for u in others[: MAX_GROUP_MEMBERS - 1]] + ["alice"]
    created = service.create_group(ALICE, "Crowd", largest)
    assert created.group.members_count == MAX_GROUP_MEMBERS
    assert len(service.list_members(ALICE, created.group.uuid)) == MAX_GROUP_MEMBERS


def test_a_group_with_an_unknown_handle_names_it_and_stores_nothing(service, fake):
    with pytest.raises(UserNotFound, match="ghost"):
        service.create_group(ALICE, "Club", ["bob", "ghost"])
    assert row_counts(fake) == EMPTY


def test_a_created_group_has_each_member_once_and_a_row_each(service, fake):
    created = service.create_group(
        ALICE, " Club ", ["bob", "carol", "@Bob", "ALICE"], "  welcome  "
    )
    group_uuid = created.group.uuid

    assert (created.group.kind, created.group.name, created.group.members_count) == (
        GroupKind.GROUP,
        "Club",
        3,
    )
    members = {m.user_uuid: m for m in service.list_members(CAROL, group_uuid)}
    assert set(members) == {ALICE.uuid, BOB.uuid, CAROL.uuid}
    assert {u: m.role for u, m in members.items()} == {
        ALICE.uuid: "owner",
        BOB.uuid: "member",
        CAROL.uuid: "member",
    }
    assert created.message is not None and created.message.text == "welcome"
    assert [m.text for m in service.list_messages(BOB, group_uuid).items] == ["welcome"]
    for member in (ALICE, BOB, CAROL):
        (row,) = service.list_conversations(member).items
        assert (row.group_uuid, row.kind, row.group_name) == (group_uuid, GroupKind.GROUP, "Club")
        assert (row.handle, row.message) == ("alice", "welcome")  # the last sender: the creator
    assert row_counts(fake) == {
        "pairs": 0,
        "groups": 1,
        "members": 3,
        "messages": 1,
        "conversations": 3,
    }


def test_a_group_created_without_a_message_stores_none(service, fake):
    created = service.create_group(ALICE, "Quiet", ["bob"])
    assert created.message is None
    assert list(fake.all_messages(created.group.uuid)) == []
    assert [r.message for r in fake.group_conversation_rows(created.group.uuid)] == ["", ""]


class GroupKeyTakenOnce(InMemoryMessageRepository):
    """The first create_group finds a key taken (a uuid collision)."""

    def __init__(self) -> None:
        super().__init__()
        self.attempts: list[NewGroup] = []

    def create_group(self, new: NewGroup) -> WriteOutcome:
        self.attempts.append(new)
        if len(self.attempts) == 1:
            return WriteOutcome.CONDITION_FAILED
        return super().create_group(new)


def test_a_taken_group_key_draws_new_ones():
    fake = GroupKeyTakenOnce()
    created = service_on(fake).create_group(ALICE, "Club", ["bob"], "hi")

    first, second = fake.attempts
    assert first.group.uuid != second.group.uuid
    assert created.group == second.group
    assert list(fake.groups) == [created.group.uuid]


# --- sends: a uuid collision draws a new key ---------------------------------------------------


class MessageKeyTaken(InMemoryMessageRepository):
    """add_message answers CONDITION_FAILED for its first `failures` calls (a uuid collision)."""

    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures
        self.tried: list[Message] = []

    def add_message(self, message: Message) -> WriteOutcome:
        self.tried.append(message)
        if len(self.tried) <= self.failures:
            return WriteOutcome.CONDITION_FAILED
        return super().add_message(message)


def test_a_taken_message_key_draws_a_new_one_and_overwrites_nothing():
    fake = MessageKeyTaken(failures=0)
    service = service_on(fake)
    group = service.open_conversation(ALICE, "bob", "hi").group_uuid
    fake.failures = 1

    sent = service.send_message(BOB, group, "hey")

    collided, stored = fake.tried
    assert collided.uuid != stored.uuid and collided.sk != stored.sk
    assert sent == stored
    assert [m.text for m in fake.all_messages(group)] == ["hi", "hey"]


def test_a_message_key_taken_on_every_attempt_gives_up_and_stores_nothing():
    fake = MessageKeyTaken(failures=0)
    service = service_on(fake)
    group = service.open_conversation(ALICE, "bob", "hi").group_uuid
    fake.failures = 10_000

    with pytest.raises(ContentionExhausted):
        service.send_message(BOB, group, "hey")

    assert len(fake.tried) == retries.MAX_ATTEMPTS
    assert [m.text for m in fake.all_messages(group)] == ["hi"]


class AnswerLostOnce(InMemoryMessageRepository):
    """The first put is stored but its answer is lost: the retried put finds it stored."""

    def __init__(self) -> None:
        super().__init__()
        self.outcomes: list[WriteOutcome] = []

    def add_message(self, message: Message) -> WriteOutcome:
        outcome = super().add_message(message)
        if not self.outcomes:
            outcome = super().add_message(message)  # botocore's retry of the same put
        self.outcomes.append(outcome)
        return outcome


def test_a_message_already_stored_by_a_retried_put_is_the_sent_message():
    fake = AnswerLostOnce()
    service = service_on(fake)
    group = service.create_group(ALICE, "Club", ["bob"]).group.uuid

    sent = service.send_message(ALICE, group, "once")

    assert fake.outcomes == [WriteOutcome.ALREADY_STORED]
    assert list(fake.all_messages(group)) == [sent]


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
