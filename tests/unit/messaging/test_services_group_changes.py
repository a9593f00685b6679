"""Changing a named group, its rules: members only; any member adds; only the owner removes
others; anyone leaves; a direct conversation never grows; at most 40; unknown handles listed;
duplicates once; names as messages; a member added later sees messages from their joining on."""

from __future__ import annotations

import pytest

from cruddur.messaging import keys
from cruddur.messaging.errors import (
    GroupNotFound,
    InvalidInput,
    MemberNotFound,
    NotGroupOwner,
    UserNotFound,
)
from cruddur.messaging.fake import InMemoryMessageRepository
from cruddur.messaging.models import MAX_GROUP_MEMBERS, GroupKind
from cruddur.streams.moves import move_conversation_rows

from .conftest import ALICE, BOB, CAROL, codes, service_on, user

DAVE, ERIN = user("dave"), user("erin")
EVERYONE = (ALICE, BOB, CAROL, DAVE, ERIN)


@pytest.fixture
def service(fake):
    return service_on(fake, *EVERYONE)


@pytest.fixture
def club(service):
    return service.create_group(ALICE, "Club", ["bob", "carol"], "welcome").group


def row_of(fake: InMemoryMessageRepository, who, group_uuid: str):
    rows = [r for r in fake.conversations.get(who.uuid, {}).values() if r.group_uuid == group_uuid]
    assert len(rows) <= 1
    return rows[0] if rows else None


def apply(fake, service, group_uuid: str) -> None:
    newest = fake.newest_message(group_uuid)
    if newest is not None:
        move_conversation_rows(fake, newest, sleep=lambda _: None)


# --- adding ---------------------------------------------------------------------------------


def test_any_member_adds_and_duplicates_count_once(service, fake, club):
    added = service.add_members(BOB, club.uuid, ["dave", "@Dave", " dave "])

    assert [m.handle for m in added.members] == ["dave"]
    assert added.group.members_count == 4
    assert fake.get_group(club.uuid).members_count == 4
    row = row_of(fake, DAVE, club.uuid)
    assert (row.kind, row.group_name, row.members_count, row.message) == (
        GroupKind.GROUP,
        "Club",
        4,
        "",
    )
    # every member's row shows the new size
    assert {row_of(fake, u, club.uuid).members_count for u in (ALICE, BOB, CAROL)} == {4}


def test_adding_people_already_there_changes_nothing(service, fake, club):
    added = service.add_members(ALICE, club.uuid, ["bob", "carol"])
    assert added.members == []
    assert fake.get_group(club.uuid) == club


def test_unknown_handles_are_listed_and_nothing_is_added(service, fake, club):
    with pytest.raises(UserNotFound) as refused:
        service.add_members(ALICE, club.uuid, ["dave", "zed", "yan"])
    assert refused.value.handles == ["yan", "zed"]
    assert fake.get_member(club.uuid, DAVE.uuid) is None


def test_non_members_cannot_add(service, club):
    with pytest.raises(GroupNotFound):
        service.add_members(DAVE, club.uuid, ["erin"])


def test_a_direct_conversation_cannot_grow(service, fake):
    opened = service.open_conversation(ALICE, "bob", "hi")
    with pytest.raises(InvalidInput) as refused:
        service.add_members(ALICE, opened.group_uuid, ["carol"])
    assert codes(refused) == ["direct_conversation_cannot_grow"]
    assert fake.get_member(opened.group_uuid, CAROL.uuid) is None
    assert row_of(fake, CAROL, opened.group_uuid) is None


@pytest.mark.parametrize("handles", ["dave", [1], None])
def test_handles_must_be_a_list_of_text(service, club, handles):
    with pytest.raises(InvalidInput) as refused:
        service.add_members(ALICE, club.uuid, handles)
    assert codes(refused) == ["handles_invalid"]


def test_the_41st_member_is_refused(fake):
    crowd = [user(f"user{i:02d}") for i in range(MAX_GROUP_MEMBERS)]
    service = service_on(fake, ALICE, *crowd)
    group = service.create_group(ALICE, "Big", [u.handle for u in crowd[:38]]).group
    assert group.members_count == 39

    with pytest.raises(InvalidInput) as refused:
        service.add_members(ALICE, group.uuid, [crowd[38].handle, crowd[39].handle])
    assert codes(refused) == ["group_too_large"]
    assert fake.get_group(group.uuid).members_count == 39

    assert service.add_members(ALICE, group.uuid, [crowd[38].handle]).group.members_count == 40
    with pytest.raises(InvalidInput) as refused:
        service.add_members(ALICE, group.uuid, [crowd[39].handle])
    assert codes(refused) == ["group_too_large"]


def test_a_member_added_later_sees_messages_from_their_joining_on(service, fake, club):
    for i in range(5):
        service.send_message(BOB, club.uuid, f"before {i}")
    service.add_members(ALICE, club.uuid, ["dave"])
    apply(fake, service, club.uuid)  # an older message applied after the joining
    assert row_of(fake, DAVE, club.uuid).message == ""
    assert service.list_messages(DAVE, club.uuid).items == []

    for i in range(3):
        service.send_message(CAROL, club.uuid, f"after {i}")
    apply(fake, service, club.uuid)

    page = service.list_messages(DAVE, club.uuid, limit=2)
    assert [m.text for m in page.items] == ["after 1", "after 2"]
    older = service.list_messages(DAVE, club.uuid, limit=2, cursor=page.next_cursor)
    assert [m.text for m in older.items] == ["after 0"]
    every = fake.all_messages(club.uuid)
    first = next(iter(every))
    crafted = keys.encode_cursor(first.sk)
    assert service.list_messages(DAVE, club.uuid, cursor=crafted).items == []
    assert row_of(fake, DAVE, club.uuid).message == "after 2"
    # the members from the start still see everything
    assert len(service.list_messages(ALICE, club.uuid, limit=100).items) == 9


# --- removing and leaving -------------------------------------------------------------------


def test_the_owner_removes_a_member_who_then_gets_404_and_loses_the_row(service, fake, club):
    group = service.remove_member(ALICE, club.uuid, "@carol")

    assert group.members_count == 2
    assert row_of(fake, CAROL, club.uuid) is None
    with pytest.raises(GroupNotFound):
        service.list_messages(CAROL, club.uuid)
    with pytest.raises(GroupNotFound):
        service.send_message(CAROL, club.uuid, "still here?")
    service.send_message(BOB, club.uuid, "after carol")
    apply(fake, service, club.uuid)
    assert row_of(fake, CAROL, club.uuid) is None
    assert {row_of(fake, u, club.uuid).members_count for u in (ALICE, BOB)} == {2}


def test_only_the_owner_removes_others(service, fake, club):
    with pytest.raises(NotGroupOwner):
        service.remove_member(BOB, club.uuid, "carol")
    assert fake.get_member(club.uuid, CAROL.uuid) is not None


def test_anyone_leaves(service, fake, club):
    service.remove_member(CAROL, club.uuid, "Carol")
    assert fake.get_member(club.uuid, CAROL.uuid) is None
    assert row_of(fake, CAROL, club.uuid) is None


def test_removing_someone_not_in_the_group(service, club):
    with pytest.raises(MemberNotFound):
        service.remove_member(ALICE, club.uuid, "dave")
    with pytest.raises(UserNotFound):
        service.remove_member(ALICE, club.uuid, "nobody")


def test_the_creator_leaving_hands_the_role_to_the_longest_standing_member(service, fake, club):
    service.add_members(ALICE, club.uuid, ["dave"])
    service.remove_member(ALICE, club.uuid, "alice")

    roles = {m.handle: m.role for m in fake.list_members(club.uuid)}
    earliest = min([BOB, CAROL], key=lambda u: u.uuid).handle  # joined together: by uuid
    assert roles[earliest] == "owner"
    assert list(roles.values()).count("owner") == 1
    assert roles["dave"] == "member"


def test_a_direct_conversation_cannot_be_left(service):
    opened = service.open_conversation(ALICE, "bob", "hi")
    with pytest.raises(InvalidInput) as refused:
        service.remove_member(ALICE, opened.group_uuid, "alice")
    assert codes(refused) == ["direct_conversation_cannot_shrink"]


# --- renaming -------------------------------------------------------------------------------


def test_renaming_shows_in_every_members_list(service, fake, club):
    renamed = service.rename_group(CAROL, club.uuid, "  New name  ")

    assert renamed.name == "New name"
    assert {row_of(fake, u, club.uuid).group_name for u in (ALICE, BOB, CAROL)} == {"New name"}
    service.send_message(BOB, club.uuid, "hi")
    apply(fake, service, club.uuid)
    assert {row_of(fake, u, club.uuid).group_name for u in (ALICE, BOB, CAROL)} == {"New name"}


@pytest.mark.parametrize(
    "name, code",
    [
        ("   ", "group_name_blank"),
        (None, "group_name_blank"),
        ("x" * 101, "group_name_exceed_max_chars"),
    ],
)
def test_bad_names_are_refused(service, fake, club, name, code):
    with pytest.raises(InvalidInput) as refused:
        service.rename_group(ALICE, club.uuid, name)
    assert codes(refused) == [code]
    assert fake.get_group(club.uuid).name == "Club"


def test_non_members_cannot_rename(service, club):
    with pytest.raises(GroupNotFound):
        service.rename_group(DAVE, club.uuid, "Mine")


class MovesFirst(InMemoryMessageRepository):
    """A stream processor moving the leaving member's row between the service's read of it and
    the removal's transaction, once."""

    def __init__(self) -> None:
        super().__init__()
        self.raced = 0

    def remove_member(
        self, expected, updated, user_uuid, conversations, new_owner_uuid=None, refreshed=()
    ):
        if not self.raced:
            self.raced += 1
            newest = self.newest_message(expected.uuid)
            assert newest is not None
            move_conversation_rows(self, newest, sleep=lambda _: None)
        return super().remove_member(
            expected, updated, user_uuid, conversations, new_owner_uuid, refreshed
        )


def test_a_removal_racing_with_a_move_reads_the_moved_row_and_leaves_none():
    fake = MovesFirst()
    service = service_on(fake, *EVERYONE)
    club = service.create_group(ALICE, "Club", ["bob", "carol"], "welcome").group
    service.send_message(BOB, club.uuid, "racing")  # stored; its move not applied yet

    service.remove_member(ALICE, club.uuid, "carol")

    assert fake.raced == 1
    assert row_of(fake, CAROL, club.uuid) is None
    assert fake.get_member(club.uuid, CAROL.uuid) is None
    assert row_of(fake, BOB, club.uuid).message == "racing"
    move_conversation_rows(fake, fake.newest_message(club.uuid), sleep=lambda _: None)
    assert row_of(fake, CAROL, club.uuid) is None
