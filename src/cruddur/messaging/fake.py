"""An in-memory MessageRepository for service tests: the same typed rows, orderings, paging and
conditional outcomes as the table (the contract suite runs against both and proves they agree),
with no engine. One process only; not a cache, not for production."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import replace
from typing import Any, TypeVar

from cruddur.messaging import keys
from cruddur.messaging.models import (
    MAX_PAGE_SIZE,
    Conversation,
    DirectPair,
    GroupKind,
    Member,
    Message,
    MessageGroup,
    NewGroup,
    Page,
    UserRef,
    WriteOutcome,
)

T = TypeVar("T")


def _page_newest_first(rows: dict[str, T], limit: int, cursor: str | None) -> Page[T]:
    """Rows by sort key, newest first, after the cursor's sort key; a cursor whenever the page is
    full. As on DynamoDB: a query stopped by its Limit answers a LastEvaluatedKey without knowing
    whether more rows follow, so rows ending exactly at a page boundary lead to one empty page."""
    ordered = sorted(rows.items(), reverse=True)
    if cursor:
        after = keys.decode_cursor(cursor)
        ordered = [(sk, row) for sk, row in ordered if sk < after]
    size = max(1, min(limit, MAX_PAGE_SIZE))
    chosen = ordered[:size]
    full = len(chosen) == size
    return Page(
        items=[row for _, row in chosen],
        next_cursor=keys.encode_cursor(chosen[-1][0]) if full else None,
    )


class InMemoryMessageRepository:
    """Rows kept per partition, keyed by sort key, as the table keeps them."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self.messages: dict[str, dict[str, Message]] = {}
        self.conversations: dict[str, dict[str, Conversation]] = {}
        self.groups: dict[str, MessageGroup] = {}
        self.members: dict[str, dict[str, Member]] = {}
        self.pairs: dict[str, DirectPair] = {}

    # A: a group's messages

    def messages_page(
        self,
        group_uuid: str,
        limit: int,
        cursor: str | None,
        consistent: bool = False,
        not_before_sk: str = "",
    ) -> Page[Message]:
        if not_before_sk and cursor and keys.decode_cursor(cursor) <= not_before_sk:
            return Page()
        with self._lock:
            rows = {
                sk: m for sk, m in self.messages.get(group_uuid, {}).items() if sk >= not_before_sk
            }
            page = _page_newest_first(rows, limit, cursor)
        return Page(items=list(reversed(page.items)), next_cursor=page.next_cursor)

    def all_messages(self, group_uuid: str) -> Iterator[Message]:
        with self._lock:
            rows = sorted(self.messages.get(group_uuid, {}).items())
        return iter([m for _, m in rows])

    def newest_message(self, group_uuid: str) -> Message | None:
        page = self.messages_page(group_uuid, 1, None)
        return page.items[0] if page.items else None

    # C: add a message

    def add_message(self, message: Message) -> WriteOutcome:
        with self._lock:
            partition = self.messages.setdefault(message.group_uuid, {})
            stored = partition.get(message.sk)
            if stored is None:
                partition[message.sk] = message
                return WriteOutcome.CREATED
            return (
                WriteOutcome.ALREADY_STORED
                if stored == message
                else (WriteOutcome.CONDITION_FAILED)
            )

    # B: a user's conversations

    def conversations_page(
        self, owner_uuid: str, limit: int, cursor: str | None, consistent: bool = False
    ) -> Page[Conversation]:
        """Each group once, as the table answers: a group's newest row only, `limit` groups when
        there are as many, nothing of a group with a row at or above the cursor."""
        with self._lock:
            ordered = sorted(self.conversations.get(owner_uuid, {}).items(), reverse=True)
        size = max(1, min(limit, MAX_PAGE_SIZE))
        after = keys.decode_cursor(cursor) if cursor else None
        listed = {row.group_uuid for sk, row in ordered if after is not None and sk >= after}
        rows: list[Conversation] = []
        for sk, row in ordered:
            if (after is not None and sk >= after) or row.group_uuid in listed:
                continue
            listed.add(row.group_uuid)
            rows.append(row)
            if len(rows) == size:
                return Page(items=rows, next_cursor=keys.encode_cursor(sk))
        return Page(items=rows, next_cursor=None)

    def member_conversation_rows(
        self, owner_uuid: str, group_uuid: str, not_before_sk: str = ""
    ) -> list[Conversation]:
        bounded = bool(not_before_sk) and keys.is_timestamp(keys.timestamp_of_sk(not_before_sk))
        with self._lock:
            rows = sorted(self.conversations.get(owner_uuid, {}).items())
        return [
            row
            for sk, row in rows
            if row.group_uuid == group_uuid and (not bounded or sk >= not_before_sk)
        ]

    def seed_format_groups_with(self, owner_uuid: str, other_uuid: str) -> list[str]:
        # in sort key order, as the table's query answers
        with self._lock:
            rows = [row for _, row in sorted(self.conversations.get(owner_uuid, {}).items())]
        return [r.group_uuid for r in rows if r.user_uuid == other_uuid and not r.kind_recorded]

    # groups, membership, pairs

    def get_group(self, group_uuid: str) -> MessageGroup | None:
        with self._lock:
            return self.groups.get(group_uuid)

    def get_member(self, group_uuid: str, user_uuid: str) -> Member | None:
        with self._lock:
            return self.members.get(group_uuid, {}).get(user_uuid)

    def list_members(self, group_uuid: str) -> list[Member]:
        with self._lock:
            found = self.members.get(group_uuid, {})
            return [found[u] for u in sorted(found)]

    def delete_member(self, group_uuid: str, user_uuid: str) -> None:
        with self._lock:
            self.members.get(group_uuid, {}).pop(user_uuid, None)

    def get_pair(self, user_a: str, user_b: str) -> DirectPair | None:
        with self._lock:
            pair = self.pairs.get(keys.pair_pk(user_a, user_b))
        return replace(pair, user_a=user_a, user_b=user_b) if pair else None

    def add_pair(self, pair: DirectPair) -> WriteOutcome:
        key = keys.pair_pk(pair.user_a, pair.user_b)
        with self._lock:
            if key in self.pairs:
                return WriteOutcome.CONDITION_FAILED
            self.pairs[key] = pair
            return WriteOutcome.CREATED

    # D: create a group

    def _taken(self, new: NewGroup) -> bool:
        group_uuid = new.group.uuid
        if new.pair and keys.pair_pk(new.pair.user_a, new.pair.user_b) in self.pairs:
            return True
        if group_uuid in self.groups or group_uuid in self.members:
            return True
        if new.message and new.message.sk in self.messages.get(group_uuid, {}):
            return True
        return any(c.sk in self.conversations.get(c.owner_uuid, {}) for c in new.conversations)

    def create_group(self, new: NewGroup) -> WriteOutcome:
        with self._lock:
            if self._taken(new):
                return WriteOutcome.CONDITION_FAILED
            group_uuid = new.group.uuid
            if new.pair:
                self.pairs[keys.pair_pk(new.pair.user_a, new.pair.user_b)] = new.pair
            self.groups[group_uuid] = new.group
            self.members[group_uuid] = {m.user_uuid: m for m in new.members}
            if new.message:
                self.messages.setdefault(group_uuid, {})[new.message.sk] = new.message
            for row in new.conversations:
                self.conversations.setdefault(row.owner_uuid, {})[row.sk] = row
            return WriteOutcome.CREATED

    # F: change a named group

    def _meta_is(self, expected: MessageGroup) -> bool:
        stored = self.groups.get(expected.uuid)
        return (
            stored is not None
            and stored.kind is GroupKind.GROUP
            and stored.members_count == expected.members_count
            and stored.meta_version == expected.meta_version
        )

    def _set_meta(self, expected: MessageGroup, updated: MessageGroup) -> None:
        stored = self.groups[expected.uuid]
        self.groups[expected.uuid] = replace(
            stored,
            name=updated.name,
            members_count=updated.members_count,
            meta_version=updated.meta_version,
        )

    def _unchanged(self, rows: Sequence[Conversation]) -> bool:
        """Each row still stored under its key with the `meta_version` it was read with."""
        for row in rows:
            stored = self.conversations.get(row.owner_uuid, {}).get(row.sk)
            if stored is None or stored.meta_version != row.meta_version:
                return False
        return True

    def _refresh(self, rows: Sequence[Conversation], updated: MessageGroup) -> None:
        for row in rows:
            stored = self.conversations[row.owner_uuid][row.sk]
            self.conversations[row.owner_uuid][row.sk] = replace(
                stored,
                group_name=updated.name,
                members_count=updated.members_count,
                meta_version=updated.meta_version,
            )

    def add_members(
        self,
        expected: MessageGroup,
        updated: MessageGroup,
        members: list[Member],
        conversations: list[Conversation],
        refreshed: Sequence[Conversation] = (),
    ) -> WriteOutcome:
        with self._lock:
            current = self.members.get(expected.uuid, {})
            if (
                not self._meta_is(expected)
                or any(m.user_uuid in current for m in members)
                or any(c.sk in self.conversations.get(c.owner_uuid, {}) for c in conversations)
                or not self._unchanged(refreshed)
            ):
                return WriteOutcome.CONDITION_FAILED
            self._set_meta(expected, updated)
            for member in members:
                self.members.setdefault(expected.uuid, {})[member.user_uuid] = member
            for row in conversations:
                self.conversations.setdefault(row.owner_uuid, {})[row.sk] = row
            self._refresh(refreshed, updated)
            return WriteOutcome.CREATED

    def remove_member(
        self,
        expected: MessageGroup,
        updated: MessageGroup,
        user_uuid: str,
        conversations: list[Conversation],
        new_owner_uuid: str | None = None,
        refreshed: Sequence[Conversation] = (),
    ) -> WriteOutcome:
        with self._lock:
            current = self.members.get(expected.uuid, {})
            if (
                user_uuid not in current
                or any(c.sk not in self.conversations.get(c.owner_uuid, {}) for c in conversations)
                or not self._meta_is(expected)
                or (new_owner_uuid is not None and new_owner_uuid not in current)
                or not self._unchanged(refreshed)
            ):
                return WriteOutcome.CONDITION_FAILED
            del current[user_uuid]
            for row in conversations:
                del self.conversations[row.owner_uuid][row.sk]
            if updated.members_count == 0:
                del self.groups[expected.uuid]  # the last one left: the group is gone
            else:
                self._set_meta(expected, updated)
            if new_owner_uuid is not None:
                current[new_owner_uuid] = replace(current[new_owner_uuid], role="owner")
            self._refresh(refreshed, updated)
            return WriteOutcome.CREATED

    def rename_group(
        self, expected: MessageGroup, updated: MessageGroup, refreshed: Sequence[Conversation] = ()
    ) -> WriteOutcome:
        with self._lock:
            if not self._meta_is(expected) or not self._unchanged(refreshed):
                return WriteOutcome.CONDITION_FAILED
            self._set_meta(expected, updated)
            self._refresh(refreshed, updated)
            return WriteOutcome.CREATED

    # E: conversation rows of a group

    def group_conversation_rows(self, group_uuid: str) -> list[Conversation]:
        with self._lock:
            return sorted(
                (
                    row
                    for rows in self.conversations.values()
                    for row in rows.values()
                    if row.group_uuid == group_uuid
                ),
                key=lambda r: r.sk,
            )

    def replace_conversation_row(self, current: Conversation, new: Conversation) -> WriteOutcome:
        with self._lock:
            rows = self.conversations.setdefault(current.owner_uuid, {})
            stored = rows.get(current.sk)
            if stored is None or (
                stored.last_message_sk and stored.last_message_sk >= new.shown_message_sk
            ):
                return WriteOutcome.CONDITION_FAILED
            if stored.meta_version != current.meta_version:
                return WriteOutcome.CONDITION_FAILED
            if new.sk != current.sk and new.sk in rows:
                return WriteOutcome.CONDITION_FAILED
            del rows[current.sk]
            rows[new.sk] = new
            return WriteOutcome.CREATED

    def put_moved_conversation_row(self, new: Conversation) -> WriteOutcome:
        with self._lock:
            rows = self.conversations.setdefault(new.owner_uuid, {})
            if new.sk in rows:
                return WriteOutcome.CONDITION_FAILED
            rows[new.sk] = new
            return WriteOutcome.CREATED

    def delete_replaced_conversation_row(
        self, current: Conversation, new: Conversation
    ) -> WriteOutcome:
        with self._lock:
            rows = self.conversations.get(current.owner_uuid, {})
            stored = rows.get(current.sk)
            if stored is None or (
                stored.last_message_sk and stored.last_message_sk >= new.shown_message_sk
            ):
                return WriteOutcome.CONDITION_FAILED
            del rows[current.sk]
            return WriteOutcome.CREATED

    def delete_conversation_row(self, row: Conversation) -> None:
        with self._lock:
            self.conversations.get(row.owner_uuid, {}).pop(row.sk, None)

    # tool-kit

    def describe(self) -> dict[str, Any]:
        return {"TableName": "in-memory", "TableStatus": "ACTIVE"}

    # test set-up: rows as other tools write them

    def put_conversation_row(self, row: Conversation) -> None:
        """Write a conversation row as it is (the seed's scripts write rows directly)."""
        with self._lock:
            self.conversations.setdefault(row.owner_uuid, {})[row.sk] = row

    def put_message_row(self, message: Message) -> None:
        with self._lock:
            self.messages.setdefault(message.group_uuid, {})[message.sk] = message


class StaticUserDirectory:
    """A UserDirectory of the given users, found by handle (any case): for service tests and the
    bench, where the users store is not what is being measured."""

    def __init__(self, users: Iterable[UserRef]) -> None:
        self._by_handle = {u.handle.lower(): u for u in users}

    def find_by_handle(self, handle: str) -> UserRef | None:
        return self._by_handle.get(handle.lower())

    def find_by_handles(self, handles: list[str]) -> list[UserRef]:
        return [self._by_handle[h.lower()] for h in handles if h.lower() in self._by_handle]
