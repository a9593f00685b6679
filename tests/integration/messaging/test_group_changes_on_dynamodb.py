"""Named groups that change, on the real table (DynamoDB Local) with the stream processor applied
from the table's stream: every member's list follows, a member added later sees only what came
after their joining, a removed member loses access and the row (also while 20 sends and the
processor race with the removal), the 41st member is refused, a rename shows in every list."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from cruddur.messaging import keys
from cruddur.messaging.errors import GroupNotFound, InvalidInput
from cruddur.messaging.fake import StaticUserDirectory
from cruddur.messaging.models import MAX_GROUP_MEMBERS, GroupKind, UserRef
from cruddur.messaging.repository import DynamoMessageRepository
from cruddur.messaging.services import MessagingService
from cruddur.streams.processor import apply_records
from fixtures_streams import assert_one_row_each, read_stream, user


@pytest.fixture
def five(people) -> list[UserRef]:
    return people[:5]


@pytest.fixture
def service(repo, people) -> MessagingService:
    crowd = [user(f"member{i:02d}") for i in range(MAX_GROUP_MEMBERS)]
    return MessagingService(repo, StaticUserDirectory([*people, *crowd]))


@pytest.fixture
def stream(settings, repo):
    def apply() -> None:
        outcome = apply_records(repo, read_stream(settings))
        assert outcome.failures == []

    return apply


def rows_of(repo: DynamoMessageRepository, who: UserRef, group_uuid: str):
    return repo.member_conversation_rows(who.uuid, group_uuid)


def the_row(repo: DynamoMessageRepository, who: UserRef, group_uuid: str):
    [row] = rows_of(repo, who, group_uuid)
    return row


def test_five_members_each_send_and_every_list_follows(service, repo, stream, five):
    creator, *others = five
    group = service.create_group(creator, "Five", [o.handle for o in others], "hello all").group
    for sender in five:
        service.send_message(sender, group.uuid, f"from {sender.handle}")
        stream()
        for member in five:
            listed = service.list_conversations(member).items
            assert [c.group_uuid for c in listed] == [group.uuid]
            row = listed[0]
            assert (row.message, row.handle) == (f"from {sender.handle}", sender.handle)
            assert (row.group_name, row.members_count, row.kind) == ("Five", 5, GroupKind.GROUP)
    assert_one_row_each(repo)
    assert [m.handle for m in service.list_messages(others[0], group.uuid).items[1:]] == [
        p.handle for p in five
    ]


def test_a_member_added_later_sees_only_messages_from_their_joining_on(service, repo, stream, five):
    alice, bob, carol, dave, _ = five
    group = service.create_group(alice, "Club", ["bob", "carol"], "welcome").group
    for i in range(25):
        service.send_message(bob, group.uuid, f"before {i}")
    stream()

    service.add_members(carol, group.uuid, ["dave"])
    # an older message applied after the joining (a late stream) moves nothing of dave's
    stream()
    assert the_row(repo, dave, group.uuid).message == ""
    assert service.list_messages(dave, group.uuid).items == []

    for i in range(5):
        service.send_message(alice, group.uuid, f"after {i}")
    stream()

    page = service.list_messages(dave, group.uuid, limit=3)
    assert [m.text for m in page.items] == ["after 2", "after 3", "after 4"]
    older = service.list_messages(dave, group.uuid, limit=3, cursor=page.next_cursor)
    assert [m.text for m in older.items] == ["after 0", "after 1"]
    assert older.next_cursor is None
    before = next(iter(repo.all_messages(group.uuid)))
    crafted = keys.encode_cursor(before.sk)
    assert service.list_messages(dave, group.uuid, cursor=crafted).items == []
    row = the_row(repo, dave, group.uuid)
    assert (row.message, row.members_count) == ("after 4", 4)
    assert len(service.list_messages(bob, group.uuid, limit=100).items) == 31


def test_a_removed_member_gets_404_and_loses_the_row(service, repo, stream, five):
    alice, bob, carol, *_ = five
    group = service.create_group(alice, "Club", ["bob", "carol"], "welcome").group
    service.send_message(carol, group.uuid, "hi from carol")
    stream()

    service.remove_member(alice, group.uuid, "carol")

    with pytest.raises(GroupNotFound):
        service.list_messages(carol, group.uuid)
    with pytest.raises(GroupNotFound):
        service.send_message(carol, group.uuid, "let me in")
    assert rows_of(repo, carol, group.uuid) == []
    service.send_message(bob, group.uuid, "carol left")
    stream()
    assert rows_of(repo, carol, group.uuid) == []
    assert service.list_conversations(carol).items == []
    assert the_row(repo, alice, group.uuid).members_count == 2


def test_a_removal_racing_with_20_sends_and_the_processor_never_leaves_a_row(
    service, repo, settings, five
):
    alice, bob, carol, dave, erin = five
    group = service.create_group(alice, "Busy", ["bob", "carol", "dave", "erin"], "go").group
    senders = [alice, bob, carol, erin]
    start = threading.Barrier(20 + 2)
    stop = threading.Event()

    def send(i: int) -> None:
        start.wait()
        service.send_message(senders[i % len(senders)], group.uuid, f"burst {i}")

    def process() -> None:
        start.wait()
        while not stop.is_set():
            apply_records(repo, read_stream(settings))

    def remove() -> None:
        start.wait()
        service.remove_member(alice, group.uuid, "dave")

    with ThreadPoolExecutor(max_workers=22) as pool:
        processor = pool.submit(process)
        removal = pool.submit(remove)
        sends = [pool.submit(send, i) for i in range(20)]
        for future in [removal, *sends]:
            future.result()
        stop.set()
        processor.result()
    outcome = apply_records(repo, read_stream(settings))

    assert outcome.failures == []
    assert rows_of(repo, dave, group.uuid) == []
    assert repo.get_member(group.uuid, dave.uuid) is None
    with pytest.raises(GroupNotFound):
        service.list_messages(dave, group.uuid)
    with pytest.raises(GroupNotFound):
        service.send_message(dave, group.uuid, "late")
    newest = repo.newest_message(group.uuid)
    for member in senders:
        row = the_row(repo, member, group.uuid)
        assert row.last_message_sk == newest.sk
        assert row.members_count == 4
    assert repo.get_group(group.uuid).members_count == 4
    assert_one_row_each(repo)


def test_the_41st_member_is_refused(service, repo, alice):
    crowd = [user(f"member{i:02d}") for i in range(MAX_GROUP_MEMBERS)]
    group = service.create_group(alice, "Big", [u.handle for u in crowd[:39]]).group
    assert group.members_count == MAX_GROUP_MEMBERS

    with pytest.raises(InvalidInput) as refused:
        service.add_members(alice, group.uuid, [crowd[39].handle])

    assert refused.value.codes == ["group_too_large"]
    assert repo.get_group(group.uuid) == group
    assert repo.get_member(group.uuid, crowd[39].uuid) is None
    assert len(repo.list_members(group.uuid)) == MAX_GROUP_MEMBERS


def test_adding_up_to_40_at_once_is_one_transaction(service, repo, alice, bob):
    crowd = [user(f"member{i:02d}") for i in range(MAX_GROUP_MEMBERS)]
    group = service.create_group(alice, "Growing", ["bob"]).group

    added = service.add_members(bob, group.uuid, [u.handle for u in crowd[:38]])

    assert added.group.members_count == MAX_GROUP_MEMBERS
    assert len(repo.list_members(group.uuid)) == MAX_GROUP_MEMBERS
    rows = repo.group_conversation_rows(group.uuid)
    assert [r.members_count for r in rows] == [MAX_GROUP_MEMBERS] * MAX_GROUP_MEMBERS


def test_the_largest_change_fits_one_transaction(service, repo, alice, bob):
    """39 people added to a group left with one member: 1 + 2 x 39 + 1 = 80 actions."""
    crowd = [user(f"member{i:02d}") for i in range(MAX_GROUP_MEMBERS)]
    group = service.create_group(alice, "Shrinking", ["bob"]).group
    service.remove_member(bob, group.uuid, "bob")

    added = service.add_members(alice, group.uuid, [u.handle for u in crowd[:39]])

    assert added.group.members_count == MAX_GROUP_MEMBERS
    rows = repo.group_conversation_rows(group.uuid)
    assert [r.members_count for r in rows] == [MAX_GROUP_MEMBERS] * MAX_GROUP_MEMBERS


def test_renaming_a_40_member_group_shows_in_all_40_lists(service, repo, alice):
    crowd = [user(f"member{i:02d}") for i in range(MAX_GROUP_MEMBERS)]
    group = service.create_group(alice, "Big", [u.handle for u in crowd[:39]], "hi").group

    service.rename_group(crowd[5], group.uuid, "Bigger")

    for member in [alice, *crowd[:39]]:
        [row] = service.list_conversations(member).items
        assert (row.group_name, row.members_count, row.message) == ("Bigger", 40, "hi")


def test_renaming_shows_in_every_list(service, repo, stream, five):
    creator, *others = five
    group = service.create_group(creator, "Old", [o.handle for o in others], "hi").group

    service.rename_group(others[2], group.uuid, "New")

    for member in five:
        [row] = service.list_conversations(member).items
        assert row.group_name == "New"
    service.send_message(others[0], group.uuid, "after the rename")
    stream()
    for member in five:
        [row] = service.list_conversations(member).items
        assert (row.group_name, row.message) == ("New", "after the rename")
    assert repo.get_group(group.uuid).name == "New"


def test_a_rename_racing_with_sends_and_the_processor_ends_with_the_new_name(
    service, repo, settings, five
):
    creator, *others = five
    group = service.create_group(creator, "Old", [o.handle for o in others], "hi").group
    start = threading.Barrier(10 + 2)
    stop = threading.Event()

    def send(i: int) -> None:
        start.wait()
        service.send_message(five[i % 5], group.uuid, f"m{i}")

    def process() -> None:
        start.wait()
        while not stop.is_set():
            apply_records(repo, read_stream(settings))

    def rename() -> None:
        start.wait()
        service.rename_group(creator, group.uuid, "New")

    with ThreadPoolExecutor(max_workers=12) as pool:
        processor = pool.submit(process)
        futures = [pool.submit(rename), *[pool.submit(send, i) for i in range(10)]]
        for future in futures:
            future.result()
        stop.set()
        processor.result()
    apply_records(repo, read_stream(settings))

    for member in five:
        assert the_row(repo, member, group.uuid).group_name == "New"


def test_adds_removals_renames_and_sends_racing_each_other_leave_one_consistent_group(
    service, repo, settings, people
):
    """Two adds, a removal, a rename and 10 sends at once, with the processor running: every
    change commits whole, and the end is one group whose `META`, membership rows and rows agree."""
    alice, bob, carol, dave, erin, frank, grace = people
    group = service.create_group(alice, "Old", ["bob", "carol"], "go").group
    start = threading.Barrier(4 + 10 + 1)
    stop = threading.Event()
    changes = [
        lambda: service.add_members(bob, group.uuid, ["dave", "erin"]),
        lambda: service.add_members(alice, group.uuid, ["frank", "grace"]),
        lambda: service.remove_member(alice, group.uuid, "carol"),
        lambda: service.rename_group(bob, group.uuid, "New"),
    ]

    def run(change) -> None:
        start.wait()
        change()

    def send(i: int) -> None:
        start.wait()
        service.send_message([alice, bob][i % 2], group.uuid, f"m{i}")

    def process() -> None:
        start.wait()
        while not stop.is_set():
            apply_records(repo, read_stream(settings))

    with ThreadPoolExecutor(max_workers=15) as pool:
        processor = pool.submit(process)
        futures = [pool.submit(run, c) for c in changes]
        futures += [pool.submit(send, i) for i in range(10)]
        for future in futures:
            future.result()
        stop.set()
        processor.result()
    assert apply_records(repo, read_stream(settings)).failures == []

    meta = repo.get_group(group.uuid)
    members = {m.user_uuid for m in repo.list_members(group.uuid)}
    assert meta.name == "New" and meta.members_count == len(members) == 6
    assert carol.uuid not in members
    assert rows_of(repo, carol, group.uuid) == []
    newest = repo.newest_message(group.uuid)
    for member in [p for p in people if p.uuid in members]:
        row = the_row(repo, member, group.uuid)
        assert (row.group_name, row.members_count) == ("New", 6)
        # a member added after the newest message shows their empty joining row instead
        assert row.last_message_sk in (newest.sk, row.sk.rsplit("#", 1)[0])
    assert_one_row_each(repo)
