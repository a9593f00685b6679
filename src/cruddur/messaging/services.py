"""Use cases of messaging, and their rules: who may read, send and list members; one direct group
per pair; how a group is created. The acting user comes from the entrypoint, which took it from a
verified token.

A rule that concurrency could break is never enforced by reading and then writing: the service
writes conditionally through the repository and acts on the typed outcome (created, already
stored, condition failed).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

from cruddur.messaging import keys, retries
from cruddur.messaging.errors import GroupNotFound, InvalidInput, UserNotFound
from cruddur.messaging.models import (
    DEFAULT_PAGE_SIZE,
    MAX_GROUP_MEMBERS,
    MAX_MESSAGE_CHARS,
    Conversation,
    CreatedGroup,
    DirectPair,
    GroupKind,
    Member,
    Membership,
    Message,
    MessageGroup,
    NewGroup,
    OpenedConversation,
    Page,
    UserRef,
    WriteOutcome,
)
from cruddur.messaging.ports import MessageRepository, UserDirectory

MAX_GROUP_NAME_CHARS = 100

# --- input ------------------------------------------------------------------------------------


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


def clean_handle(handle: object) -> str:
    if not isinstance(handle, str) or not handle.strip().lstrip("@"):
        raise InvalidInput("user_receiver_handle_blank")
    return handle.strip().lstrip("@")


def clean_group_request(name: object, handles: object) -> tuple[str, list[str]]:
    """The group's trimmed name and its handles, or InvalidInput with every problem found."""
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
    return name.strip(), handles


# --- rows of a new group ----------------------------------------------------------------------


def new_message(group_uuid: str, sender: UserRef, text: str, created_at: str) -> Message:
    """A message with a fresh uuid: its key is never another message's."""
    message_uuid = keys.new_uuid()
    return Message(
        uuid=message_uuid,
        group_uuid=group_uuid,
        user_uuid=sender.uuid,
        handle=sender.handle,
        display_name=sender.display_name,
        text=text,
        created_at=created_at,
        sk=keys.message_sk(created_at, message_uuid),
    )


def new_group_rows(
    group: MessageGroup, creator: UserRef, members: list[UserRef], text: str | None
) -> NewGroup:
    """Every row of a new group: the creator owns it; a direct group's rows show the other party,
    a named group's the creator (its last sender); the first message, when given, is on all."""
    message = None if text is None else new_message(group.uuid, creator, text, group.created_at)
    member_rows = [
        Member(
            user_uuid=m.uuid,
            handle=m.handle,
            display_name=m.display_name,
            joined_at=group.created_at,
            role="owner" if m.uuid == creator.uuid else "member",
        )
        for m in members
    ]
    conversations = []
    for member in members:
        if group.kind is GroupKind.DIRECT:
            shown = next(m for m in members if m.uuid != member.uuid)
        else:
            shown = creator
        conversations.append(
            Conversation(
                owner_uuid=member.uuid,
                group_uuid=group.uuid,
                user_uuid=shown.uuid,
                handle=shown.handle,
                display_name=shown.display_name,
                message=message.text if message else "",
                last_reply_at=group.created_at,
                sk=keys.conversation_sk(group.created_at, group.uuid),
                kind=group.kind,
                group_name=group.name,
                last_message_sk=message.sk if message else "",
            )
        )
    return NewGroup(group=group, members=member_rows, conversations=conversations, message=message)


def seed_group_members(rows: list[Conversation]) -> list[Member]:
    """A group written in the seed's format has no membership rows: its members own its
    conversation rows, and each is named on the rows of the others."""
    named = {r.user_uuid: r for r in rows}
    members = []
    for owner in sorted({r.owner_uuid for r in rows}):
        shown = named.get(owner)
        members.append(
            Member(
                user_uuid=owner,
                handle=shown.handle if shown else "",
                display_name=shown.display_name if shown else "",
                joined_at="",
            )
        )
    return members


# --- the use cases ----------------------------------------------------------------------------


@dataclass
class MessagingService:
    """The messaging use cases over a MessageRepository and a user directory (needed only to
    open conversations and create groups by handle)."""

    messages: MessageRepository
    users: UserDirectory | None = None
    clock: keys.Clock = keys.utc_now
    sleep: retries.Sleep = time.sleep

    def _now(self) -> str:
        return keys.now_timestamp(self.clock)

    def _directory(self) -> UserDirectory:
        if self.users is None:
            raise RuntimeError("this MessagingService was built without a user directory")
        return self.users

    # --- membership ---------------------------------------------------------------------------

    def membership(self, group_uuid: str, user_uuid: str) -> Membership | None:
        """How the user belongs to the group, or None (not a member, or no such group). One
        consistent GetItem for a member of one of our groups; a group written in the seed's
        format (no metadata row) counts the owners of its conversation rows as members."""
        if self.messages.get_member(group_uuid, user_uuid) is not None:
            return Membership.MEMBER
        if self.messages.get_group(group_uuid) is not None:
            return None
        rows = self.messages.member_conversation_rows(user_uuid, group_uuid)
        return Membership.SEED_FORMAT if rows else None

    def _require_member(self, group_uuid: str, user_uuid: str) -> Membership:
        membership = self.membership(group_uuid, user_uuid)
        if membership is None:
            raise GroupNotFound(group_uuid)
        return membership

    # --- reads --------------------------------------------------------------------------------

    def list_conversations(
        self, owner: UserRef, limit: int = DEFAULT_PAGE_SIZE, cursor: str | None = None
    ) -> Page[Conversation]:
        """The owner's conversations, most recent first, each group once (a stray older row of a
        group already listed on this page is skipped)."""
        page = self.messages.conversations_page(owner.uuid, limit, clean_cursor(cursor))
        seen: set[str] = set()
        unique = []
        for row in page.items:
            if row.group_uuid and row.group_uuid not in seen:
                seen.add(row.group_uuid)
                unique.append(row)
        return Page(items=unique, next_cursor=page.next_cursor)

    def list_messages(
        self,
        reader: UserRef,
        group_uuid: object,
        limit: int = DEFAULT_PAGE_SIZE,
        cursor: str | None = None,
    ) -> Page[Message]:
        """A page of the group's messages, oldest to newest; GroupNotFound unless a member."""
        group = clean_group_uuid(group_uuid)
        cursor = clean_cursor(cursor)
        self._require_member(group, reader.uuid)
        return self.messages.messages_page(group, limit, cursor)

    def list_members(self, reader: UserRef, group_uuid: object) -> list[Member]:
        """The group's members; GroupNotFound unless `reader` is one."""
        group = clean_group_uuid(group_uuid)
        self._require_member(group, reader.uuid)
        members = self.messages.list_members(group)
        if members or self.messages.get_group(group) is not None:
            return members
        return seed_group_members(self.messages.group_conversation_rows(group))

    def find_direct_group(self, user_a: str, user_b: str) -> str | None:
        pair = self.messages.get_pair(user_a, user_b)
        return pair.group_uuid if pair else None

    # --- sends --------------------------------------------------------------------------------

    def send_message(self, sender: UserRef, group_uuid: object, text: object) -> Message:
        """Append to an existing group: members only (GroupNotFound otherwise)."""
        group = clean_group_uuid(group_uuid)
        cleaned = clean_message(text)
        membership = self._require_member(group, sender.uuid)
        return self._append(group, sender, cleaned, membership is Membership.SEED_FORMAT)

    def _append(self, group_uuid: str, sender: UserRef, text: str, seed_format: bool) -> Message:
        """Store a message; conversation rows follow through the stream processor.

        In a group written in the seed's format, the message is dated after the group's newest
        one: the seed's tools date messages minutes into the future, and a reply dated before
        them would sort above them and never reach the conversation rows (they move forward
        only). Costs one query of the group's newest message, only there."""
        not_before = None
        if seed_format:
            newest = self.messages.newest_message(group_uuid)
            if newest is not None and keys.is_timestamp(newest.created_at):
                not_before = newest.created_at
        for _ in retries.attempts("storing a message", self.sleep):
            now = self._now()
            if not_before is not None and now <= not_before:
                now = keys.next_timestamp(not_before)
            message = new_message(group_uuid, sender, text, now)
            if self.messages.add_message(message) is not WriteOutcome.CONDITION_FAILED:
                return message
            # a uuid4 collision: draw another key rather than overwrite
        raise AssertionError("unreachable")

    def open_conversation(
        self, sender: UserRef, handle: object, text: object
    ) -> OpenedConversation:
        """Send to @handle: in the pair's one direct group, created on first contact."""
        cleaned = clean_message(text)
        wanted = clean_handle(handle)
        recipient = self._directory().find_by_handle(wanted)
        if recipient is None:
            raise UserNotFound(wanted)
        return self.open_conversation_with(sender, recipient, cleaned)

    def open_conversation_with(
        self, sender: UserRef, recipient: UserRef, text: object
    ) -> OpenedConversation:
        """The one direct group of this pair, created with `text` as its first message, or the
        existing one with `text` appended. Concurrent openings from either side end in one group:
        the pair row's conditional put decides, and the loser appends to the winner's group."""
        cleaned = clean_message(text)
        if recipient.uuid == sender.uuid:
            raise InvalidInput("cannot_message_self")
        for _ in retries.attempts("opening a conversation", self.sleep):
            pair = self.messages.get_pair(sender.uuid, recipient.uuid) or self._adopt_seed_group(
                sender, recipient
            )
            if pair is not None:
                message = self._append(pair.group_uuid, sender, cleaned, pair.seed_format)
                return OpenedConversation(pair.group_uuid, message, created=False)
            group = MessageGroup(
                uuid=keys.new_uuid(),
                kind=GroupKind.DIRECT,
                name=None,
                created_by=sender.uuid,
                created_at=self._now(),
                members_count=2,
            )
            rows = new_group_rows(group, sender, [sender, recipient], cleaned)
            pair_row = DirectPair(sender.uuid, recipient.uuid, group.uuid, group.created_at)
            new = replace(rows, pair=pair_row)
            if self.messages.create_group(new) is WriteOutcome.CREATED:
                assert new.message is not None
                return OpenedConversation(group.uuid, new.message, created=True)
            # the other side won the pair row: read it again
        raise AssertionError("unreachable")

    def _adopt_seed_group(self, sender: UserRef, recipient: UserRef) -> DirectPair | None:
        """A conversation of this pair written in the seed's format (conversation rows only, no
        pair row), which then gets its pair row so later openings find it with one GetItem.
        Paid once per pair, on first contact: one query of the sender's conversation rows."""
        legacy = self.messages.seed_format_groups_with(sender.uuid, recipient.uuid)
        if not legacy:
            return None
        # newest first is not promised by a filtered query; any one of them will do
        pair = DirectPair(sender.uuid, recipient.uuid, legacy[0], self._now(), seed_format=True)
        if self.messages.add_pair(pair) is WriteOutcome.CREATED:
            return pair
        return self.messages.get_pair(sender.uuid, recipient.uuid)  # the other side was first

    def create_group(
        self, creator: UserRef, name: object, handles: object, text: object = None
    ) -> CreatedGroup:
        """A named group: the creator plus at least one other member, at most 40 in all."""
        group_name, wanted_handles = clean_group_request(name, handles)
        cleaned_text = None if text is None else clean_message(text)
        wanted = {h.strip().lstrip("@").lower() for h in wanted_handles if h.strip().lstrip("@")}
        wanted.discard(creator.handle.lower())
        if not wanted:
            raise InvalidInput("group_members_too_few")
        if len(wanted) + 1 > MAX_GROUP_MEMBERS:
            raise InvalidInput("group_members_too_many")
        found = self._directory().find_by_handles(sorted(wanted))
        if len(found) != len(wanted):
            missing = wanted - {u.handle.lower() for u in found}
            raise UserNotFound(", ".join(sorted(missing)))
        members = [creator, *[u for u in found if u.uuid != creator.uuid]]
        for _ in retries.attempts("creating a group", self.sleep):
            group = MessageGroup(
                uuid=keys.new_uuid(),
                kind=GroupKind.GROUP,
                name=group_name,
                created_by=creator.uuid,
                created_at=self._now(),
                members_count=len(members),
            )
            new = new_group_rows(group, creator, members, cleaned_text)
            if self.messages.create_group(new) is WriteOutcome.CREATED:
                return CreatedGroup(group=group, message=new.message)
            # a key already taken (a uuid collision): draw new ones
        raise AssertionError("unreachable")
