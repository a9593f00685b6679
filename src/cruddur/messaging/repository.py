"""The messages table on DynamoDB: typed rows in, typed rows and outcomes out, one method per access
pattern (A-E in docs/architecture.md). No rules live here: who may read or send, which group a pair
talks in, and how conversation rows move are the services' and the stream processor's. What
concurrency could break stays a condition or a transaction here, answered as a `WriteOutcome`.

Reads that a decision hangs on (membership, the pair row, a row about to move) are consistent reads
of the base table; the GSI serves only `group_conversation_rows`, whose callers correct a stale
answer.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from typing import Any

from cruddur.messaging import items, keys, retries
from cruddur.messaging.dynamodb_errors import ConditionFailed, TransactionCancelled, translated
from cruddur.messaging.errors import StoreRefused
from cruddur.messaging.items import Item, s
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
    WriteOutcome,
)

_NEW_KEY = "attribute_not_exists(pk)"


class DynamoMessageRepository:
    """The messages table. Thread-safe: boto3 clients are, and nothing here keeps mutable state."""

    def __init__(self, client: Any, table_name: str, sleep: retries.Sleep = time.sleep) -> None:
        self.client = client
        self.table = table_name
        self._sleep = sleep

    # --- plumbing ---------------------------------------------------------------------------

    def _call(self, operation: str, **params: Any) -> dict[str, Any]:
        with translated(self.client, self.table):
            return dict(getattr(self.client, operation)(**params))

    def _get(self, key: Item, projection: str | None = None) -> Item | None:
        params: dict[str, Any] = {"TableName": self.table, "Key": key, "ConsistentRead": True}
        if projection:
            params["ProjectionExpression"] = projection
        item = self._call("get_item", **params).get("Item")
        return dict(item) if item else None

    def _put_new(self, item: Item) -> WriteOutcome:
        """A put that never replaces a row: CREATED, or CONDITION_FAILED when the key is taken."""
        try:
            self._call("put_item", TableName=self.table, Item=item, ConditionExpression=_NEW_KEY)
        except ConditionFailed:
            return WriteOutcome.CONDITION_FAILED
        return WriteOutcome.CREATED

    def _transact(self, actions: list[dict[str, Any]]) -> WriteOutcome:
        """One TransactWriteItems: CREATED, or CONDITION_FAILED when a condition did not hold.
        Conflicts and throttling cancel it as a whole: retried here (bounded), then
        TransactionCancelled (a ContentionExhausted); nothing was written then."""
        for _ in retries.attempts("writing a transaction", self._sleep):
            try:
                self._call("transact_write_items", TransactItems=actions)
            except TransactionCancelled as cancelled:
                if cancelled.condition_failed:
                    return WriteOutcome.CONDITION_FAILED
                if not cancelled.retryable:
                    # a reason no retry changes (a validation error): the store refusing
                    raise StoreRefused(
                        "TransactionCanceledException", str(cancelled)
                    ) from cancelled
                continue
            return WriteOutcome.CREATED
        raise AssertionError("unreachable")

    def _put_action(self, item: Item, condition: str = _NEW_KEY, **extra: Any) -> dict[str, Any]:
        return {
            "Put": {
                "TableName": self.table,
                "Item": item,
                "ConditionExpression": condition,
                **extra,
            }
        }

    def _query_all(self, **params: Any) -> Iterator[Item]:
        while True:
            page = self._call("query", TableName=self.table, **params)
            yield from page.get("Items", [])
            last = page.get("LastEvaluatedKey")
            if not last:
                return
            params["ExclusiveStartKey"] = last

    def _newest_first(
        self,
        pk: str,
        limit: int,
        cursor: str | None,
        consistent: bool = False,
        not_before_sk: str = "",
    ) -> tuple[list[Item], str | None]:
        """One page of a partition, newest sort key first, after the cursor's row (and not before
        `not_before_sk`); the cursor of the next page when there may be one."""
        expression, values = "pk = :pk", {":pk": s(pk)}
        if not_before_sk:
            expression += " AND sk >= :from"
            values[":from"] = s(not_before_sk)
        params: dict[str, Any] = {
            "KeyConditionExpression": expression,
            "ExpressionAttributeValues": values,
            "ScanIndexForward": False,
            "Limit": max(1, min(limit, MAX_PAGE_SIZE)),
        }
        if consistent:
            params["ConsistentRead"] = True
        if cursor:
            params["ExclusiveStartKey"] = {"pk": s(pk), "sk": s(keys.decode_cursor(cursor))}
        page = self._call("query", TableName=self.table, **params)
        found = page.get("Items", [])
        next_cursor = None
        if page.get("LastEvaluatedKey") and found:
            next_cursor = keys.encode_cursor(items.text(found[-1], "sk"))
        return found, next_cursor

    # --- A: a group's messages --------------------------------------------------------------

    def messages_page(
        self,
        group_uuid: str,
        limit: int,
        cursor: str | None,
        consistent: bool = False,
        not_before_sk: str = "",
    ) -> Page[Message]:
        """The newest `limit` messages older than the cursor, returned oldest to newest; with
        `not_before_sk` (a member's `joined_at`) only messages whose sk is at or after it, bound in
        the key condition (no read unit spent on older ones); else every message of the group is
        reachable. `next_cursor` leads to older ones. `consistent`: a strongly consistent read
        (twice the units), for a cache fill that must not keep what a write a moment ago has
        already changed."""
        if not_before_sk and cursor and keys.decode_cursor(cursor) <= not_before_sk:
            return Page()  # everything older than the cursor is before the bound
        found, next_cursor = self._newest_first(
            keys.message_pk(group_uuid), limit, cursor, consistent, not_before_sk
        )
        messages = [items.message_from_item(i) for i in reversed(found)]
        return Page(items=messages, next_cursor=next_cursor)

    def all_messages(self, group_uuid: str) -> Iterator[Message]:
        """Every message of the group, oldest first (tool-kit and tests)."""
        for item in self._query_all(
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": s(keys.message_pk(group_uuid))},
        ):
            yield items.message_from_item(item)

    def newest_message(self, group_uuid: str) -> Message | None:
        found, _ = self._newest_first(keys.message_pk(group_uuid), 1, None)
        return items.message_from_item(found[0]) if found else None

    # --- C: add a message -------------------------------------------------------------------

    def add_message(self, message: Message) -> WriteOutcome:
        """Store a message under its own key, never replacing another: CREATED; ALREADY_STORED
        when this very message is there (botocore retried a put whose answer was lost: the first
        attempt stored it); CONDITION_FAILED when the key holds another message."""
        item = items.message_item(message)
        if self._put_new(item) is WriteOutcome.CREATED:
            return WriteOutcome.CREATED
        if self._get(items.key(item)) == item:
            return WriteOutcome.ALREADY_STORED
        return WriteOutcome.CONDITION_FAILED

    # --- B: a user's conversations ----------------------------------------------------------

    def conversations_page(
        self, owner_uuid: str, limit: int, cursor: str | None, consistent: bool = False
    ) -> Page[Conversation]:
        """One page of the owner's conversations, most recent first, each group once (`consistent`
        as for `messages_page`). A move writes a row's new key before it deletes the old one, so
        for a moment (or, after a crash, until the replay) a group may have an extra, older row:
        a page shows each group's newest row only and still holds `limit` groups when there are
        as many; a cursor page leaves out groups that have a row at or above the cursor (listed
        already), so following cursors neither repeats nor skips a group. A cursor whenever the
        page is full."""
        size = max(1, min(limit, MAX_PAGE_SIZE))
        pk = keys.conversation_pk(owner_uuid)
        listed = self._groups_above(pk, keys.decode_cursor(cursor), consistent) if cursor else set()
        rows: list[Conversation] = []
        after = cursor
        while True:
            found, next_cursor = self._newest_first(pk, size, after, consistent)
            for item in found:
                row = items.conversation_from_item(item)
                if row.group_uuid in listed:
                    continue  # an older row of a group shown above
                listed.add(row.group_uuid)
                rows.append(row)
                if len(rows) == size:
                    return Page(items=rows, next_cursor=keys.encode_cursor(row.sk))
            if next_cursor is None:
                return Page(items=rows, next_cursor=None)
            after = next_cursor

    def _groups_above(self, pk: str, sk: str, consistent: bool) -> set[str]:
        """The groups of a user's rows at or above a cursor (the cursor's own row was listed):
        what a later page must not list again. Keys and group only."""
        return {
            items.text(item, "message_group_uuid")
            for item in self._query_all(
                KeyConditionExpression="pk = :pk AND sk >= :after",
                ExpressionAttributeValues={":pk": s(pk), ":after": s(sk)},
                ProjectionExpression="message_group_uuid",
                ConsistentRead=consistent,
            )
        }

    def member_conversation_rows(
        self, owner_uuid: str, group_uuid: str, not_before_sk: str = ""
    ) -> list[Conversation]:
        """The owner's rows for the group, from the base table with a consistent read. Rows only
        move forward, so a known earlier sk bounds the read to the owner's more recent rows; a
        bound that is not one of our fixed-width timestamps (seed data in another offset) is
        dropped rather than trusted."""
        expression = "pk = :pk"
        values: dict[str, Any] = {":pk": s(keys.conversation_pk(owner_uuid)), ":g": s(group_uuid)}
        if not_before_sk and keys.is_timestamp(keys.timestamp_of_sk(not_before_sk)):
            expression += " AND sk >= :from"
            values[":from"] = s(not_before_sk)
        return [
            items.conversation_from_item(item)
            for item in self._query_all(
                KeyConditionExpression=expression,
                FilterExpression="message_group_uuid = :g",
                ExpressionAttributeValues=values,
                ConsistentRead=True,
            )
        ]

    def seed_format_groups_with(self, owner_uuid: str, other_uuid: str) -> list[str]:
        """Groups the owner's seed-format rows (no `kind`) show `other_uuid` in: conversations
        written by the seed's tools, which have no pair row. One consistent query."""
        return [
            items.text(item, "message_group_uuid")
            for item in self._query_all(
                KeyConditionExpression="pk = :pk",
                FilterExpression="user_uuid = :other AND attribute_not_exists(kind)",
                ExpressionAttributeValues={
                    ":pk": s(keys.conversation_pk(owner_uuid)),
                    ":other": s(other_uuid),
                },
                ProjectionExpression="message_group_uuid",
                ConsistentRead=True,
            )
        ]

    # --- groups, membership, pairs ----------------------------------------------------------

    def get_group(self, group_uuid: str) -> MessageGroup | None:
        item = self._get({"pk": s(keys.group_pk(group_uuid)), "sk": s(keys.META_SK)})
        return items.group_from_item(item) if item else None

    def get_member(self, group_uuid: str, user_uuid: str) -> Member | None:
        """The membership row: one consistent GetItem, however large the group."""
        item = self._get({"pk": s(keys.group_pk(group_uuid)), "sk": s(keys.member_sk(user_uuid))})
        return items.member_from_item(item) if item else None

    def list_members(self, group_uuid: str) -> list[Member]:
        """The group's membership rows (consistent); none for a seed-format group."""
        return [
            items.member_from_item(item)
            for item in self._query_all(
                KeyConditionExpression="pk = :pk AND begins_with(sk, :member)",
                ExpressionAttributeValues={
                    ":pk": s(keys.group_pk(group_uuid)),
                    ":member": s(keys.MEMBER_SK_PREFIX),
                },
                ConsistentRead=True,
            )
        ]

    def delete_member(self, group_uuid: str, user_uuid: str) -> None:
        """Idempotent: deleting a membership row that is gone changes nothing."""
        self._call(
            "delete_item",
            TableName=self.table,
            Key={"pk": s(keys.group_pk(group_uuid)), "sk": s(keys.member_sk(user_uuid))},
        )

    def get_pair(self, user_a: str, user_b: str) -> DirectPair | None:
        item = self._get(items.pair_key(user_a, user_b))
        return items.pair_from_item(item, user_a, user_b) if item else None

    def add_pair(self, pair: DirectPair) -> WriteOutcome:
        """CREATED, or CONDITION_FAILED when the pair already has its row (whoever wrote it)."""
        return self._put_new(items.pair_item(pair))

    # --- D: create a group with its first message -------------------------------------------

    def create_group(self, new: NewGroup) -> WriteOutcome:
        """Every row of `new` in one transaction, each only if its key is free: CREATED, or
        CONDITION_FAILED (nothing written), in practice because the pair row exists already."""
        group_uuid = new.group.uuid
        actions = []
        if new.pair is not None:
            actions.append(self._put_action(items.pair_item(new.pair)))
        actions.append(self._put_action(items.group_item(new.group)))
        actions.extend(self._put_action(items.member_item(group_uuid, m)) for m in new.members)
        if new.message is not None:
            actions.append(self._put_action(items.message_item(new.message)))
        actions.extend(self._put_action(items.conversation_item(c)) for c in new.conversations)
        return self._transact(actions)

    # --- F: change a named group: add members, remove one, rename ----------------------------

    def _meta_guard(self, expected: MessageGroup) -> dict[str, Any]:
        """`META` is still as `expected` was read (same version, same size, a named group):
        concurrent changes of one group serialise on it, the loser answers CONDITION_FAILED and
        the caller re-reads."""
        condition = "attribute_exists(pk) AND kind = :group AND members_count = :count AND "
        values: dict[str, Any] = {
            ":group": s(GroupKind.GROUP.value),
            ":count": {"N": str(expected.members_count)},
        }
        if expected.meta_version:
            condition += "meta_version = :version"
            values[":version"] = {"N": str(expected.meta_version)}
        else:
            condition += "attribute_not_exists(meta_version)"
        return {
            "TableName": self.table,
            "Key": {"pk": s(keys.group_pk(expected.uuid)), "sk": s(keys.META_SK)},
            "ConditionExpression": condition,
            "ExpressionAttributeValues": values,
        }

    def _meta_update(self, expected: MessageGroup, updated: MessageGroup) -> dict[str, Any]:
        """The `META` update to `updated`'s name, size and version, guarded by `expected`."""
        guard = self._meta_guard(expected)
        return {
            "Update": {
                **guard,
                "UpdateExpression": "SET members_count = :new_count, "
                "meta_version = :new_version, #name = :name",
                "ExpressionAttributeNames": {"#name": "name"},
                "ExpressionAttributeValues": {
                    **guard["ExpressionAttributeValues"],
                    ":new_count": {"N": str(updated.members_count)},
                    ":new_version": {"N": str(updated.meta_version)},
                    ":name": s(updated.name or ""),
                },
            }
        }

    def _refresh_action(self, row: Conversation, updated: MessageGroup) -> dict[str, Any]:
        """A member's row to `updated`'s name, size and version, only if the row is still there
        with the version it was read with: a row the stream processor moved (its key is gone) or
        refreshed meanwhile cancels the transaction, and the caller re-reads."""
        condition = "attribute_exists(pk) AND "
        values: dict[str, Any] = {
            ":name": s(updated.name or ""),
            ":count": {"N": str(updated.members_count)},
            ":version": {"N": str(updated.meta_version)},
        }
        if row.meta_version:
            condition += "meta_version = :read"
            values[":read"] = {"N": str(row.meta_version)}
        else:
            condition += "attribute_not_exists(meta_version)"
        return {
            "Update": {
                "TableName": self.table,
                "Key": {"pk": s(keys.conversation_pk(row.owner_uuid)), "sk": s(row.sk)},
                "UpdateExpression": "SET group_name = :name, members_count = :count, "
                "meta_version = :version",
                "ConditionExpression": condition,
                "ExpressionAttributeValues": values,
            }
        }

    def add_members(
        self,
        expected: MessageGroup,
        updated: MessageGroup,
        members: list[Member],
        conversations: list[Conversation],
        refreshed: Sequence[Conversation] = (),
    ) -> WriteOutcome:
        """One transaction: `META` to `updated` (guarded by `expected`'s size and version), a
        membership row and a conversation row per new member, each only if its key is free, and
        the `refreshed` rows (the other members', as read) to `updated`'s size. CREATED, or
        CONDITION_FAILED with nothing written (the group changed meanwhile, one of them is a
        member already, or a refreshed row moved). 1 + 2n + m actions for n newcomers to m
        members (n + m <= 40): at most 80, under TransactWriteItems' 100."""
        actions = [self._meta_update(expected, updated)]
        actions.extend(self._put_action(items.member_item(expected.uuid, m)) for m in members)
        actions.extend(self._put_action(items.conversation_item(c)) for c in conversations)
        actions.extend(self._refresh_action(row, updated) for row in refreshed)
        return self._transact(actions)

    def remove_member(
        self,
        expected: MessageGroup,
        updated: MessageGroup,
        user_uuid: str,
        conversations: list[Conversation],
        new_owner_uuid: str | None = None,
        refreshed: Sequence[Conversation] = (),
    ) -> WriteOutcome:
        """One transaction: delete the membership row and the member's conversation rows for the
        group (each only if it is still there: a row the stream processor moved meanwhile fails
        it), `META` to `updated` (guarded by `expected`), when the owner leaves the role `owner`
        on `new_owner_uuid`'s membership row, and the `refreshed` rows (the staying members', as
        read) to `updated`'s size. When nobody stays (`updated.members_count == 0`), `META` is
        deleted instead, under the same guard: the group is gone. CREATED, or CONDITION_FAILED
        with nothing written: the caller re-reads the rows and tries again. At most 1 + 2 + 1 +
        1 + 39 actions."""
        exists = "attribute_exists(pk)"
        group_pk = s(keys.group_pk(expected.uuid))
        actions: list[dict[str, Any]] = [
            {
                "Delete": {
                    "TableName": self.table,
                    "Key": {"pk": group_pk, "sk": s(keys.member_sk(user_uuid))},
                    "ConditionExpression": exists,
                }
            }
        ]
        for row in conversations:
            key = {"pk": s(keys.conversation_pk(row.owner_uuid)), "sk": s(row.sk)}
            actions.append(
                {"Delete": {"TableName": self.table, "Key": key, "ConditionExpression": exists}}
            )
        if updated.members_count == 0:
            actions.append({"Delete": self._meta_guard(expected)})  # the last one left
        else:
            actions.append(self._meta_update(expected, updated))
        if new_owner_uuid is not None:
            actions.append(
                {
                    "Update": {
                        "TableName": self.table,
                        "Key": {"pk": group_pk, "sk": s(keys.member_sk(new_owner_uuid))},
                        "UpdateExpression": "SET #role = :owner",
                        "ConditionExpression": exists,
                        "ExpressionAttributeNames": {"#role": "role"},
                        "ExpressionAttributeValues": {":owner": s("owner")},
                    }
                }
            )
        actions.extend(self._refresh_action(row, updated) for row in refreshed)
        return self._transact(actions)

    def rename_group(
        self, expected: MessageGroup, updated: MessageGroup, refreshed: Sequence[Conversation] = ()
    ) -> WriteOutcome:
        """One transaction: `META` to `updated` (its name), guarded by `expected`, and the
        `refreshed` rows (every member's, as read) to the new name: CREATED or CONDITION_FAILED
        (nothing written). At most 1 + 40 actions."""
        actions = [self._meta_update(expected, updated)]
        actions.extend(self._refresh_action(row, updated) for row in refreshed)
        return self._transact(actions)

    # --- E: conversation rows of a group ----------------------------------------------------

    def group_conversation_rows(self, group_uuid: str) -> list[Conversation]:
        """The group's conversation rows from the GSI: eventually consistent on AWS, so it may miss
        a row written a moment ago or show one that just moved."""
        return [
            items.conversation_from_item(item)
            for item in self._query_all(
                IndexName=keys.GROUP_INDEX,
                KeyConditionExpression="message_group_uuid = :g",
                ExpressionAttributeValues={":g": s(group_uuid)},
            )
        ]

    def replace_conversation_row(self, current: Conversation, new: Conversation) -> WriteOutcome:
        """Swap `current` for `new` (same owner and group, a newer message), forward only: CREATED
        when swapped; CONDITION_FAILED when `current` is gone or already shows a message at or
        after `new`'s. Delete and put commit in one transaction: the put happens only if the old row
        is still there, so a move never writes a row for a member removed meanwhile (named groups
        use it; direct groups use the cheaper two-write move above, docs/architecture.md). Also
        CONDITION_FAILED when the stored row's `meta_version` is no longer `current`'s (a rename
        or a change of members refreshed it since it was read)."""
        condition = (
            "attribute_exists(pk) AND "
            "(attribute_not_exists(last_message_sk) OR last_message_sk < :m) AND "
        )
        values: dict[str, Any] = {":m": s(new.shown_message_sk)}
        # the row still shows the group's name and size it was read with: a rename or a change of
        # members refreshing it meanwhile fails the swap, and the caller re-reads the row
        if current.meta_version:
            condition += "meta_version = :v"
            values[":v"] = {"N": str(current.meta_version)}
        else:
            condition += "attribute_not_exists(meta_version)"
        guard = {"ConditionExpression": condition, "ExpressionAttributeValues": values}
        item = items.conversation_item(new)
        if current.sk == new.sk:
            # same microsecond, newer message: the key stays, the content changes
            return self._transact([{"Put": {"TableName": self.table, "Item": item, **guard}}])
        old_key = {"pk": s(keys.conversation_pk(current.owner_uuid)), "sk": s(current.sk)}
        return self._transact(
            [
                {"Delete": {"TableName": self.table, "Key": old_key, **guard}},
                self._put_action(item),
            ]
        )

    def put_moved_conversation_row(self, new: Conversation) -> WriteOutcome:
        """The first write of a move done in two (no transaction): `new` only if its key is free.
        CREATED, or CONDITION_FAILED (the key holds a row: another processor's move to the same
        message, or one of the same microsecond). Until `delete_replaced_conversation_row` the
        owner has two rows for the group; reads show the newest only."""
        return self._put_new(items.conversation_item(new))

    def delete_replaced_conversation_row(
        self, current: Conversation, new: Conversation
    ) -> WriteOutcome:
        """The second write of a move done in two: delete `current` only if it is still there and
        shows a message older than `new`'s (so only a row with a newer one beside it goes).
        CREATED when deleted; CONDITION_FAILED when it is gone or shows that message or a newer
        one. Not guarded by `meta_version`: the two-write move is for rows that show no group
        metadata (direct groups)."""
        try:
            self._call(
                "delete_item",
                TableName=self.table,
                Key={"pk": s(keys.conversation_pk(current.owner_uuid)), "sk": s(current.sk)},
                ConditionExpression="attribute_exists(pk) AND "
                "(attribute_not_exists(last_message_sk) OR last_message_sk < :m)",
                ExpressionAttributeValues={":m": s(new.shown_message_sk)},
            )
        except ConditionFailed:
            return WriteOutcome.CONDITION_FAILED
        return WriteOutcome.CREATED

    def delete_conversation_row(self, row: Conversation) -> None:
        """Idempotent: deleting a row that is gone changes nothing."""
        self._call(
            "delete_item",
            TableName=self.table,
            Key={"pk": s(keys.conversation_pk(row.owner_uuid)), "sk": s(row.sk)},
        )

    # --- tool-kit -----------------------------------------------------------------------------

    def describe(self) -> dict[str, Any]:
        """The table's description (the health check's probe); TableMissing if there is none."""
        return dict(self._call("describe_table", TableName=self.table)["Table"])

    def scan(self) -> Iterator[dict[str, Any]]:
        """Every item of the table, page after page (plain attribute values)."""
        params: dict[str, Any] = {"TableName": self.table}
        while True:
            page = self._call("scan", **params)
            for item in page.get("Items", []):
                yield items.plain(item)
            last = page.get("LastEvaluatedKey")
            if not last:
                return
            params["ExclusiveStartKey"] = last
