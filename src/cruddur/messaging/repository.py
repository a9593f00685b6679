"""The DynamoDB repository of messaging: every access pattern (A-E of DESIGN.md) over one table.

Callers get domain objects (`Message`, `Conversation`, ...), never attribute-value dicts. Reads that a
decision hangs on (membership, the pair row, a row about to move) go to the base table with
consistent reads; the GSI is used only where a stale answer is corrected later (finding a group's
conversation rows, then re-reading the base table when a condition says the GSI was behind).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import StrEnum
from typing import Any

from botocore.exceptions import (
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    HTTPClientError,
    ReadTimeoutError,
)

from cruddur.messaging import keys
from cruddur.messaging.errors import ContentionExhausted, GroupNotFound, TableMissing
from cruddur.messaging.models import (
    DEFAULT_PAGE_SIZE,
    MAX_PAGE_SIZE,
    Conversation,
    GroupKind,
    Member,
    Message,
    MessageGroup,
    Page,
    Sent,
    UserRef,
)
from cruddur.messaging.schema import unavailable

Item = dict[str, Any]

# Our own bounded loop for what botocore does not retry: cancelled transactions (conflicts) and
# conditional races. Exhaustion raises ContentionExhausted; nothing is half-written by then.
MAX_ATTEMPTS = 8
BACKOFF_BASE_SECONDS = 0.02
BACKOFF_CAP_SECONDS = 0.5

_THROTTLE_CODES = {
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "RequestLimitExceeded",
    "LimitExceededException",
    "TransactionInProgressException",
    "InternalServerError",
    "InternalFailure",
    "ServiceUnavailable",
}
_RETRYABLE_CANCEL_REASONS = {
    "TransactionConflict",
    "ThrottlingError",
    "ProvisionedThroughputExceeded",
}


def _s(value: str) -> dict[str, str]:
    return {"S": value}


def _n(value: int) -> dict[str, str]:
    return {"N": str(value)}


def _str(item: Item, name: str, default: str = "") -> str:
    value = item.get(name)
    if not value:
        return default
    if "S" in value:
        return str(value["S"])
    if "N" in value:
        return str(value["N"])
    return default


def _int(item: Item, name: str, default: int = 0) -> int:
    raw = _str(item, name)
    try:
        return int(raw) if raw else default
    except ValueError:
        return default


class MoveOutcome(StrEnum):
    MOVED = "moved"
    ALREADY_CURRENT = "already_current"
    CREATED = "created"


class _Cancelled(ContentionExhausted):
    """A transaction cancelled with per-item reasons (codes in TransactItems order). Callers
    retry what they can; one that escapes is a ContentionExhausted: nothing was written."""

    def __init__(self, reasons: tuple[str, ...]) -> None:
        super().__init__(f"DynamoDB cancelled the transaction ({', '.join(reasons)}); try again")
        self.reasons = reasons

    @property
    def retryable(self) -> bool:
        return any(r in _RETRYABLE_CANCEL_REASONS for r in self.reasons)

    def failed_condition_at(self, index: int) -> bool:
        return index < len(self.reasons) and self.reasons[index] == "ConditionalCheckFailed"


def message_from_item(item: Item) -> Message:
    sk = _str(item, "sk")
    return Message(
        uuid=_str(item, "message_uuid"),
        group_uuid=keys.group_uuid_from_message_pk(_str(item, "pk")),
        user_uuid=_str(item, "user_uuid"),
        handle=_str(item, "user_handle"),
        display_name=_str(item, "user_display_name"),
        text=_str(item, "message"),
        created_at=keys.shown_timestamp(sk),
        sk=sk,
    )


def conversation_from_item(item: Item) -> Conversation:
    sk = _str(item, "sk")
    kind_raw = _str(item, "kind", GroupKind.DIRECT.value)
    kind = GroupKind(kind_raw) if kind_raw in GroupKind._value2member_map_ else GroupKind.DIRECT
    return Conversation(
        owner_uuid=keys.user_uuid_from_conversation_pk(_str(item, "pk")),
        group_uuid=_str(item, "message_group_uuid"),
        user_uuid=_str(item, "user_uuid"),
        handle=_str(item, "user_handle"),
        display_name=_str(item, "user_display_name"),
        message=_str(item, "message"),
        last_reply_at=keys.shown_timestamp(sk),
        sk=sk,
        kind=kind,
        group_name=_str(item, "group_name") or None,
    )


def last_message_sk(item: Item) -> str:
    """Which message a conversation row shows. Seed rows do not record it: their timestamp is all
    we know, and it sorts before any message sk of the same microsecond."""
    return _str(item, "last_message_sk") or keys.timestamp_of_sk(_str(item, "sk"))


class MessageStore:
    """The messages table. Thread-safe: boto3 clients are, and the store keeps no mutable state."""

    def __init__(
        self,
        client: Any,
        table_name: str,
        clock: keys.Clock = keys.utc_now,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.client = client
        self.table = table_name
        self._clock = clock
        self._sleep = sleep

    # --- plumbing ---------------------------------------------------------------------------

    @contextmanager
    def _translated(self) -> Iterator[None]:
        """DynamoDB failures as domain errors: endpoint down, table missing, throttled for good."""
        try:
            yield
        except (
            EndpointConnectionError,
            ConnectTimeoutError,
            ReadTimeoutError,
            HTTPClientError,  # connection closed or reset, proxy refused
        ) as exc:
            raise unavailable(self.client, exc) from exc
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code == "ResourceNotFoundException":
                raise TableMissing(
                    f"table {self.table} does not exist: run `cruddur ddb schema-load`"
                ) from exc
            if code in _THROTTLE_CODES:
                raise ContentionExhausted(
                    f"DynamoDB kept refusing the request ({code}); try again shortly"
                ) from exc
            raise

    def _call(self, operation: str, **params: Any) -> dict[str, Any]:
        with self._translated():
            return dict(getattr(self.client, operation)(**params))

    def _transact(self, actions: list[dict[str, Any]]) -> None:
        """One TransactWriteItems; raises _Cancelled with the per-item reasons when cancelled."""
        try:
            with self._translated():
                self.client.transact_write_items(TransactItems=actions)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "TransactionCanceledException":
                raise
            reasons = tuple(
                r.get("Code", "None") for r in exc.response.get("CancellationReasons", [])
            )
            raise _Cancelled(reasons) from exc

    def _backoff(self, attempt: int) -> None:
        delay = min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * (2**attempt))
        self._sleep(random.uniform(0, delay))  # noqa: S311 - jitter, not security

    def _retrying(self, what: str) -> Iterator[int]:
        for attempt in range(MAX_ATTEMPTS):
            if attempt:
                self._backoff(attempt)
            yield attempt
        raise ContentionExhausted(f"{what}: still contended after {MAX_ATTEMPTS} attempts")

    def _query_pages(self, **params: Any) -> Iterator[Item]:
        while True:
            page = self._call("query", TableName=self.table, **params)
            yield from page.get("Items", [])
            last = page.get("LastEvaluatedKey")
            if not last:
                return
            params["ExclusiveStartKey"] = last

    def _newest_first(
        self, pk: str, limit: int, cursor: str | None
    ) -> tuple[list[Item], str | None]:
        """One page of a partition, newest sort key first, after the cursor's row; the cursor of
        the next page when there may be one."""
        params: dict[str, Any] = {
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": _s(pk)},
            "ScanIndexForward": False,
            "Limit": max(1, min(limit, MAX_PAGE_SIZE)),
        }
        if cursor:
            params["ExclusiveStartKey"] = {"pk": _s(pk), "sk": _s(keys.decode_cursor(cursor))}
        page = self._call("query", TableName=self.table, **params)
        items = page.get("Items", [])
        next_cursor = None
        if page.get("LastEvaluatedKey") and items:
            next_cursor = keys.encode_cursor(_str(items[-1], "sk"))
        return items, next_cursor

    # --- A: a group's messages --------------------------------------------------------------

    def list_messages(
        self, group_uuid: str, limit: int = DEFAULT_PAGE_SIZE, cursor: str | None = None
    ) -> Page[Message]:
        """The newest `limit` messages older than the cursor, returned oldest to newest. Every
        message of the group is reachable (no date filter); `next_cursor` leads to older ones."""
        items, next_cursor = self._newest_first(keys.message_pk(group_uuid), limit, cursor)
        messages = [message_from_item(i) for i in reversed(items)]
        return Page(items=messages, next_cursor=next_cursor)

    def all_messages(self, group_uuid: str) -> Iterator[Message]:
        """Every message of the group, oldest first (tool-kit and tests)."""
        for item in self._query_pages(
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": _s(keys.message_pk(group_uuid))},
        ):
            yield message_from_item(item)

    # --- B: a user's conversations ----------------------------------------------------------

    def list_conversations(
        self, user_uuid: str, limit: int = DEFAULT_PAGE_SIZE, cursor: str | None = None
    ) -> Page[Conversation]:
        """The user's conversations, most recent first, each group once (a stray older row of a
        group already listed on this page is skipped)."""
        items, next_cursor = self._newest_first(keys.conversation_pk(user_uuid), limit, cursor)
        seen: set[str] = set()
        unique = []
        for row in map(conversation_from_item, items):
            if row.group_uuid and row.group_uuid not in seen:
                seen.add(row.group_uuid)
                unique.append(row)
        return Page(items=unique, next_cursor=next_cursor)

    # --- groups, membership, pairs ----------------------------------------------------------

    def get_group(self, group_uuid: str) -> MessageGroup | None:
        item = self._call(
            "get_item",
            TableName=self.table,
            Key={"pk": _s(keys.group_pk(group_uuid)), "sk": _s(keys.META_SK)},
            ConsistentRead=True,
        ).get("Item")
        if not item:
            return None
        kind_raw = _str(item, "kind", GroupKind.DIRECT.value)
        return MessageGroup(
            uuid=group_uuid,
            kind=GroupKind(kind_raw)
            if kind_raw in GroupKind._value2member_map_
            else GroupKind.DIRECT,
            name=_str(item, "name") or None,
            created_by=_str(item, "created_by"),
            created_at=_str(item, "created_at"),
            members_count=_int(item, "members_count"),
        )

    def is_member(self, group_uuid: str, user_uuid: str) -> bool:
        """One consistent GetItem on the membership row; for a group written in the seed's format
        (no metadata row), membership is having a conversation row for it."""
        return self._membership(group_uuid, user_uuid) is not None

    def _membership(self, group_uuid: str, user_uuid: str) -> str | None:
        """ "member" (our membership row), "seed" (a seed-format group with a row of this user's),
        or None (not a member, or no such group)."""
        item = self._call(
            "get_item",
            TableName=self.table,
            Key={"pk": _s(keys.group_pk(group_uuid)), "sk": _s(keys.member_sk(user_uuid))},
            ConsistentRead=True,
            ProjectionExpression="pk",
        ).get("Item")
        if item:
            return "member"
        if self.get_group(group_uuid) is not None:
            return None
        return "seed" if self._current_rows(user_uuid, group_uuid) else None

    def list_members(self, group_uuid: str) -> list[Member]:
        """Members by membership rows; for a seed-format group, the owners of its conversation rows."""
        members = [
            Member(
                user_uuid=keys.user_uuid_from_member_sk(_str(item, "sk")),
                handle=_str(item, "user_handle"),
                display_name=_str(item, "user_display_name"),
                joined_at=_str(item, "joined_at"),
                role=_str(item, "role", "member"),
            )
            for item in self._query_pages(
                KeyConditionExpression="pk = :pk AND begins_with(sk, :member)",
                ExpressionAttributeValues={
                    ":pk": _s(keys.group_pk(group_uuid)),
                    ":member": _s(keys.MEMBER_SK_PREFIX),
                },
                ConsistentRead=True,
            )
        ]
        if members or self.get_group(group_uuid) is not None:
            return members
        return self._members_of_seed_group(group_uuid)

    def _members_of_seed_group(self, group_uuid: str) -> list[Member]:
        """A group written in the seed's format has no membership rows: its members own its
        conversation rows, and each is named on the rows of the others."""
        rows = self.conversation_rows_of_group(group_uuid)
        named = {_str(r, "user_uuid"): r for r in rows}
        members = []
        for owner in sorted({keys.user_uuid_from_conversation_pk(_str(r, "pk")) for r in rows}):
            shown = named.get(owner, {})
            members.append(
                Member(
                    user_uuid=owner,
                    handle=_str(shown, "user_handle"),
                    display_name=_str(shown, "user_display_name"),
                    joined_at="",
                )
            )
        return members

    def find_direct_group(self, user_a: str, user_b: str) -> str | None:
        pair = self._pair(user_a, user_b)
        return pair[0] if pair else None

    def _pair(self, user_a: str, user_b: str) -> tuple[str, bool] | None:
        """The pair's group and whether it was written in the seed's format (adopted)."""
        item = self._call(
            "get_item",
            TableName=self.table,
            Key={"pk": _s(keys.pair_pk(user_a, user_b)), "sk": _s(keys.PAIR_SK)},
            ConsistentRead=True,
        ).get("Item")
        if not item:
            return None
        return _str(item, "group_uuid"), bool(item.get("seed_format", {}).get("BOOL"))

    # --- C: send into an existing group -----------------------------------------------------

    def _message_item(
        self, group_uuid: str, sender: UserRef, text: str, created_at: str
    ) -> tuple[Item, Message]:
        message_uuid = keys.new_uuid()
        sk = keys.message_sk(created_at, message_uuid)
        item = {
            "pk": _s(keys.message_pk(group_uuid)),
            "sk": _s(sk),
            "message_uuid": _s(message_uuid),
            "message": _s(text),
            "user_uuid": _s(sender.uuid),
            "user_display_name": _s(sender.display_name),
            "user_handle": _s(sender.handle),
        }
        message = Message(
            uuid=message_uuid,
            group_uuid=group_uuid,
            user_uuid=sender.uuid,
            handle=sender.handle,
            display_name=sender.display_name,
            text=text,
            created_at=created_at,
            sk=sk,
        )
        return item, message

    def append_message(
        self, group_uuid: str, sender: UserRef, text: str, seed_format: bool = False
    ) -> Message:
        """Store a message (the caller has checked membership). Never replaces another message:
        the key carries a fresh uuid and the put is conditional. Conversation rows follow through
        the stream processor.

        In a group written in the seed's format (`seed_format`), the message is dated after the
        group's newest one: the seed's tools date messages minutes into the future, and a reply
        dated before them would sort above them and never reach the conversation rows (they
        move forward only). Costs one query of the group's newest message, only there."""
        not_before = self._newest_message_timestamp(group_uuid) if seed_format else None
        for _ in self._retrying("storing a message"):
            item, message = self._message_item(
                group_uuid, sender, text, self._timestamp_after(not_before)
            )
            try:
                self._call(
                    "put_item",
                    TableName=self.table,
                    Item=item,
                    ConditionExpression="attribute_not_exists(pk)",
                )
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                    raise
                if self._is_stored(item):
                    # botocore retried a put whose answer was lost (a timeout, a reset): the
                    # first attempt stored it, and storing it again would show it twice
                    return message
                continue  # a uuid4 collision: draw another key rather than overwrite
            return message
        raise AssertionError("unreachable")

    def _is_stored(self, item: Item) -> bool:
        """True when the table holds this very message item (a consistent read of its key)."""
        stored = self._call(
            "get_item",
            TableName=self.table,
            Key={"pk": item["pk"], "sk": item["sk"]},
            ConsistentRead=True,
        ).get("Item")
        return stored == item

    def _newest_message_timestamp(self, group_uuid: str) -> str | None:
        items, _ = self._newest_first(keys.message_pk(group_uuid), 1, None)
        if not items:
            return None
        try:
            return keys.normalize_timestamp(keys.timestamp_of_sk(_str(items[0], "sk")))
        except keys.InvalidKey:
            return None  # not a timestamp we can order against: the clock decides

    def _timestamp_after(self, not_before: str | None) -> str:
        now = keys.now_timestamp(self._clock)
        if not_before is None or now > not_before:
            return now
        return keys.next_timestamp(not_before)

    def send_to_group(self, group_uuid: str, sender: UserRef, text: str) -> Message:
        """Members only: GroupNotFound otherwise (the same answer as for no such group)."""
        membership = self._membership(group_uuid, sender.uuid)
        if membership is None:
            raise GroupNotFound(group_uuid)
        return self.append_message(group_uuid, sender, text, seed_format=membership == "seed")

    # --- D: create a group with its first message -------------------------------------------

    def _conversation_item(
        self,
        owner_uuid: str,
        group_uuid: str,
        shown: UserRef,
        message: Message | None,
        last_reply_at: str,
        kind: GroupKind,
        group_name: str | None,
    ) -> Item:
        item: Item = {
            "pk": _s(keys.conversation_pk(owner_uuid)),
            "sk": _s(keys.conversation_sk(last_reply_at, group_uuid)),
            "message_group_uuid": _s(group_uuid),
            "message": _s(message.text if message else ""),
            "user_uuid": _s(shown.uuid),
            "user_display_name": _s(shown.display_name),
            "user_handle": _s(shown.handle),
            "kind": _s(kind.value),
        }
        if message is not None:
            item["last_message_sk"] = _s(message.sk)
        if group_name:
            item["group_name"] = _s(group_name)
        return item

    def _group_actions(
        self,
        group_uuid: str,
        creator: UserRef,
        members: list[UserRef],
        kind: GroupKind,
        name: str | None,
        text: str | None,
        created_at: str,
    ) -> tuple[list[dict[str, Any]], Message | None]:
        put = lambda item: {  # noqa: E731
            "Put": {
                "TableName": self.table,
                "Item": item,
                "ConditionExpression": "attribute_not_exists(pk)",
            }
        }
        meta: Item = {
            "pk": _s(keys.group_pk(group_uuid)),
            "sk": _s(keys.META_SK),
            "kind": _s(kind.value),
            "created_by": _s(creator.uuid),
            "created_at": _s(created_at),
            "members_count": _n(len(members)),
        }
        if name:
            meta["name"] = _s(name)
        actions = [put(meta)]
        for member in members:
            actions.append(
                put(
                    {
                        "pk": _s(keys.group_pk(group_uuid)),
                        "sk": _s(keys.member_sk(member.uuid)),
                        "joined_at": _s(created_at),
                        "role": _s("owner" if member.uuid == creator.uuid else "member"),
                        "user_handle": _s(member.handle),
                        "user_display_name": _s(member.display_name),
                    }
                )
            )
        message = None
        if text is not None:
            message_item, message = self._message_item(group_uuid, creator, text, created_at)
            actions.append(put(message_item))
        for member in members:
            if kind is GroupKind.DIRECT:
                shown = next(m for m in members if m.uuid != member.uuid)
            else:
                shown = creator
            actions.append(
                put(
                    self._conversation_item(
                        member.uuid, group_uuid, shown, message, created_at, kind, name
                    )
                )
            )
        return actions, message

    def open_direct_conversation(self, sender: UserRef, recipient: UserRef, text: str) -> Sent:
        """The one 1:1 group of this pair, created with `text` as its first message, or the existing
        one with `text` appended. Concurrent openings from either side end in one group: the pair
        row's conditional put decides, the loser appends to the winner's group."""
        pair_key = {"pk": _s(keys.pair_pk(sender.uuid, recipient.uuid)), "sk": _s(keys.PAIR_SK)}
        for _ in self._retrying("opening a conversation"):
            pair = self._pair(sender.uuid, recipient.uuid) or self._adopt_seed_group(
                sender, recipient
            )
            if pair:
                existing, seed_format = pair
                appended = self.append_message(existing, sender, text, seed_format)
                return Sent(group_uuid=existing, message=appended, created_group=False)
            group_uuid = keys.new_uuid()
            created_at = keys.now_timestamp(self._clock)
            actions, message = self._group_actions(
                group_uuid, sender, [sender, recipient], GroupKind.DIRECT, None, text, created_at
            )
            pair_put = {
                "Put": {
                    "TableName": self.table,
                    "Item": {
                        **pair_key,
                        "group_uuid": _s(group_uuid),
                        "created_at": _s(created_at),
                    },
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            }
            try:
                self._transact([pair_put, *actions])
            except _Cancelled as cancelled:
                if cancelled.failed_condition_at(0) or cancelled.retryable:
                    continue  # the other side won the pair (or a conflict): read it again
                raise
            assert message is not None
            return Sent(group_uuid=group_uuid, message=message, created_group=True)
        raise AssertionError("unreachable")

    def _adopt_seed_group(self, sender: UserRef, recipient: UserRef) -> tuple[str, bool] | None:
        """A conversation of this pair written in the seed's format (conversation rows only, no
        pair row), which then gets its pair row so later openings find it with one GetItem.
        Paid once per pair, on first contact: one query of the sender's conversation rows."""
        legacy = [
            _str(item, "message_group_uuid")
            for item in self._query_pages(
                KeyConditionExpression="pk = :pk",
                FilterExpression="user_uuid = :other AND attribute_not_exists(kind)",
                ExpressionAttributeValues={
                    ":pk": _s(keys.conversation_pk(sender.uuid)),
                    ":other": _s(recipient.uuid),
                },
                ProjectionExpression="message_group_uuid",
                ConsistentRead=True,
            )
        ]
        if not legacy:
            return None
        group_uuid = legacy[0]  # newest first is not promised by a filter; any one will do
        try:
            self._call(
                "put_item",
                TableName=self.table,
                Item={
                    "pk": _s(keys.pair_pk(sender.uuid, recipient.uuid)),
                    "sk": _s(keys.PAIR_SK),
                    "group_uuid": _s(group_uuid),
                    "created_at": _s(keys.now_timestamp(self._clock)),
                    "seed_format": {"BOOL": True},
                },
                ConditionExpression="attribute_not_exists(pk)",
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise
            return self._pair(sender.uuid, recipient.uuid)  # the other side adopted it first
        return group_uuid, True

    def create_group(
        self, creator: UserRef, others: list[UserRef], name: str, text: str | None = None
    ) -> Sent | MessageGroup:
        """A named group of the creator and `others`, all rows in one transaction."""
        members = [creator, *[o for o in others if o.uuid != creator.uuid]]
        group_uuid = keys.new_uuid()
        for _ in self._retrying("creating a group"):
            created_at = keys.now_timestamp(self._clock)
            actions, message = self._group_actions(
                group_uuid, creator, members, GroupKind.GROUP, name, text, created_at
            )
            try:
                self._transact(actions)
            except _Cancelled as cancelled:
                if cancelled.retryable:
                    continue
                raise
            group = MessageGroup(
                uuid=group_uuid,
                kind=GroupKind.GROUP,
                name=name,
                created_by=creator.uuid,
                created_at=created_at,
                members_count=len(members),
            )
            if message is not None:
                return Sent(group_uuid=group_uuid, message=message, created_group=True, group=group)
            return group
        raise AssertionError("unreachable")

    # --- E: move conversation rows to a newer message ---------------------------------------

    def conversation_rows_of_group(self, group_uuid: str) -> list[Item]:
        """The group's conversation rows from the GSI (eventually consistent on AWS: may miss a row
        written a moment ago, or show one that just moved)."""
        return list(
            self._query_pages(
                IndexName=keys.GROUP_INDEX,
                KeyConditionExpression="message_group_uuid = :g",
                ExpressionAttributeValues={":g": _s(group_uuid)},
            )
        )

    def _current_rows(
        self, owner_uuid: str, group_uuid: str, not_before_sk: str = ""
    ) -> list[Item]:
        """The owner's rows for the group, from the base table with a consistent read. Rows only
        move forward, so a known earlier sk bounds the read to the owner's more recent rows; a
        bound that is not one of our fixed-width timestamps (seed data in another offset) is
        dropped rather than trusted."""
        expression = "pk = :pk"
        values: dict[str, Any] = {":pk": _s(keys.conversation_pk(owner_uuid)), ":g": _s(group_uuid)}
        if not_before_sk and keys.is_timestamp(keys.timestamp_of_sk(not_before_sk)):
            expression += " AND sk >= :from"
            values[":from"] = _s(not_before_sk)
        return list(
            self._query_pages(
                KeyConditionExpression=expression,
                FilterExpression="message_group_uuid = :g",
                ExpressionAttributeValues=values,
                ConsistentRead=True,
            )
        )

    def _moved_item(self, row: Item, message: Message) -> Item:
        new = {k: v for k, v in row.items() if k not in ("pk", "sk")}
        new["pk"] = row["pk"]
        new["sk"] = _s(keys.conversation_sk(message.created_at, message.group_uuid))
        new["message"] = _s(message.text)
        new["last_message_sk"] = _s(message.sk)
        if _str(row, "kind") == GroupKind.GROUP.value:
            # a group's row shows the last sender; a direct one keeps showing the other party
            new["user_uuid"] = _s(message.user_uuid)
            new["user_handle"] = _s(message.handle)
            new["user_display_name"] = _s(message.display_name)
        return new

    def move_conversation_row(self, row: Item, message: Message) -> MoveOutcome:
        """Move one member's conversation row (as last read, maybe stale) to `message`.

        Forward only: a row already at this message or a newer one stays. Delete-old and put-new
        commit in one transaction, so a crash never loses the row and the owner never has two
        rows for the group, not even for a moment (a put-then-delete pair would save 2 units per
        row but show the group twice between its writes). Two concurrent moves: the loser's
        condition fails, it re-reads the base table and tries again. Raises ContentionExhausted
        after MAX_ATTEMPTS; nothing is half-written then.
        """
        owner = keys.user_uuid_from_conversation_pk(_str(row, "pk"))
        current: Item | None = row
        for _ in self._retrying("moving a conversation row"):
            if current is None:
                return MoveOutcome.ALREADY_CURRENT  # the row is gone: nothing of ours to move
            if last_message_sk(current) >= message.sk:
                return MoveOutcome.ALREADY_CURRENT
            new = self._moved_item(current, message)
            old_key = {"pk": current["pk"], "sk": current["sk"]}
            guard = {
                "ConditionExpression": "attribute_exists(pk) AND "
                "(attribute_not_exists(last_message_sk) OR last_message_sk < :m)",
                "ExpressionAttributeValues": {":m": _s(message.sk)},
            }
            try:
                if old_key["sk"] == new["sk"]:
                    # same microsecond, newer message: the key stays, the content changes
                    self._transact([{"Put": {"TableName": self.table, "Item": new, **guard}}])
                else:
                    self._transact(
                        [
                            {"Delete": {"TableName": self.table, "Key": old_key, **guard}},
                            {
                                "Put": {
                                    "TableName": self.table,
                                    "Item": new,
                                    "ConditionExpression": "attribute_not_exists(pk)",
                                }
                            },
                        ]
                    )
                return MoveOutcome.MOVED
            except _Cancelled as cancelled:
                if not (cancelled.retryable or "ConditionalCheckFailed" in cancelled.reasons):
                    raise
            rows = self._current_rows(owner, message.group_uuid, _str(row, "sk"))
            current = self._keep_newest(rows)
        raise AssertionError("unreachable")

    def _keep_newest(self, rows: list[Item]) -> Item | None:
        """The newest of a member's rows for one group (rows from a consistent read); older
        strays (seed-format leftovers, another tool's half-done move) are deleted so the group
        shows once. Deleting a stray is idempotent."""
        if not rows:
            return None
        rows = sorted(rows, key=last_message_sk)
        for stray in rows[:-1]:
            self._call(
                "delete_item",
                TableName=self.table,
                Key={"pk": stray["pk"], "sk": stray["sk"]},
            )
        return rows[-1]

    def _rows_missed_by_index(
        self, message: Message, by_owner: dict[str, list[Item]]
    ) -> dict[str, list[Item]]:
        """Members whose rows the GSI read did not show, read from the base table (consistent).

        A named group is checked against its metadata (`members_count`, then the membership rows
        when short). A direct group, ours or the seed's, needs no metadata read when both rows
        were seen: its two members are the rows' owners, the party each row shows and the
        sender; only a member not seen is read, from its owner's list. Costs nothing extra on
        the common path of a direct group (the GSI query is the only read).
        """
        group_uuid = message.group_uuid
        found: dict[str, list[Item]] = {}
        rows = [r for owner_rows in by_owner.values() for r in owner_rows]
        named = any(_str(r, "kind") == GroupKind.GROUP.value for r in rows)
        group: MessageGroup | None = None
        if named or not rows:
            group = self.get_group(group_uuid)
        if group is not None and (group.kind is GroupKind.GROUP or not rows):
            if len(by_owner) >= group.members_count:
                return found
            for member in self.list_members(group_uuid):
                if member.user_uuid not in by_owner:
                    member_rows = self._current_rows(
                        member.user_uuid, group_uuid, keys.conversation_sk(group.created_at, "")
                    )
                    if member_rows:
                        found[member.user_uuid] = member_rows
            return found
        # direct (or seed-format): follow who the rows name until nobody new turns up
        tried = set(by_owner)
        frontier = {message.user_uuid} | {_str(r, "user_uuid") for r in rows}
        frontier -= tried | {""}
        bound: str | None = None
        while frontier:
            user_uuid = frontier.pop()
            tried.add(user_uuid)
            if bound is None:
                # every row of one of our groups was written at or after the group's creation
                meta = group if (named or not rows) else self.get_group(group_uuid)
                bound = keys.conversation_sk(meta.created_at, "") if meta else ""
            member_rows = self._current_rows(user_uuid, group_uuid, bound)
            if member_rows:
                found[user_uuid] = member_rows
                frontier |= {_str(r, "user_uuid") for r in member_rows} - tried - {""}
        return found

    def move_conversation_rows(self, message: Message) -> dict[str, MoveOutcome]:
        """Move every member's row of the message's group to it, forward only; returns what
        happened per member uuid.

        Idempotent and order-free: applying any set of a group's messages, repeated or in any
        order, concurrently or not, leaves each row at the newest of them. Members come from one
        GSI query; a member the (eventually consistent) index did not show is found through the
        base table (`_rows_missed_by_index`), so an index lag never leaves a row behind; an owner
        showing two rows for the group is re-read consistently and keeps only the newest.
        Raises ContentionExhausted / StoreUnavailable / TableMissing; rows already moved stay
        moved, so the caller retries the whole message.
        """
        group_uuid = message.group_uuid
        by_owner: dict[str, list[Item]] = {}
        for item in self.conversation_rows_of_group(group_uuid):
            owner = keys.user_uuid_from_conversation_pk(_str(item, "pk"))
            by_owner.setdefault(owner, []).append(item)
        consistent = self._rows_missed_by_index(message, by_owner)
        outcomes: dict[str, MoveOutcome] = {}
        for owner, rows in [*by_owner.items(), *consistent.items()]:
            if len(rows) > 1:
                if owner not in consistent:
                    oldest = min(_str(r, "sk") for r in rows)
                    rows = self._current_rows(owner, group_uuid, oldest)
                current = self._keep_newest(rows)
            else:
                current = rows[0]
            if current is None:
                continue
            outcomes[owner] = self.move_conversation_row(current, message)
        return outcomes

    # --- tool-kit -----------------------------------------------------------------------------

    def scan(self) -> Iterator[Item]:
        """Every item of the table, page after page (plain attribute values)."""
        params: dict[str, Any] = {"TableName": self.table}
        while True:
            page = self._call("scan", **params)
            for item in page.get("Items", []):
                yield {name: next(iter(value.values())) for name, value in item.items()}
            last = page.get("LastEvaluatedKey")
            if not last:
                return
            params["ExclusiveStartKey"] = last
