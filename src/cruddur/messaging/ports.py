"""What the messaging services and the stream processor ask of their stores. Two implementations
of `MessageRepository` exist: `repository.DynamoMessageRepository` (the table) and
`fake.InMemoryMessageRepository` (service tests); one contract suite runs against both."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, Protocol

from cruddur.messaging.models import (
    Conversation,
    DirectPair,
    Member,
    Message,
    MessageGroup,
    NewGroup,
    Page,
    UserRef,
    WriteOutcome,
)


class MessageRepository(Protocol):
    # A: a group's messages
    def messages_page(
        self,
        group_uuid: str,
        limit: int,
        cursor: str | None,
        consistent: bool = False,
        not_before_sk: str = "",
    ) -> Page[Message]: ...

    def all_messages(self, group_uuid: str) -> Iterator[Message]: ...

    def newest_message(self, group_uuid: str) -> Message | None: ...

    # C: add a message
    def add_message(self, message: Message) -> WriteOutcome: ...

    # B: a user's conversations
    def conversations_page(
        self, owner_uuid: str, limit: int, cursor: str | None, consistent: bool = False
    ) -> Page[Conversation]: ...

    def member_conversation_rows(
        self, owner_uuid: str, group_uuid: str, not_before_sk: str = ""
    ) -> list[Conversation]: ...

    def seed_format_groups_with(self, owner_uuid: str, other_uuid: str) -> list[str]: ...

    # groups, membership, pairs
    def get_group(self, group_uuid: str) -> MessageGroup | None: ...

    def get_member(self, group_uuid: str, user_uuid: str) -> Member | None: ...

    def list_members(self, group_uuid: str) -> list[Member]: ...

    def delete_member(self, group_uuid: str, user_uuid: str) -> None: ...

    def get_pair(self, user_a: str, user_b: str) -> DirectPair | None: ...

    def add_pair(self, pair: DirectPair) -> WriteOutcome: ...

    # D: create a group
    def create_group(self, new: NewGroup) -> WriteOutcome: ...

    # F: change a named group (each guarded by the metadata as read: `expected`)
    def add_members(
        self,
        expected: MessageGroup,
        updated: MessageGroup,
        members: list[Member],
        conversations: list[Conversation],
        refreshed: Sequence[Conversation] = (),
    ) -> WriteOutcome: ...

    def remove_member(
        self,
        expected: MessageGroup,
        updated: MessageGroup,
        user_uuid: str,
        conversations: list[Conversation],
        new_owner_uuid: str | None = None,
        refreshed: Sequence[Conversation] = (),
    ) -> WriteOutcome: ...

    def rename_group(
        self, expected: MessageGroup, updated: MessageGroup, refreshed: Sequence[Conversation] = ()
    ) -> WriteOutcome: ...

    # E: conversation rows of a group
    def group_conversation_rows(self, group_uuid: str) -> list[Conversation]: ...

    def replace_conversation_row(
        self, current: Conversation, new: Conversation
    ) -> WriteOutcome: ...

    def put_moved_conversation_row(self, new: Conversation) -> WriteOutcome: ...

    def delete_replaced_conversation_row(
        self, current: Conversation, new: Conversation
    ) -> WriteOutcome: ...

    def delete_conversation_row(self, row: Conversation) -> None: ...

    # tool-kit
    def describe(self) -> dict[str, Any]: ...


class UserDirectory(Protocol):
    """What messaging asks of the users store."""

    def find_by_handle(self, handle: str) -> UserRef | None: ...

    def find_by_handles(self, handles: list[str]) -> list[UserRef]: ...
