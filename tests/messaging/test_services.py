"""The use cases: validation (pure) and their rules against the real store."""

from __future__ import annotations

import pytest

from cruddur.messaging import services
from cruddur.messaging.errors import GroupNotFound, InvalidInput, UserNotFound
from cruddur.messaging.models import MAX_MESSAGE_CHARS, UserRef


class Directory:
    """An in-memory user directory (the users store is tested on its own against PostgreSQL)."""

    def __init__(self, *users: UserRef) -> None:
        self.by_handle = {u.handle.lower(): u for u in users}

    def find_by_handle(self, handle: str) -> UserRef | None:
        return self.by_handle.get(handle.lower())

    def find_by_handles(self, handles: list[str]) -> list[UserRef]:
        return [self.by_handle[h.lower()] for h in handles if h.lower() in self.by_handle]


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
    assert refused.value.codes == [code]


def test_messages_count_code_points_after_trimming():
    emoji = "\N{GRINNING FACE}" * MAX_MESSAGE_CHARS
    assert services.clean_message(f"  {emoji}  ") == emoji


def test_malformed_group_uuids_are_invalid_input():
    with pytest.raises(InvalidInput) as refused:
        services.clean_group_uuid("../../etc")
    assert refused.value.codes == ["message_group_uuid_invalid"]


def test_open_conversation_rules(store, alice, bob):
    users = Directory(alice, bob)
    with pytest.raises(InvalidInput) as blank:
        services.open_conversation(store, users, alice, "  ", "hi")
    assert blank.value.codes == ["user_receiver_handle_blank"]
    with pytest.raises(InvalidInput) as self_message:
        services.open_conversation(store, users, alice, "@Alice", "hi")
    assert self_message.value.codes == ["cannot_message_self"]
    with pytest.raises(UserNotFound):
        services.open_conversation(store, users, alice, "nobody", "hi")
    sent = services.open_conversation(store, users, alice, "@bob", "  hi  ")
    assert sent.message.text == "hi"
    assert list(store.scan())  # written only after every check passed


def test_reading_and_sending_need_membership(store, alice, bob, carol):
    sent = services.open_conversation(store, Directory(alice, bob), alice, "bob", "hi")
    with pytest.raises(GroupNotFound):
        services.list_messages(store, carol, sent.group_uuid)
    with pytest.raises(GroupNotFound):
        services.send_message(store, carol, sent.group_uuid, "hello?")
    with pytest.raises(GroupNotFound):
        services.list_members(store, carol, sent.group_uuid)
    reply = services.send_message(store, bob, sent.group_uuid, "hey")
    assert [m.uuid for m in services.list_messages(store, alice, sent.group_uuid).items][
        -1
    ] == reply.uuid


def test_create_group_rules(store, alice, bob, carol):
    users = Directory(alice, bob, carol)
    with pytest.raises(InvalidInput) as too_few:
        services.create_group(store, users, alice, "Just me", ["alice"])
    assert too_few.value.codes == ["group_members_too_few"]
    many = [f"user{i}" for i in range(40)]
    with pytest.raises(InvalidInput) as too_many:
        services.create_group(store, users, alice, "Crowd", many)
    assert too_many.value.codes == ["group_members_too_many"]
    with pytest.raises(InvalidInput) as unnamed:
        services.create_group(store, users, alice, " ", ["bob"])
    assert unnamed.value.codes == ["group_name_blank"]
    with pytest.raises(UserNotFound):
        services.create_group(store, users, alice, "Club", ["bob", "ghost"])
    assert list(store.scan()) == []

    created = services.create_group(
        store, users, alice, "Club", ["bob", "carol", "@Bob"], "welcome"
    )
    members = services.list_members(store, carol, created.group_uuid)
    assert sorted(m.handle for m in members) == ["alice", "bob", "carol"]


def test_a_malformed_cursor_is_invalid_input(store, alice):
    with pytest.raises(InvalidInput) as refused:
        services.list_conversations(store, alice, cursor="%%%")
    assert refused.value.codes == ["cursor_invalid"]
