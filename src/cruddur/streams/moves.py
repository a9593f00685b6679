"""Moving conversation rows to a group's newest message: the stream processor's algorithm, built on
small repository methods (read a group's rows, read one member's rows, swap a row, delete a stray).

Guarantees, whatever the delivery: forward only (the row a member's list shows never goes back to an
older message), a member's list shows each group once (a direct group's move puts the new row before
it deletes the old one, so for a moment two rows exist; reads show the newest, the next pass deletes
the older), and idempotent and order-free (applying any set of a group's messages, repeated or in any
order, concurrently or not, leaves each member one row, at the newest of them).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from enum import StrEnum

from cruddur.messaging import keys, retries
from cruddur.messaging.models import Conversation, GroupKind, Message, MessageGroup, WriteOutcome
from cruddur.messaging.ports import MessageRepository


class MoveOutcome(StrEnum):
    MOVED = "moved"
    ALREADY_CURRENT = "already_current"


def moved_row(
    row: Conversation, message: Message, group: MessageGroup | None = None
) -> Conversation:
    """The row as it shows `message`: a group's row shows the last sender, a direct one keeps
    showing the other party. A named group's row also takes the group's name and size from its
    metadata (`group`, read consistently) when that is at least as recent as what the row shows
    (`meta_version`); the swap is guarded by the row's version, so a rename or a change of members
    refreshing the row meanwhile makes the move read it again rather than put an old name back."""
    moved = replace(
        row,
        sk=keys.conversation_sk(message.created_at, message.group_uuid),
        last_reply_at=message.created_at,
        message=message.text,
        last_message_sk=message.sk,
    )
    if row.kind_recorded and row.kind is GroupKind.GROUP:
        moved = replace(
            moved,
            user_uuid=message.user_uuid,
            handle=message.handle,
            display_name=message.display_name,
        )
        if (
            group is not None
            and group.kind is GroupKind.GROUP
            and group.meta_version >= row.meta_version
        ):
            moved = replace(
                moved,
                group_name=group.name,
                members_count=group.members_count,
                meta_version=group.meta_version,
            )
    return moved


def keep_newest(repo: MessageRepository, rows: list[Conversation]) -> Conversation | None:
    """The newest of a member's rows for one group (rows from a consistent read); older strays
    (seed-format leftovers, another tool's half-done move) are deleted so the group shows once.
    Deleting a stray is idempotent."""
    if not rows:
        return None
    ordered = sorted(rows, key=lambda r: r.shown_message_sk)
    for stray in ordered[:-1]:
        repo.delete_conversation_row(stray)
    return ordered[-1]


def moves_in_two_writes(row: Conversation) -> bool:
    """Whether a row moves with a put then a conditional delete (4 write units) rather than one
    transaction (6): rows of direct groups, ours and the seed's. A direct group never loses a
    member and its rows show no group metadata, so an early put can neither give a removed member
    a row back nor undo a rename; a named group's row keeps the transaction, whose put happens
    only if the old row is still there (docs/architecture.md, "Moving a row")."""
    return not row.kind_recorded or row.kind is GroupKind.DIRECT


def move_row(
    repo: MessageRepository,
    row: Conversation,
    message: Message,
    sleep: retries.Sleep = time.sleep,
    group: MessageGroup | None = None,
) -> MoveOutcome:
    """Move one member's row (as last read, maybe stale) to `message`, forward only: a row already
    at this message or a newer one stays. Two concurrent moves: the loser's condition fails, it
    re-reads the base table (consistent), keeps the newest of the rows and tries again.
    ContentionExhausted after the bounded retries; the newest row is never deleted then."""
    current: Conversation | None = row
    ours: Conversation | None = None  # a row this move put, whose old row was not deleted here
    for _ in retries.attempts("moving a conversation row", sleep):
        if current is None:
            return MoveOutcome.ALREADY_CURRENT  # the row is gone: nothing of ours to move
        if current.shown_message_sk >= message.sk:
            mine = ours is not None and (current.sk, current.shown_message_sk) == (
                ours.sk,
                ours.shown_message_sk,
            )
            return MoveOutcome.MOVED if mine else MoveOutcome.ALREADY_CURRENT
        new = moved_row(current, message, group)
        if moves_in_two_writes(current) and new.sk != current.sk:
            # put the new row, then delete the old one if it still shows an older message; a
            # crash between the two leaves an extra, older row: reads show the newest row only,
            # and the retried message finds two rows and deletes the older (`keep_newest`)
            if repo.put_moved_conversation_row(new) is WriteOutcome.CREATED:
                ours = new
                if repo.delete_replaced_conversation_row(current, new) is WriteOutcome.CREATED:
                    return MoveOutcome.MOVED
            # else the key holds a row already (another move to this message, or a tie), or the
            # old row moved on or went meanwhile: ours may be the stray now
        elif repo.replace_conversation_row(current, new) is WriteOutcome.CREATED:
            return MoveOutcome.MOVED
        # moved by another processor, refreshed by a rename, or gone with a removed member (then
        # nothing is read back: a named group's rows are only ever moved, never created, here)
        fresh = repo.member_conversation_rows(row.owner_uuid, message.group_uuid, row.sk)
        current = keep_newest(repo, fresh)
    raise AssertionError("unreachable")


def _rows_missed_by_index(
    repo: MessageRepository, message: Message, by_owner: dict[str, list[Conversation]]
) -> tuple[dict[str, list[Conversation]], MessageGroup | None]:
    """Members whose rows the GSI read did not show, read from the base table (consistent).

    A named group is checked against its metadata (`members_count`, then the membership rows when
    short). A direct group, ours or the seed's, needs no metadata read when both rows were seen:
    its two members are the rows' owners, the party each row shows and the sender; only a member
    not seen is read, from its owner's list. Costs nothing extra on the common path of a direct
    group (the GSI query is the only read).
    """
    group_uuid = message.group_uuid
    found: dict[str, list[Conversation]] = {}
    rows = [r for owner_rows in by_owner.values() for r in owner_rows]
    named = any(r.kind_recorded and r.kind is GroupKind.GROUP for r in rows)
    group: MessageGroup | None = None
    if named or not rows:
        group = repo.get_group(group_uuid)
    if group is not None and (group.kind is GroupKind.GROUP or not rows):
        if len(by_owner) >= group.members_count:
            return found, group
        bound = keys.conversation_sk(group.created_at, "")
        for member in repo.list_members(group_uuid):
            if member.user_uuid not in by_owner:
                member_rows = repo.member_conversation_rows(member.user_uuid, group_uuid, bound)
                if member_rows:
                    found[member.user_uuid] = member_rows
        return found, group
    # direct (or seed-format): follow who the rows name until nobody new turns up
    tried = set(by_owner)
    frontier = {message.user_uuid} | {r.user_uuid for r in rows}
    frontier -= tried | {""}
    since: str | None = None
    while frontier:
        user_uuid = frontier.pop()
        tried.add(user_uuid)
        if since is None:
            # every row of one of our groups was written at or after the group's creation
            meta = group if (named or not rows) else repo.get_group(group_uuid)
            since = keys.conversation_sk(meta.created_at, "") if meta else ""
        member_rows = repo.member_conversation_rows(user_uuid, group_uuid, since)
        if member_rows:
            found[user_uuid] = member_rows
            frontier |= {r.user_uuid for r in member_rows} - tried - {""}
    return found, group


# Told of each member's row that shows the message once it is applied (moved now, or already at
# exactly this message: a first contact's rows are written with it); live delivery publishes them.
RowShown = Callable[[Conversation], None]


def move_conversation_rows(
    repo: MessageRepository,
    message: Message,
    sleep: retries.Sleep = time.sleep,
    shown: RowShown | None = None,
) -> dict[str, MoveOutcome]:
    """Move every member's row of the message's group to it, forward only; what happened, per
    member uuid. `shown` hears of every row that shows the message afterwards.

    Members come from one GSI query; a member the (eventually consistent) index did not show is
    found through the base table, so an index lag never leaves a row behind; an owner showing two
    rows for the group is re-read consistently and keeps only the newest. Raises
    ContentionExhausted / StoreUnavailable / TableMissing; rows already moved stay moved, so the
    caller retries the whole message.
    """
    group_uuid = message.group_uuid
    by_owner: dict[str, list[Conversation]] = {}
    for row in repo.group_conversation_rows(group_uuid):
        by_owner.setdefault(row.owner_uuid, []).append(row)
    consistent, group = _rows_missed_by_index(repo, message, by_owner)
    outcomes: dict[str, MoveOutcome] = {}
    for owner, rows in [*by_owner.items(), *consistent.items()]:
        if len(rows) > 1:
            if owner not in consistent:
                oldest = min(r.sk for r in rows)
                rows = repo.member_conversation_rows(owner, group_uuid, oldest)
            current = keep_newest(repo, rows)
        else:
            current = rows[0]
        if current is None:
            continue
        outcomes[owner] = move_row(repo, current, message, sleep, group)
        if shown is not None:
            if outcomes[owner] is MoveOutcome.MOVED:
                shown(moved_row(current, message, group))
            elif current.shown_message_sk == message.sk:
                shown(current)
    return outcomes
