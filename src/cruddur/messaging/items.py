"""DynamoDB items <-> the typed rows of `models`: one pair of functions per row type.

Reading is lenient (rows written by the seed's tools or other programs lack our attributes, and
their timestamps may carry any ISO 8601 offset); writing produces exactly the attributes listed in
docs/architecture.md, and nothing a row did not record (a seed-format conversation row keeps its
shape when it moves).
"""

from __future__ import annotations

from typing import Any

from cruddur.messaging import keys
from cruddur.messaging.models import (
    Conversation,
    DirectPair,
    GroupKind,
    Member,
    Message,
    MessageGroup,
)

Item = dict[str, Any]


def s(value: str) -> dict[str, str]:
    return {"S": value}


def text(item: Item, name: str, default: str = "") -> str:
    value = item.get(name)
    if not value:
        return default
    if "S" in value:
        return str(value["S"])
    if "N" in value:
        return str(value["N"])
    return default


def _int(item: Item, name: str, default: int = 0) -> int:
    raw = text(item, name)
    try:
        return int(raw) if raw else default
    except ValueError:
        return default


def _kind(item: Item) -> GroupKind:
    raw = text(item, "kind", GroupKind.DIRECT.value)
    return GroupKind(raw) if raw in GroupKind._value2member_map_ else GroupKind.DIRECT


def key(item: Item) -> Item:
    return {"pk": item["pk"], "sk": item["sk"]}


# --- messages ---------------------------------------------------------------------------------


def message_from_item(item: Item) -> Message:
    sk = text(item, "sk")
    return Message(
        uuid=text(item, "message_uuid"),
        group_uuid=keys.group_uuid_from_message_pk(text(item, "pk")),
        user_uuid=text(item, "user_uuid"),
        handle=text(item, "user_handle"),
        display_name=text(item, "user_display_name"),
        text=text(item, "message"),
        created_at=keys.shown_timestamp(sk),
        sk=sk,
    )


def message_item(message: Message) -> Item:
    return {
        "pk": s(keys.message_pk(message.group_uuid)),
        "sk": s(message.sk),
        "message_uuid": s(message.uuid),
        "message": s(message.text),
        "user_uuid": s(message.user_uuid),
        "user_display_name": s(message.display_name),
        "user_handle": s(message.handle),
    }


# --- conversation rows ------------------------------------------------------------------------


def conversation_from_item(item: Item) -> Conversation:
    sk = text(item, "sk")
    return Conversation(
        owner_uuid=keys.user_uuid_from_conversation_pk(text(item, "pk")),
        group_uuid=text(item, "message_group_uuid"),
        user_uuid=text(item, "user_uuid"),
        handle=text(item, "user_handle"),
        display_name=text(item, "user_display_name"),
        message=text(item, "message"),
        last_reply_at=keys.shown_timestamp(sk),
        sk=sk,
        kind=_kind(item),
        group_name=text(item, "group_name") or None,
        last_message_sk=text(item, "last_message_sk"),
        kind_recorded="kind" in item,
        members_count=_int(item, "members_count"),
        meta_version=_int(item, "meta_version"),
    )


def conversation_item(row: Conversation) -> Item:
    item: Item = {
        "pk": s(keys.conversation_pk(row.owner_uuid)),
        "sk": s(row.sk),
        "message_group_uuid": s(row.group_uuid),
        "message": s(row.message),
        "user_uuid": s(row.user_uuid),
        "user_display_name": s(row.display_name),
        "user_handle": s(row.handle),
    }
    if row.kind_recorded:
        item["kind"] = s(row.kind.value)
    if row.last_message_sk:
        item["last_message_sk"] = s(row.last_message_sk)
    if row.group_name:
        item["group_name"] = s(row.group_name)
    if row.members_count:
        item["members_count"] = {"N": str(row.members_count)}
    if row.meta_version:
        item["meta_version"] = {"N": str(row.meta_version)}
    return item


# --- groups, membership, pairs ----------------------------------------------------------------


def group_from_item(item: Item) -> MessageGroup:
    return MessageGroup(
        uuid=keys.group_uuid_from_group_pk(text(item, "pk")),
        kind=_kind(item),
        name=text(item, "name") or None,
        created_by=text(item, "created_by"),
        created_at=text(item, "created_at"),
        members_count=_int(item, "members_count"),
        meta_version=_int(item, "meta_version"),
    )


def group_item(group: MessageGroup) -> Item:
    item: Item = {
        "pk": s(keys.group_pk(group.uuid)),
        "sk": s(keys.META_SK),
        "kind": s(group.kind.value),
        "created_by": s(group.created_by),
        "created_at": s(group.created_at),
        "members_count": {"N": str(group.members_count)},
    }
    if group.name:
        item["name"] = s(group.name)
    if group.meta_version:
        item["meta_version"] = {"N": str(group.meta_version)}
    return item


def member_from_item(item: Item) -> Member:
    return Member(
        user_uuid=keys.user_uuid_from_member_sk(text(item, "sk")),
        handle=text(item, "user_handle"),
        display_name=text(item, "user_display_name"),
        joined_at=text(item, "joined_at"),
        role=text(item, "role", "member"),
    )


def member_item(group_uuid: str, member: Member) -> Item:
    return {
        "pk": s(keys.group_pk(group_uuid)),
        "sk": s(keys.member_sk(member.user_uuid)),
        "joined_at": s(member.joined_at),
        "role": s(member.role),
        "user_handle": s(member.handle),
        "user_display_name": s(member.display_name),
    }


def pair_key(user_a: str, user_b: str) -> Item:
    return {"pk": s(keys.pair_pk(user_a, user_b)), "sk": s(keys.PAIR_SK)}


def pair_from_item(item: Item, user_a: str, user_b: str) -> DirectPair:
    return DirectPair(
        user_a=user_a,
        user_b=user_b,
        group_uuid=text(item, "group_uuid"),
        created_at=text(item, "created_at"),
        seed_format=bool(item.get("seed_format", {}).get("BOOL")),
    )


def pair_item(pair: DirectPair) -> Item:
    item: Item = {
        **pair_key(pair.user_a, pair.user_b),
        "group_uuid": s(pair.group_uuid),
        "created_at": s(pair.created_at),
    }
    if pair.seed_format:
        item["seed_format"] = {"BOOL": True}
    return item


def plain(item: Item) -> dict[str, Any]:
    """An item with its attribute values unwrapped ({"S": "x"} -> "x"), for printing."""
    return {name: next(iter(value.values())) for name, value in item.items()}
