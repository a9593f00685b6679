"""Named groups: their validation, size limit, rows, and a taken group key."""

from __future__ import annotations

import pytest

from cruddur.messaging import services
from cruddur.messaging.errors import InvalidInput, UserNotFound
from cruddur.messaging.fake import InMemoryMessageRepository
from cruddur.messaging.models import MAX_GROUP_MEMBERS, GroupKind, NewGroup, UserRef, WriteOutcome

from .conftest import ALICE, BOB, CAROL, EMPTY, codes, row_counts, service_on, user

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
    assert codes(refused) == ["group_too_large"]
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
