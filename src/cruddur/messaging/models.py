"""Domain objects of messaging: plain dataclasses, no DynamoDB or Flask types."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Generic, TypeVar

T = TypeVar("T")

MAX_MESSAGE_CHARS = 1024
MAX_GROUP_MEMBERS = 40
DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100


class GroupKind(StrEnum):
    DIRECT = "direct"
    GROUP = "group"


@dataclass(frozen=True)
class UserRef:
    """What messaging needs to know of a user (the users store owns the rest)."""

    uuid: str
    handle: str
    display_name: str


@dataclass(frozen=True)
class Message:
    uuid: str
    group_uuid: str
    user_uuid: str
    handle: str
    display_name: str
    text: str
    created_at: str  # bare timestamp
    sk: str  # the stored sort key (ours: created_at#uuid; seed rows: created_at)


@dataclass(frozen=True)
class Conversation:
    """One row of a user's conversation list (pk GRP#{owner})."""

    owner_uuid: str
    group_uuid: str
    # a direct conversation: the other party; a group: the last sender
    user_uuid: str
    handle: str
    display_name: str
    message: str
    last_reply_at: str
    sk: str
    kind: GroupKind = GroupKind.DIRECT
    group_name: str | None = None


@dataclass(frozen=True)
class MessageGroup:
    uuid: str
    kind: GroupKind
    name: str | None
    created_by: str
    created_at: str
    members_count: int


@dataclass(frozen=True)
class Member:
    user_uuid: str
    handle: str
    display_name: str
    joined_at: str
    role: str = "member"


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T] = field(default_factory=list)
    next_cursor: str | None = None


@dataclass(frozen=True)
class Sent:
    """The outcome of opening a conversation with a message: the group and the stored message."""

    group_uuid: str
    message: Message
    created_group: bool
    group: MessageGroup | None = None  # set when the send created a named group
