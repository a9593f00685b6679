"""Use cases of messaging. Each takes its dependencies as arguments (the message store, a user
directory) and the acting user, whose identity the entrypoint took from a verified token."""

from __future__ import annotations

from typing import Protocol

from cruddur.messaging import keys
from cruddur.messaging.errors import GroupNotFound, InvalidInput, UserNotFound
from cruddur.messaging.models import (
    DEFAULT_PAGE_SIZE,
    MAX_GROUP_MEMBERS,
    MAX_MESSAGE_CHARS,
    Conversation,
    Member,
    Message,
    MessageGroup,
    Page,
    Sent,
    UserRef,
)
from cruddur.messaging.repository import MessageStore

MAX_GROUP_NAME_CHARS = 100


class UserDirectory(Protocol):
    """What messaging asks of the users store."""

    def find_by_handle(self, handle: str) -> UserRef | None: ...

    def find_by_handles(self, handles: list[str]) -> list[UserRef]: ...


def clean_message(text: object) -> str:
    """The message as stored: trimmed, 1 to 1024 code points, else InvalidInput."""
    if not isinstance(text, str):
        raise InvalidInput("message_blank")
    cleaned = text.strip()
    if not cleaned:
        raise InvalidInput("message_blank")
    if len(cleaned) > MAX_MESSAGE_CHARS:
        raise InvalidInput("message_exceed_max_chars")
    return cleaned


def clean_group_uuid(value: object) -> str:
    try:
        return keys.parse_uuid(str(value) if value is not None else "", "message_group_uuid")
    except keys.InvalidKey as exc:
        raise InvalidInput("message_group_uuid_invalid") from exc


def clean_cursor(cursor: str | None) -> str | None:
    if cursor is None or cursor == "":
        return None
    try:
        keys.decode_cursor(cursor)
    except keys.InvalidKey as exc:
        raise InvalidInput("cursor_invalid") from exc
    return cursor


def list_messages(
    store: MessageStore,
    reader: UserRef,
    group_uuid: str,
    limit: int = DEFAULT_PAGE_SIZE,
    cursor: str | None = None,
) -> Page[Message]:
    """A page of the group's messages, oldest to newest; GroupNotFound unless `reader` is a member."""
    group_uuid = clean_group_uuid(group_uuid)
    cursor = clean_cursor(cursor)
    if not store.is_member(group_uuid, reader.uuid):
        raise GroupNotFound(group_uuid)
    return store.list_messages(group_uuid, limit=limit, cursor=cursor)


def list_conversations(
    store: MessageStore, owner: UserRef, limit: int = DEFAULT_PAGE_SIZE, cursor: str | None = None
) -> Page[Conversation]:
    return store.list_conversations(owner.uuid, limit=limit, cursor=clean_cursor(cursor))


def send_message(store: MessageStore, sender: UserRef, group_uuid: str, text: object) -> Message:
    """Append to an existing group: members only (GroupNotFound otherwise)."""
    group_uuid = clean_group_uuid(group_uuid)
    return store.send_to_group(group_uuid, sender, clean_message(text))


def open_conversation(
    store: MessageStore, users: UserDirectory, sender: UserRef, handle: object, text: object
) -> Sent:
    """Send to @handle: in the pair's one direct group, created on first contact."""
    cleaned = clean_message(text)
    if not isinstance(handle, str) or not handle.strip().lstrip("@"):
        raise InvalidInput("user_receiver_handle_blank")
    recipient = users.find_by_handle(handle.strip().lstrip("@"))
    if recipient is None:
        raise UserNotFound(handle)
    if recipient.uuid == sender.uuid:
        raise InvalidInput("cannot_message_self")
    return store.open_direct_conversation(sender, recipient, cleaned)


def create_group(
    store: MessageStore,
    users: UserDirectory,
    creator: UserRef,
    name: object,
    handles: object,
    text: object = None,
) -> Sent | MessageGroup:
    """A named group: the creator plus at least one other member, at most 40 in all."""
    errors = []
    if not isinstance(name, str) or not name.strip():
        errors.append("group_name_blank")
    elif len(name.strip()) > MAX_GROUP_NAME_CHARS:
        errors.append("group_name_exceed_max_chars")
    if not isinstance(handles, list) or not all(isinstance(h, str) for h in handles):
        errors.append("handles_invalid")
    if errors:
        raise InvalidInput(*errors)
    assert isinstance(name, str) and isinstance(handles, list)
    cleaned_text = None if text is None else clean_message(text)
    wanted = {h.strip().lstrip("@").lower() for h in handles if h.strip().lstrip("@")}
    wanted.discard(creator.handle.lower())
    if not wanted:
        raise InvalidInput("group_members_too_few")
    if len(wanted) + 1 > MAX_GROUP_MEMBERS:
        raise InvalidInput("group_members_too_many")
    found = users.find_by_handles(sorted(wanted))
    if len(found) != len(wanted):
        missing = wanted - {u.handle.lower() for u in found}
        raise UserNotFound(", ".join(sorted(missing)))
    return store.create_group(creator, found, name.strip(), cleaned_text)


def list_members(store: MessageStore, reader: UserRef, group_uuid: str) -> list[Member]:
    group_uuid = clean_group_uuid(group_uuid)
    if not store.is_member(group_uuid, reader.uuid):
        raise GroupNotFound(group_uuid)
    return store.list_members(group_uuid)
