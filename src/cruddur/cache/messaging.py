"""The messages repository behind a cache: the same MessageRepository, with its hot reads answered
from the cache and every write through it invalidating what it changes.

Cached: a member's membership row (the send path's consistent GetItem: positive answers only, so a
non-member is always asked of the table), the newest page of a group's messages and the first page
of a user's conversation rows (default page size, no cursor). Kept true by
  * the writes made here: a stored message drops its group's newest page (the sender sees it at
    once); a new group, a moved, put or deleted conversation row drop the owners' lists; a deleted
    membership row drops that membership;
  * `rows_changed`, which the stream processor calls with every record, whoever wrote the row (the
    seed's scripts and other tools write to the table directly);
  * generations: a fill that raced any of these is refused, so nothing older is put back;
  * TTLs, for what an invalidation lost while the cache was unreachable.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from cruddur.cache import codec
from cruddur.cache.backend import CacheBackend, PageChange
from cruddur.messaging import keys
from cruddur.messaging.models import (
    DEFAULT_PAGE_SIZE,
    Conversation,
    DirectPair,
    Member,
    Message,
    MessageGroup,
    NewGroup,
    Page,
    WriteOutcome,
)
from cruddur.messaging.ports import MessageRepository

MEMBERSHIP_TTL_SECONDS = 300
PAGE_TTL_SECONDS = 60

Record = Mapping[str, Any]


def membership_scope(group_uuid: str) -> str:
    return f"members:{group_uuid}"


def member_key(group_uuid: str, user_uuid: str) -> str:
    return f"member:{group_uuid}:{user_uuid}"


def messages_scope(group_uuid: str) -> str:
    return f"messages:{group_uuid}"


def messages_key(group_uuid: str) -> str:
    return f"messages:{group_uuid}:newest"


def conversations_scope(owner_uuid: str) -> str:
    return f"conversations:{owner_uuid}"


def conversations_key(owner_uuid: str) -> str:
    return f"conversations:{owner_uuid}:first"


def page_bound(sks: list[str], limit: int) -> str:
    """The oldest sort key of a full page: a new row older than it is not on the page. A page with
    room left is changed by any new row ("" sorts before every key)."""
    return min(sks) if len(sks) >= limit else ""


def _not_before(page: Page[Message], not_before_sk: str) -> Page[Message]:
    """The group's newest page (cached for every member) as a member who joined at
    `not_before_sk` sees it: nothing older; no older page when something was left out."""
    if not not_before_sk:
        return page
    kept = [m for m in page.items if m.sk >= not_before_sk]
    if len(kept) == len(page.items):
        return page
    return Page(items=kept, next_cursor=None)


class CachedMessageRepository:
    def __init__(self, inner: MessageRepository, cache: CacheBackend) -> None:
        self.inner = inner
        self.cache = cache

    # --- cached reads ---------------------------------------------------------------------------

    def get_member(self, group_uuid: str, user_uuid: str) -> Member | None:
        scope, key = membership_scope(group_uuid), member_key(group_uuid, user_uuid)
        cached, generation = self.cache.lookup(key, scope)
        if cached is not None:
            return codec.load_member(cached)
        member = self.inner.get_member(group_uuid, user_uuid)
        if member is not None:
            self.cache.fill(
                key, codec.dump_member(member), scope, generation, MEMBERSHIP_TTL_SECONDS
            )
        return member

    def messages_page(
        self,
        group_uuid: str,
        limit: int,
        cursor: str | None,
        consistent: bool = False,
        not_before_sk: str = "",
    ) -> Page[Message]:
        if cursor is not None or limit != DEFAULT_PAGE_SIZE:
            return self.inner.messages_page(group_uuid, limit, cursor, consistent, not_before_sk)
        scope, key = messages_scope(group_uuid), messages_key(group_uuid)
        cached, generation = self.cache.lookup(key, scope)
        if cached is not None:
            return _not_before(codec.load_messages(cached), not_before_sk)
        # consistent: a page read just after a change must show it, or the cache would keep it
        page = self.inner.messages_page(group_uuid, limit, cursor, consistent=True)
        bound = page_bound([m.sk for m in page.items], limit)
        self.cache.fill(key, codec.dump_messages(page), scope, generation, PAGE_TTL_SECONDS, bound)
        return _not_before(page, not_before_sk)

    def conversations_page(
        self, owner_uuid: str, limit: int, cursor: str | None, consistent: bool = False
    ) -> Page[Conversation]:
        if cursor is not None or limit != DEFAULT_PAGE_SIZE:
            return self.inner.conversations_page(owner_uuid, limit, cursor, consistent)
        scope, key = conversations_scope(owner_uuid), conversations_key(owner_uuid)
        cached, generation = self.cache.lookup(key, scope)
        if cached is not None:
            return codec.load_conversations(cached)
        page = self.inner.conversations_page(owner_uuid, limit, cursor, consistent=True)
        bound = page_bound([c.sk for c in page.items], limit)
        self.cache.fill(
            key, codec.dump_conversations(page), scope, generation, PAGE_TTL_SECONDS, bound
        )
        return page

    # --- invalidation hooks ---------------------------------------------------------------------

    def forget_membership(self, group_uuid: str, user_uuid: str) -> None:
        """The membership hook: the next check reads the table, and a fill in flight is refused."""
        self.cache.invalidate(membership_scope(group_uuid), [member_key(group_uuid, user_uuid)])

    def forget_conversations(self, owner_uuid: str) -> None:
        self.cache.invalidate(conversations_scope(owner_uuid), [conversations_key(owner_uuid)])

    def forget_messages(self, group_uuid: str) -> None:
        self.cache.invalidate(messages_scope(group_uuid), [messages_key(group_uuid)])

    def rows_changed(self, records: Sequence[Record]) -> None:
        """Invalidate what stream records changed: message pages, conversation lists, membership.
        A record of a row a cached page already shows as it is (our own write, seen again) keeps
        the page."""
        for record in records:
            event = str(record.get("eventName"))
            change = PageChange(event) if event in PageChange.__members__ else None
            data = record.get("dynamodb") or {}
            row_keys = data.get("Keys") or {}
            pk = str((row_keys.get("pk") or {}).get("S", ""))
            sk = str((row_keys.get("sk") or {}).get("S", ""))
            if change is None or not pk:
                continue
            if pk.startswith(keys.MESSAGE_PREFIX):
                group = pk[len(keys.MESSAGE_PREFIX) :]
                self.cache.page_row_changed(messages_scope(group), messages_key(group), sk, change)
            elif pk.startswith(keys.CONVERSATION_PREFIX):
                owner = pk[len(keys.CONVERSATION_PREFIX) :]
                self.cache.page_row_changed(
                    conversations_scope(owner), conversations_key(owner), sk, change
                )
            elif pk.startswith(keys.GROUP_PREFIX) and sk.startswith(keys.MEMBER_SK_PREFIX):
                self.forget_membership(
                    pk[len(keys.GROUP_PREFIX) :], sk[len(keys.MEMBER_SK_PREFIX) :]
                )

    # --- writes that change cached values -------------------------------------------------------

    def add_message(self, message: Message) -> WriteOutcome:
        outcome = self.inner.add_message(message)
        if outcome is not WriteOutcome.CONDITION_FAILED:
            self.forget_messages(message.group_uuid)
        return outcome

    def create_group(self, new: NewGroup) -> WriteOutcome:
        outcome = self.inner.create_group(new)
        if outcome is WriteOutcome.CREATED:
            for row in new.conversations:
                self.forget_conversations(row.owner_uuid)
            if new.message is not None:
                self.forget_messages(new.group.uuid)
        return outcome

    def replace_conversation_row(self, current: Conversation, new: Conversation) -> WriteOutcome:
        outcome = self.inner.replace_conversation_row(current, new)
        if outcome is WriteOutcome.CREATED:
            self.forget_conversations(current.owner_uuid)
        return outcome

    def put_moved_conversation_row(self, new: Conversation) -> WriteOutcome:
        outcome = self.inner.put_moved_conversation_row(new)
        if outcome is WriteOutcome.CREATED:
            self.forget_conversations(new.owner_uuid)
        return outcome

    def delete_replaced_conversation_row(
        self, current: Conversation, new: Conversation
    ) -> WriteOutcome:
        outcome = self.inner.delete_replaced_conversation_row(current, new)
        if outcome is WriteOutcome.CREATED:
            self.forget_conversations(current.owner_uuid)
        return outcome

    def delete_conversation_row(self, row: Conversation) -> None:
        self.inner.delete_conversation_row(row)
        self.forget_conversations(row.owner_uuid)

    def delete_member(self, group_uuid: str, user_uuid: str) -> None:
        self.inner.delete_member(group_uuid, user_uuid)
        self.forget_membership(group_uuid, user_uuid)

    def add_members(
        self,
        expected: MessageGroup,
        updated: MessageGroup,
        members: list[Member],
        conversations: list[Conversation],
        refreshed: Sequence[Conversation] = (),
    ) -> WriteOutcome:
        outcome = self.inner.add_members(expected, updated, members, conversations, refreshed)
        if outcome is WriteOutcome.CREATED:
            for member in members:
                self.forget_membership(expected.uuid, member.user_uuid)
            for row in [*conversations, *refreshed]:
                self.forget_conversations(row.owner_uuid)
        return outcome

    def remove_member(
        self,
        expected: MessageGroup,
        updated: MessageGroup,
        user_uuid: str,
        conversations: list[Conversation],
        new_owner_uuid: str | None = None,
        refreshed: Sequence[Conversation] = (),
    ) -> WriteOutcome:
        outcome = self.inner.remove_member(
            expected, updated, user_uuid, conversations, new_owner_uuid, refreshed
        )
        if outcome is WriteOutcome.CREATED:
            for row in refreshed:
                self.forget_conversations(row.owner_uuid)
            # the removed member gets 404 at once: the next membership check reads the table
            self.forget_membership(expected.uuid, user_uuid)
            self.forget_conversations(user_uuid)
            self.forget_messages(expected.uuid)
            if new_owner_uuid is not None:
                self.forget_membership(expected.uuid, new_owner_uuid)  # its cached role changed
        return outcome

    def rename_group(
        self, expected: MessageGroup, updated: MessageGroup, refreshed: Sequence[Conversation] = ()
    ) -> WriteOutcome:
        outcome = self.inner.rename_group(expected, updated, refreshed)
        if outcome is WriteOutcome.CREATED:
            for row in refreshed:
                self.forget_conversations(row.owner_uuid)
        return outcome

    # --- passed through -------------------------------------------------------------------------

    def all_messages(self, group_uuid: str) -> Iterator[Message]:
        return self.inner.all_messages(group_uuid)

    def newest_message(self, group_uuid: str) -> Message | None:
        return self.inner.newest_message(group_uuid)

    def member_conversation_rows(
        self, owner_uuid: str, group_uuid: str, not_before_sk: str = ""
    ) -> list[Conversation]:
        return self.inner.member_conversation_rows(owner_uuid, group_uuid, not_before_sk)

    def seed_format_groups_with(self, owner_uuid: str, other_uuid: str) -> list[str]:
        return self.inner.seed_format_groups_with(owner_uuid, other_uuid)

    def get_group(self, group_uuid: str) -> MessageGroup | None:
        return self.inner.get_group(group_uuid)

    def list_members(self, group_uuid: str) -> list[Member]:
        return self.inner.list_members(group_uuid)

    def get_pair(self, user_a: str, user_b: str) -> DirectPair | None:
        return self.inner.get_pair(user_a, user_b)

    def add_pair(self, pair: DirectPair) -> WriteOutcome:
        return self.inner.add_pair(pair)

    def group_conversation_rows(self, group_uuid: str) -> list[Conversation]:
        return self.inner.group_conversation_rows(group_uuid)

    def describe(self) -> dict[str, Any]:
        return self.inner.describe()
