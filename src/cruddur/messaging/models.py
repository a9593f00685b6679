"""Domain objects of messaging: plain dataclasses, no DynamoDB or Flask types.

They are also the rows the repository reads and writes (one dataclass per row type of the table),
and the outcomes it answers with, so the services decide on typed values, never on item dicts."""

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
    # the sort key of the message the row shows; rows written by the seed's tools record neither
    # this nor `kind` (`kind_recorded` false); a moved seed row gets our sort key and
    # `last_message_sk` but still no `kind`, so it is still told apart as the seed's
    last_message_sk: str = ""
    kind_recorded: bool = True
    # a named group's size and the version of its metadata (name, size) the row shows: the
    # stream processor and the membership/rename use cases keep them in step with `META`
    members_count: int = 0
    meta_version: int = 0

    @property
    def shown_message_sk(self) -> str:
        """Which message the row shows. A seed row's timestamp is all we know of it, and it sorts
        before any message sk of the same microsecond."""
        return self.last_message_sk or self.sk.partition("#")[0]


@dataclass(frozen=True)
class MessageGroup:
    uuid: str
    kind: GroupKind
    name: str | None
    created_by: str
    created_at: str
    members_count: int
    # bumped by every change of the name or the members (optimistic concurrency, and which
    # conversation rows show the latest name and size); 0 until the first change
    meta_version: int = 0


@dataclass(frozen=True)
class Member:
    user_uuid: str
    handle: str
    display_name: str
    joined_at: str
    role: str = "member"


@dataclass(frozen=True)
class DirectPair:
    """The row that makes a pair's direct group unique (pk PAIR#{smaller}#{larger}).
    `seed_format`: the group was written by the seed's tools and adopted on first contact."""

    user_a: str
    user_b: str
    group_uuid: str
    created_at: str
    seed_format: bool = False


@dataclass(frozen=True)
class NewGroup:
    """Every row of a group at its creation, written in one transaction: metadata, one membership
    and one conversation row per member, the first message if any, and the pair row of a direct
    group (whose condition keeps one group per pair)."""

    group: MessageGroup
    members: list[Member]
    conversations: list[Conversation]
    message: Message | None = None
    pair: DirectPair | None = None


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T] = field(default_factory=list)
    next_cursor: str | None = None


class WriteOutcome(StrEnum):
    """What a conditional write did: the repository's answer, on which the services act."""

    CREATED = "created"
    # the very same row was already there (a retried write whose first answer was lost)
    ALREADY_STORED = "already_stored"
    # the condition failed: the key holds another row, or the row moved on
    CONDITION_FAILED = "condition_failed"


class Membership(StrEnum):
    """How a user belongs to a group: a membership row, or (a group written in the seed's format,
    with no membership rows) a conversation row of theirs for it."""

    MEMBER = "member"
    SEED_FORMAT = "seed_format"


@dataclass(frozen=True)
class OpenedConversation:
    """A message sent by handle: the pair's direct group, and whether this send created it."""

    group_uuid: str
    message: Message
    created: bool


@dataclass(frozen=True)
class AddedMembers:
    """Members added to a named group in one transaction: the metadata as it now is, and the
    members and conversation rows written (a member already there is not written again)."""

    group: MessageGroup
    members: list[Member]


@dataclass(frozen=True)
class CreatedGroup:
    """A named group just created, with its first message when one was given."""

    group: MessageGroup
    message: Message | None = None
