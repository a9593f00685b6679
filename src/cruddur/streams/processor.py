"""The stream processor's core: apply a batch of stream records to the conversation rows.

One function, `apply_records`, used by both runners (the Lambda handler and the local worker).
Promises, whatever the delivery:
  * only message INSERTs matter; everything else is skipped;
  * per group only the newest message of the batch is applied (coalescing), and rows move forward
    only, so duplicates, replays, any order and concurrent batches end in the same table;
  * a record that cannot be applied is reported (by sequence number) and does not block the
    others: the runner retries it (Lambda: ReportBatchItemFailures) and finally dead-letters it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from cruddur.messaging.errors import ContentionExhausted, StoreUnavailable
from cruddur.messaging.models import Message
from cruddur.messaging.ports import MessageRepository
from cruddur.streams.moves import MoveOutcome, RowShown, move_conversation_rows
from cruddur.streams.records import (
    MessageRecord,
    Record,
    UndecodableRecord,
    decode_message,
    newer,
    sequence_number,
)

log = logging.getLogger(__name__)

# Groups of one batch are independent: apply them side by side (each is a few round trips).
DEFAULT_PARALLEL_GROUPS = 8


@dataclass(frozen=True)
class RecordFailure:
    sequence_number: str
    reason: str
    # DynamoDB unreachable, or throttled/contended beyond the retries: nothing is wrong with the
    # record, so a runner keeps it for later instead of giving it up
    outage: bool = False


def is_outage(exc: Exception) -> bool:
    """A failure of DynamoDB rather than of the record: unreachable, or busy beyond the retries.
    A refusal no retry changes (StoreRefused, such as a validation error) is the record's."""
    return isinstance(exc, StoreUnavailable | ContentionExhausted)


@dataclass
class BatchOutcome:
    """What one `apply_records` call did. `failures` is in the batch's record order."""

    records: int = 0
    messages: int = 0
    groups: int = 0
    rows_moved: int = 0
    failures: list[RecordFailure] = field(default_factory=list)

    @property
    def failed_sequence_numbers(self) -> list[str]:
        return [f.sequence_number for f in self.failures]

    def batch_item_failures(self) -> dict[str, list[dict[str, str]]]:
        """The partial batch response of a Lambda event source mapping."""
        return {"batchItemFailures": [{"itemIdentifier": s} for s in self.failed_sequence_numbers]}


def newest_per_group(decoded: Iterable[MessageRecord]) -> dict[str, Message]:
    """The newest message of each group among `decoded` (order of the input does not matter)."""
    newest: dict[str, Message] = {}
    for item in decoded:
        message = item.message
        current = newest.get(message.group_uuid)
        if current is None or newer(message, current):
            newest[message.group_uuid] = message
    return newest


# Told of every record of a batch, whatever row it writes (a cache drops what they change).
RowsChanged = Callable[[Sequence[Record]], None]


def apply_records(
    repo: MessageRepository,
    records: Sequence[Record],
    parallel_groups: int = DEFAULT_PARALLEL_GROUPS,
    rows_changed: RowsChanged | None = None,
    row_shown: RowShown | None = None,
) -> BatchOutcome:
    """Move every member's conversation row to the newest message of its group in `records`.

    Idempotent and order-free (see the module docstring). Never raises for a record's sake: a
    record it cannot decode, or every record of a group whose move failed (throttled for good,
    DynamoDB unavailable, an unexpected error), comes back in `failures`. `rows_changed` hears of
    every record first, rows written by other tools included; `row_shown` of every member's row
    that shows its group's newest message once applied (live delivery publishes them).
    """
    if rows_changed is not None:
        rows_changed(records)
    outcome = BatchOutcome(records=len(records))
    by_group: dict[str, list[MessageRecord]] = {}
    order = {sequence_number(r): i for i, r in enumerate(records)}
    failures: list[RecordFailure] = []
    for record in records:
        try:
            decoded = decode_message(record)
        except UndecodableRecord as exc:
            failures.append(RecordFailure(sequence_number(record), str(exc)))
            continue
        if decoded is not None:
            by_group.setdefault(decoded.message.group_uuid, []).append(decoded)
    outcome.messages = sum(len(v) for v in by_group.values())
    newest = newest_per_group(d for group in by_group.values() for d in group)
    outcome.groups = len(newest)

    def move(message: Message) -> tuple[str, dict[str, MoveOutcome] | Exception]:
        try:
            return message.group_uuid, move_conversation_rows(repo, message, shown=row_shown)
        except Exception as exc:  # noqa: BLE001 - one group's failure must not stop the batch
            return message.group_uuid, exc

    if len(newest) > 1 and parallel_groups > 1:
        with ThreadPoolExecutor(max_workers=min(parallel_groups, len(newest))) as pool:
            results = list(pool.map(move, newest.values()))
    else:
        results = [move(m) for m in newest.values()]

    for group_uuid, result in results:
        if isinstance(result, Exception):
            log.warning("group %s: could not move conversation rows: %s", group_uuid, result)
            reason = f"{type(result).__name__}: {result}"
            outage = is_outage(result)
            failures.extend(
                RecordFailure(d.sequence_number, reason, outage) for d in by_group[group_uuid]
            )
        else:
            outcome.rows_moved += sum(1 for o in result.values() if o is MoveOutcome.MOVED)
    failures.sort(key=lambda f: order.get(f.sequence_number, len(order)))
    outcome.failures = failures
    return outcome
