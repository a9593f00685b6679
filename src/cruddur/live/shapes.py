"""The JSON shapes events carry, the same as the HTTP contract's (README.md, "HTTP API").

`cruddur.api.serializers` re-exports these: one function per shape, importable by the stream
processor's publisher without Flask."""

from __future__ import annotations

from typing import Any

from cruddur.messaging.models import Conversation, GroupKind, Message


def message_json(message: Message) -> dict[str, Any]:
    return {
        "uuid": message.uuid,
        "display_name": message.display_name,
        "handle": message.handle,
        "message": message.text,
        "created_at": message.created_at,
    }


def conversation_json(row: Conversation) -> dict[str, Any]:
    """A direct conversation shows the other party; a named group shows its name beside the last
    sender's handle."""
    is_group = row.kind is GroupKind.GROUP
    body: dict[str, Any] = {
        "uuid": row.group_uuid,
        "display_name": (row.group_name or row.display_name) if is_group else row.display_name,
        "handle": row.handle,
        "message": row.message,
        "created_at": row.last_reply_at,
        "kind": row.kind.value,
    }
    if is_group:
        body["name"] = row.group_name
        body["members_count"] = row.members_count
    return body
