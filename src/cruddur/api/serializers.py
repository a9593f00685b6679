"""The JSON shapes of the contract (README.md, "HTTP API"). `created_at` is the bare timestamp."""

from __future__ import annotations

from typing import Any

from cruddur.live.shapes import conversation_json, message_json
from cruddur.messaging.models import Member, MessageGroup

# message_json and conversation_json live in cruddur.live.shapes: the stream processor publishes
# conversation rows in the same shape, without Flask
__all__ = ["conversation_json", "group_json", "member_json", "message_json"]


def group_json(group: MessageGroup) -> dict[str, Any]:
    return {
        "message_group_uuid": group.uuid,
        "kind": group.kind.value,
        "name": group.name,
        "members_count": group.members_count,
        "created_at": group.created_at,
    }


def member_json(member: Member) -> dict[str, Any]:
    return {
        "uuid": member.user_uuid,
        "handle": member.handle,
        "display_name": member.display_name,
        "joined_at": member.joined_at,
        "role": member.role,
    }
