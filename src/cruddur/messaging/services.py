"""Use cases of messaging, and their rules: who may read, send and list members; one direct group
per pair; how a group is created. The acting user comes from the entrypoint, which took it from a
verified token.

A rule that concurrency could break is never enforced by reading and then writing: the service
writes conditionally through the repository and acts on the typed outcome (created, already
stored, condition failed).
"""

from __future__ import annotations

import time
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, replace

from cruddur.messaging import keys, retries
from cruddur.messaging.errors import (
    GroupNotFound,
    InvalidInput,
    MemberNotFound,
    NotGroupOwner,
    UserNotFound,
)
from cruddur.messaging.models import (
    DEFAULT_PAGE_SIZE,
    MAX_GROUP_MEMBERS,
    MAX_MESSAGE_CHARS,
    AddedMembers,
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


# Control characters (Unicode Cc) a message may hold: line breaks and tabs; a browser's form sends
# a line break as CR LF, which is stored as LF. Every other one (NUL, ESC sequences that repaint a
# terminal, ...) is refused, and so are lone surrogates (Cs), which no UTF-8 store can hold.
MESSAGE_CONTROL_CHARACTERS = frozenset("\n\t")


def _invalid_characters(text: str, allowed: frozenset[str]) -> bool:
    return any(unicodedata.category(c) in ("Cc", "Cs") and c not in allowed for c in text)


def _blank(text: str) -> bool:
    """Nothing a reader would see: whitespace and format characters (Cf: zero-width spaces,
    direction marks) only."""
    return all(c.isspace() or unicodedata.category(c) == "Cf" for c in text)


def clean_message(text: object) -> str:
    """The message as stored: line breaks as LF, trimmed, 1 to 1024 code points, no control
    character but LF and tab, something visible; else InvalidInput."""
    if not isinstance(text, str):
        raise InvalidInput("message_blank")
    unified = text.replace("\r\n", "\n")
    if _invalid_characters(unified, MESSAGE_CONTROL_CHARACTERS):  # before strip() hides some
        raise InvalidInput("message_invalid_characters")
    cleaned = unified.strip()
    if _blank(cleaned):
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


def _group_name_problem(name: object) -> str | None:
    """The rules of messages, on one line: a name holds no control character at all (not even a
    line break or a tab), something visible, at most 100 code points after trimming."""
    if not isinstance(name, str):
        return "group_name_blank"
    if _invalid_characters(name, frozenset()):
        return "group_name_invalid_characters"
    trimmed = name.strip()
    if _blank(trimmed):
        return "group_name_blank"
    if len(trimmed) > MAX_GROUP_NAME_CHARS:
        return "group_name_exceed_max_chars"
    return None


def clean_group_name(name: object) -> str:
    """A group's name as stored: trimmed, else InvalidInput (`_group_name_problem`)."""
    problem = _group_name_problem(name)
    if problem is not None:
        raise InvalidInput(problem)
    assert isinstance(name, str)
    return name.strip()


def clean_handles(handles: object) -> set[str]:
    """The handles asked for, each once (any case, with or without `@`), blanks dropped."""
    if not isinstance(handles, list) or not all(isinstance(h, str) for h in handles):
        raise InvalidInput("handles_invalid")
    return {h.strip().lstrip("@").lower() for h in handles if h.strip().lstrip("@")}


def clean_group_request(name: object, handles: object) -> tuple[str, list[str]]:
    """The group's trimmed name and its handles, or InvalidInput with every problem found."""
    errors = []
    name_problem = _group_name_problem(name)
    if name_problem is not None:
        errors.append(name_problem)
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
                members_count=group.members_count if group.kind is GroupKind.GROUP else 0,
                meta_version=group.meta_version,
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
    # told of every conversation row a group change writes here, as the owner's list now shows
    # it, and of every row a removal deletes (live delivery publishes them: the stream processor
    # publishes only the rows it moves)
    row_written: Callable[[Conversation], None] | None = None
    row_deleted: Callable[[Conversation], None] | None = None

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
        return self._membership_without_row(group_uuid, user_uuid)

    def _membership_without_row(self, group_uuid: str, user_uuid: str) -> Membership | None:
        """No membership row: a member only of a seed-format group. Both reads are made whatever
        the first one finds, so a non-member's 404 for a real group and for a uuid that names
        none make the same DynamoDB calls (and take the same time): neither tells that the group
        exists."""
        group = self.messages.get_group(group_uuid)
        rows = self.messages.member_conversation_rows(user_uuid, group_uuid)
        if group is not None:
            return None
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
        # a member added later sees the messages from the moment they joined on (pages and
        # cursors alike): the membership read that admits them gives the bound
        member = self.messages.get_member(group, reader.uuid)
        if member is None and self._membership_without_row(group, reader.uuid) is None:
            raise GroupNotFound(group)  # else a seed-format group
        since = member.joined_at if member and keys.is_timestamp(member.joined_at) else ""
        return self.messages.messages_page(group, limit, cursor, not_before_sk=since)

    def member_since(self, group_uuid: str, user_uuid: str) -> str:
        """The sort-key bound of what a member may see: their `joined_at` ("" for a group in the
        seed's format, which has no membership rows, or no bound at all)."""
        member = self.messages.get_member(group_uuid, user_uuid)
        if member is None or not keys.is_timestamp(member.joined_at):
            return ""
        return member.joined_at

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
            # the same code as adding beyond 40: one failure, one code
            raise InvalidInput("group_too_large")
        found = self._directory().find_by_handles(sorted(wanted))
        if len(found) != len(wanted):
            missing = sorted(wanted - {u.handle.lower() for u in found})
            raise UserNotFound(", ".join(missing), handles=missing)
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
                # without a first message no stream record ever shows these rows: tell the
                # listener here (with one, the processor tells it again, harmlessly)
                self._written(new.conversations)
                return CreatedGroup(group=group, message=new.message)
            # a key already taken (a uuid collision): draw new ones
        raise AssertionError("unreachable")

    # --- changing a named group -----------------------------------------------------------------

    def _named_group(self, actor: UserRef, group_uuid: object, code: str) -> MessageGroup:
        """The named group `actor` belongs to; GroupNotFound unless a member, InvalidInput(code)
        for a direct (or seed-format) conversation."""
        group = clean_group_uuid(group_uuid)
        self._require_member(group, actor.uuid)
        meta = self.messages.get_group(group)
        if meta is None or meta.kind is not GroupKind.GROUP:
            raise InvalidInput(code)
        return meta

    def _rows_of(self, group: MessageGroup, members: list[Member]) -> list[Conversation]:
        """The members' conversation rows of `group`, read consistently (one query per member),
        for a change to update in its own transaction. A row moved by the stream processor after
        this read cancels that transaction: the caller reads again."""
        since = keys.conversation_sk(group.created_at, "")
        return [
            row
            for member in members
            for row in self.messages.member_conversation_rows(member.user_uuid, group.uuid, since)
        ]

    def _written(self, rows: list[Conversation], group: MessageGroup | None = None) -> None:
        """Tell the listener of rows just written (showing `group`'s name and size when given)."""
        if self.row_written is None:
            return
        for row in rows:
            if group is not None:
                row = replace(
                    row,
                    group_name=group.name,
                    members_count=group.members_count,
                    meta_version=group.meta_version,
                )
            self.row_written(row)

    def add_members(self, actor: UserRef, group_uuid: object, handles: object) -> AddedMembers:
        """Any member adds people to a named group, all or nothing, in one transaction guarded by
        the group's metadata. Unknown handles: UserNotFound listing them; people already there
        are skipped; beyond 40 members: `group_too_large`; a direct conversation never grows
        (`direct_conversation_cannot_grow`). Each new member's list shows the group at once (an
        empty row at their joining), and they see messages from that moment on."""
        wanted = clean_handles(handles)
        if not wanted:
            raise InvalidInput("handles_blank")
        group = self._named_group(actor, group_uuid, "direct_conversation_cannot_grow")
        found = self._directory().find_by_handles(sorted(wanted))
        if len(found) != len(wanted):
            missing = sorted(wanted - {u.handle.lower() for u in found})
            raise UserNotFound(", ".join(missing), handles=missing)
        for _ in retries.attempts("adding members", self.sleep):
            present_members = self.messages.list_members(group.uuid)
            present = {m.user_uuid for m in present_members}
            newcomers = [u for u in found if u.uuid not in present]
            if not newcomers:
                return AddedMembers(group=group, members=[])
            if group.members_count + len(newcomers) > MAX_GROUP_MEMBERS:
                raise InvalidInput("group_too_large")
            joined_at = self._now()
            updated = replace(
                group,
                members_count=group.members_count + len(newcomers),
                meta_version=group.meta_version + 1,
            )
            members = [
                Member(u.uuid, u.handle, u.display_name, joined_at=joined_at) for u in newcomers
            ]
            # the others' rows show the new size in the same transaction (at most 80 actions)
            others = self._rows_of(group, present_members)
            rows = [
                Conversation(
                    owner_uuid=u.uuid,
                    group_uuid=group.uuid,
                    user_uuid=actor.uuid,
                    handle=actor.handle,
                    display_name=actor.display_name,
                    message="",
                    last_reply_at=joined_at,
                    sk=keys.conversation_sk(joined_at, group.uuid),
                    kind=GroupKind.GROUP,
                    group_name=updated.name,
                    # the row shows no message from before the joining: a move only brings it
                    # to a message whose key sorts after this one
                    last_message_sk=joined_at,
                    members_count=updated.members_count,
                    meta_version=updated.meta_version,
                )
                for u in newcomers
            ]
            outcome = self.messages.add_members(group, updated, members, rows, others)
            if outcome is WriteOutcome.CREATED:
                self._written([*rows, *others], updated)
                return AddedMembers(group=updated, members=members)
            # the group changed meanwhile (someone was added by another request, a row moved):
            # read again
            fresh = self.messages.get_group(group.uuid)
            if fresh is None or fresh.kind is not GroupKind.GROUP:
                raise GroupNotFound(group.uuid)
            group = fresh
        raise AssertionError("unreachable")

    def remove_member(self, actor: UserRef, group_uuid: object, handle: object) -> MessageGroup:
        """`actor` leaves (their own handle) or, as the owner, removes a member: one transaction
        deletes the membership row and the member's conversation rows, counts one member less and
        shows the new size on the others' rows. The owner leaving hands the role to the
        longest-standing member. The last member leaving deletes the group (`META`): nobody can
        reach it again, and its messages stay in the table unread. Answers the group as it now
        is (`members_count` 0: gone)."""
        wanted = clean_handle(handle).lower()
        group = self._named_group(actor, group_uuid, "direct_conversation_cannot_shrink")
        if wanted == actor.handle.lower():
            target = actor.uuid
        else:
            acting = self.messages.get_member(group.uuid, actor.uuid)
            if acting is None or acting.role != "owner":
                raise NotGroupOwner(group.uuid)
            user = self._directory().find_by_handle(wanted)
            if user is None:
                raise UserNotFound(wanted, handles=[wanted])
            target = user.uuid
        since = keys.conversation_sk(group.created_at, "")
        for _ in retries.attempts("removing a member", self.sleep):
            members = self.messages.list_members(group.uuid)
            leaving = next((m for m in members if m.user_uuid == target), None)
            if leaving is None:
                raise MemberNotFound(group.uuid)
            staying = sorted(
                (m for m in members if m.user_uuid != target),
                key=lambda m: (m.joined_at, m.user_uuid),
            )
            new_owner = None
            if leaving.role == "owner" and staying and all(m.role != "owner" for m in staying):
                new_owner = staying[0].user_uuid
            rows = self.messages.member_conversation_rows(target, group.uuid, since)
            others = self._rows_of(group, staying)
            updated = replace(
                group,
                members_count=group.members_count - 1 if staying else 0,
                meta_version=group.meta_version + 1,
            )
            outcome = self.messages.remove_member(
                group, updated, target, rows, new_owner, refreshed=others
            )
            if outcome is WriteOutcome.CREATED:
                self._written(others, updated)
                if self.row_deleted is not None:
                    for row in rows:
                        self.row_deleted(row)
                return updated
            # a row moved by the stream processor, or the group changed: read again
            fresh = self.messages.get_group(group.uuid)
            if fresh is None:
                raise GroupNotFound(group.uuid)
            group = fresh
        raise AssertionError("unreachable")

    def rename_group(self, actor: UserRef, group_uuid: object, name: object) -> MessageGroup:
        """Any member renames a named group: `META` and every member's row in one transaction (at
        most 41 actions), so every list shows the new name at once or none does; the stream
        processor takes the name from `META` when it moves a row."""
        new_name = clean_group_name(name)
        group = self._named_group(actor, group_uuid, "direct_conversation_cannot_be_renamed")
        for _ in retries.attempts("renaming a group", self.sleep):
            updated = replace(group, name=new_name, meta_version=group.meta_version + 1)
            rows = self._rows_of(group, self.messages.list_members(group.uuid))
            if self.messages.rename_group(group, updated, rows) is WriteOutcome.CREATED:
                self._written(rows, updated)
                return updated
            fresh = self.messages.get_group(group.uuid)
            if fresh is None:
                raise GroupNotFound(group.uuid)
            group = fresh
        raise AssertionError("unreachable")
