"""Keys, timestamps and cursors of the single table: the only module that formats `MSG#`, `GRP#`,
`GROUP#` and `PAIR#`.

Row types (docs/architecture.md, "The table"):
  message            pk MSG#{group}                 sk {created_at}#{message_uuid}   (seed: {created_at})
  conversation row   pk GRP#{user}                  sk {last_reply_at}#{group}       (seed: {last_reply_at})
  group metadata     pk GROUP#{group}               sk META
  membership         pk GROUP#{group}               sk MEMBER#{user}
  direct pair        pk PAIR#{smaller}#{larger}     sk PAIR
Only conversation rows carry `message_group_uuid`, so the GSI holds exactly them.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

MESSAGE_PREFIX = "MSG#"
CONVERSATION_PREFIX = "GRP#"
GROUP_PREFIX = "GROUP#"
PAIR_PREFIX = "PAIR#"
META_SK = "META"
MEMBER_SK_PREFIX = "MEMBER#"
PAIR_SK = "PAIR"
GROUP_INDEX = "message-group-sk-index"

# 2026-11-28T05:07:14.123456+00:00: fixed width, so text order is time order.
TIMESTAMP_LENGTH = 32
_TIMESTAMP_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}\+00:00$")
# Upper bound for "everything up to now" in a range query: sorts after any timestamp-prefixed sk.
SK_CEILING = "9999"


class InvalidKey(ValueError):
    """A uuid, timestamp or cursor that does not have the expected shape. Standard library only:
    callers that face users turn it into their own error (the services into InvalidInput)."""


Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


def format_timestamp(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise InvalidKey("timestamps must be timezone-aware")
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def now_timestamp(clock: Clock = utc_now) -> str:
    return format_timestamp(clock())


def is_timestamp(text: str) -> bool:
    return bool(_TIMESTAMP_RE.match(text))


def normalize_timestamp(text: str) -> str:
    """Seed-format data may carry any ISO 8601 offset or precision; bring it to our fixed width."""
    if is_timestamp(text):
        return text
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise InvalidKey(f"not an ISO 8601 timestamp: {text!r}") from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return format_timestamp(moment)


def next_timestamp(timestamp: str) -> str:
    """The smallest timestamp after `timestamp` (one microsecond later)."""
    return format_timestamp(datetime.fromisoformat(timestamp) + timedelta(microseconds=1))


def parse_uuid(value: str, what: str = "uuid") -> str:
    """The canonical lowercase form of a uuid, or InvalidKey."""
    try:
        return str(uuid.UUID(str(value)))
    except (ValueError, AttributeError, TypeError) as exc:
        raise InvalidKey(f"malformed {what}: {value!r}") from exc


def new_uuid() -> str:
    return str(uuid.uuid4())


# --- messages ---------------------------------------------------------------------------------


def message_pk(group_uuid: str) -> str:
    return f"{MESSAGE_PREFIX}{group_uuid}"


def message_sk(created_at: str, message_uuid: str) -> str:
    return f"{created_at}#{message_uuid}"


def group_uuid_from_message_pk(pk: str) -> str:
    if not pk.startswith(MESSAGE_PREFIX):
        raise InvalidKey(f"not a message key: {pk!r}")
    return pk[len(MESSAGE_PREFIX) :]


# --- conversation rows ------------------------------------------------------------------------


def conversation_pk(user_uuid: str) -> str:
    return f"{CONVERSATION_PREFIX}{user_uuid}"


def conversation_sk(last_reply_at: str, group_uuid: str) -> str:
    return f"{last_reply_at}#{group_uuid}"


def user_uuid_from_conversation_pk(pk: str) -> str:
    if not pk.startswith(CONVERSATION_PREFIX):
        raise InvalidKey(f"not a conversation key: {pk!r}")
    return pk[len(CONVERSATION_PREFIX) :]


def shown_timestamp(sk: str) -> str:
    """The timestamp a reader sees for a message or conversation sk: ours as stored, the seed's
    (any offset or precision) brought to UTC with microseconds; text that is no timestamp as is."""
    head = timestamp_of_sk(sk)
    try:
        return normalize_timestamp(head)
    except InvalidKey:
        return head


def timestamp_of_sk(sk: str) -> str:
    """The bare timestamp of a message or conversation sk, ours (`ts#tie`) or the seed's (`ts`)."""
    head, _, _ = sk.partition("#")
    return head


# --- groups, membership, pairs ----------------------------------------------------------------


def group_pk(group_uuid: str) -> str:
    return f"{GROUP_PREFIX}{group_uuid}"


def group_uuid_from_group_pk(pk: str) -> str:
    if not pk.startswith(GROUP_PREFIX):
        raise InvalidKey(f"not a group key: {pk!r}")
    return pk[len(GROUP_PREFIX) :]


def member_sk(user_uuid: str) -> str:
    return f"{MEMBER_SK_PREFIX}{user_uuid}"


def user_uuid_from_member_sk(sk: str) -> str:
    if not sk.startswith(MEMBER_SK_PREFIX):
        raise InvalidKey(f"not a membership key: {sk!r}")
    return sk[len(MEMBER_SK_PREFIX) :]


def pair_pk(user_a: str, user_b: str) -> str:
    smaller, larger = sorted((user_a, user_b))
    return f"{PAIR_PREFIX}{smaller}#{larger}"


# --- cursors ----------------------------------------------------------------------------------


def encode_cursor(sk: str) -> str:
    """An opaque cursor for the page after the row with this sort key (same partition)."""
    raw = json.dumps({"sk": sk}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> str:
    """The sort key a cursor stands for, or InvalidKey. Only the sort key travels: the partition
    is always rebuilt from the request, so a cursor cannot reach another user's rows."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode()))
        sk = data["sk"]
    except (binascii.Error, ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
        raise InvalidKey("malformed cursor") from exc
    if not isinstance(sk, str) or not sk or len(sk) > 200:
        raise InvalidKey("malformed cursor")
    return sk
