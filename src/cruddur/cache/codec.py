"""The cached values of messaging as JSON text: pages of messages and conversation rows, members.
A row's sort key is written as a JSON string, so a back end can find it in the text
(`cache.backend.page_affected`)."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

from cruddur.messaging.models import Conversation, GroupKind, Member, Message, Page


def dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def dump_messages(page: Page[Message]) -> str:
    return dumps({"items": [asdict(m) for m in page.items], "next_cursor": page.next_cursor})


def load_messages(text: str) -> Page[Message]:
    data = json.loads(text)
    return Page(items=[Message(**m) for m in data["items"]], next_cursor=data["next_cursor"])


def dump_conversations(page: Page[Conversation]) -> str:
    rows = [{**asdict(c), "kind": c.kind.value} for c in page.items]
    return dumps({"items": rows, "next_cursor": page.next_cursor})


def load_conversations(text: str) -> Page[Conversation]:
    data = json.loads(text)
    rows = [Conversation(**{**c, "kind": GroupKind(c["kind"])}) for c in data["items"]]
    return Page(items=rows, next_cursor=data["next_cursor"])


def dump_member(member: Member) -> str:
    return dumps(asdict(member))


def load_member(text: str) -> Member:
    return Member(**json.loads(text))
