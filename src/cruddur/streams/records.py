"""DynamoDB Stream records as the processor sees them.

The same shape arrives from both runners: an AWS Lambda event's `Records` and DynamoDB Streams'
`GetRecords` answer (attribute values typed, `{"S": ...}`). The table's stream view is NEW_IMAGE.
Only a message row's INSERT matters; every other record is skipped, on purpose, not failed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cruddur.messaging import keys
from cruddur.messaging.models import Message

Record = Mapping[str, Any]


class UndecodableRecord(ValueError):
    """A message INSERT the processor cannot read (no NewImage, a key that is not ours). Reported
    as a failed record, so the runner retries it and finally dead-letters it."""


@dataclass(frozen=True)
class MessageRecord:
    """A decoded message INSERT: the stream position it came from and the message it carries."""

    sequence_number: str
    message: Message


def sequence_number(record: Record) -> str:
    return str((record.get("dynamodb") or {}).get("SequenceNumber", ""))


def _text(image: Mapping[str, Any], name: str) -> str:
    value = image.get(name)
    if not isinstance(value, Mapping):
        return ""
    if "S" in value:
        return str(value["S"])
    if "N" in value:
        return str(value["N"])
    return ""


def is_message_insert(record: Record) -> bool:
    """INSERT of a `MSG#` row. MODIFY/REMOVE (TTL deletions included) and every other row type
    (conversation rows, metadata, pairs) are not the processor's business."""
    if record.get("eventName") != "INSERT":
        return False
    data = record.get("dynamodb") or {}
    pk = _text(data.get("Keys") or {}, "pk") or _text(data.get("NewImage") or {}, "pk")
    return pk.startswith(keys.MESSAGE_PREFIX)


def decode_message(record: Record) -> MessageRecord | None:
    """The message a record inserts, or None for a record to skip (see `is_message_insert`).

    Seed-format messages (sk = bare timestamp, any ISO 8601 offset) decode like ours: `created_at`
    is brought to our fixed width, `sk` stays as stored (it identifies the message).
    Raises UndecodableRecord for a message INSERT it cannot read.
    """
    if not is_message_insert(record):
        return None
    data = record.get("dynamodb") or {}
    image = data.get("NewImage")
    seq = sequence_number(record)
    if not isinstance(image, Mapping) or not image:
        raise UndecodableRecord(
            f"record {seq}: no NewImage (the stream's view type must be NEW_IMAGE)"
        )
    pk, sk = _text(image, "pk"), _text(image, "sk")
    try:
        group_uuid = keys.parse_uuid(keys.group_uuid_from_message_pk(pk), "message group uuid")
        created_at = keys.normalize_timestamp(keys.timestamp_of_sk(sk))
    except keys.InvalidKey as exc:
        raise UndecodableRecord(f"record {seq}: {exc}") from exc
    message = Message(
        uuid=_text(image, "message_uuid") or sk,
        group_uuid=group_uuid,
        user_uuid=_text(image, "user_uuid"),
        handle=_text(image, "user_handle"),
        display_name=_text(image, "user_display_name"),
        text=_text(image, "message"),
        created_at=created_at,
        sk=sk,
    )
    return MessageRecord(sequence_number=seq, message=message)


def newer(a: Message, b: Message) -> bool:
    """True when `a` comes after `b` in its group: by time, then by stored sort key (our
    tie-breaker), the same order every processor computes."""
    return (a.created_at, a.sk) > (b.created_at, b.sk)
