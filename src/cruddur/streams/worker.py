"""The local runner of the stream processor: polls a table's DynamoDB Stream the way the Lambda
service would, and hands each batch to `apply_records`.

Promises:
  * every shard is read, a child only after its parent was read to the end; shards that appear
    later are picked up (DescribeStream again every `shard_refresh_seconds` and when one closes);
  * without a checkpoint a shard is read from TRIM_HORIZON; with one, right after it, so a
    restart skips nothing (records after the last checkpoint are applied again: harmless);
  * a checkpoint moves past a batch only when every record of it is applied or dead-lettered;
  * a failing record is retried `max_retries` times, then written to the dead-letter file and
    passed over, so one poison record never stalls a shard; a record that failed only because
    DynamoDB was unreachable or throttling is not poison: its batch is kept (no checkpoint, no
    dead letter) and tried again after the outage pause of `run`, until DynamoDB answers;
  * `stop` (SIGTERM in the CLI) ends the run between batches, checkpoints saved.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from cruddur.messaging.errors import MessagingError
from cruddur.messaging.ports import MessageRepository
from cruddur.streams.checkpoints import CheckpointStore, DeadLetterFile
from cruddur.streams.moves import RowShown
from cruddur.streams.processor import DEFAULT_PARALLEL_GROUPS, RowsChanged, apply_records
from cruddur.streams.records import sequence_number
from cruddur.streams.shards import Shard, describe_shards, ready_shards

log = logging.getLogger(__name__)

MAX_OUTAGE_PAUSE_SECONDS = 5.0


class StreamNotEnabled(MessagingError):
    """The table has no stream (it was not created by schema-load)."""

    def __init__(self, table: str) -> None:
        super().__init__(f"table {table} has no stream")
        self.table = table


class BatchDeferred(MessagingError):
    """Records of a batch still failed for DynamoDB's sake (unreachable, throttling) after the
    retries: the checkpoint stays before them and the batch is read again."""


@dataclass(frozen=True)
class WorkerConfig:
    # Polls of an idle stream (GetRecords costs no capacity units): a lone message waits at most
    # this long before it is applied, so freshness p99 stays near 0.1 s plus one batch's work.
    poll_interval_seconds: float = 0.1
    # After a poll that found records, the next one waits this long: what arrives meanwhile is
    # applied together (one index query and one move per member and group for the lot). Shorter
    # is fresher during a burst but pays those moves more often; 0.2 s keeps a burst of 100 into
    # a 1:1 group under 1.33 units a message (docs/performance.md: the trade-off).
    batch_window_seconds: float = 0.2
    # Lambda's default batch size for a DynamoDB stream event source is 100.
    batch_size: int = 100
    max_retries: int = 3
    retry_backoff_seconds: float = 0.2
    shard_refresh_seconds: float = 10.0
    parallel_groups: int = DEFAULT_PARALLEL_GROUPS


class StreamWorker:
    """Reads one table's stream; `run` until `stop` is set, or `poll_once` for one pass."""

    def __init__(
        self,
        repo: MessageRepository,
        streams_client: Any,
        stream_arn: str,
        checkpoints: CheckpointStore,
        dead_letters: DeadLetterFile,
        config: WorkerConfig = WorkerConfig(),
        stop: threading.Event | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        rows_changed: RowsChanged | None = None,
        row_shown: RowShown | None = None,
    ) -> None:
        self.repo = repo
        self.rows_changed = rows_changed
        self.row_shown = row_shown
        self.streams = streams_client
        self.stream_arn = stream_arn
        self.checkpoints = checkpoints
        self.dead_letters = dead_letters
        self.config = config
        self.stop = stop or threading.Event()
        self._monotonic = monotonic
        self._iterators: dict[str, str] = {}
        self._shards: list[Shard] = []
        self._refresh_due = 0.0
        self.records_seen = 0
        self.batches = 0
        checkpoints.load(stream_arn)

    # --- shards ---------------------------------------------------------------------------

    def _refresh_shards(self) -> None:
        self._shards = describe_shards(self.streams, self.stream_arn)
        self.checkpoints.forget_except({s.shard_id for s in self._shards})
        self._refresh_due = self._monotonic() + self.config.shard_refresh_seconds

    def _iterator(self, shard: Shard) -> str | None:
        iterator = self._iterators.get(shard.shard_id)
        if iterator:
            return iterator
        position = self.checkpoints.position(shard.shard_id)
        params: dict[str, Any] = {"StreamArn": self.stream_arn, "ShardId": shard.shard_id}
        if position:
            params.update(ShardIteratorType="AFTER_SEQUENCE_NUMBER", SequenceNumber=position)
        else:
            params.update(ShardIteratorType="TRIM_HORIZON")
        try:
            iterator = self.streams.get_shard_iterator(**params).get("ShardIterator")
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code")
            if code == "TrimmedDataAccessException" and position:
                # the checkpoint is older than the stream's 24 hours: the oldest record left
                log.warning(
                    "shard %s: checkpoint trimmed away, reading from TRIM_HORIZON", shard.shard_id
                )
                params = {
                    "StreamArn": self.stream_arn,
                    "ShardId": shard.shard_id,
                    "ShardIteratorType": "TRIM_HORIZON",
                }
                iterator = self.streams.get_shard_iterator(**params).get("ShardIterator")
            elif code == "ResourceNotFoundException":
                self.checkpoints.finish(shard.shard_id)  # trimmed shard: nothing left to read
                return None
            else:
                raise
        if iterator:
            self._iterators[shard.shard_id] = iterator
        return iterator

    # --- one pass -------------------------------------------------------------------------

    def poll_once(self) -> int:
        """Read each ready shard once and apply what it gave; returns the number of records.
        A shard that returned a full batch is read again on the next pass without waiting."""
        if self._monotonic() >= self._refresh_due or not self._shards:
            self._refresh_shards()
        total = 0
        for shard in ready_shards(self._shards, self.checkpoints.finished()):
            if self.stop.is_set():
                break
            total += self._poll_shard(shard)
        return total

    def _poll_shard(self, shard: Shard) -> int:
        iterator = self._iterator(shard)
        if iterator is None:
            return 0
        try:
            answer = self.streams.get_records(ShardIterator=iterator, Limit=self.config.batch_size)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in (
                "ExpiredIteratorException",
                "TrimmedDataAccessException",
            ):
                self._iterators.pop(shard.shard_id, None)  # get a new one from the checkpoint
                return 0
            raise
        records = answer.get("Records", [])
        if records:
            if not self._handle_batch(shard, records):
                self._iterators.pop(
                    shard.shard_id, None
                )  # stopped mid-batch: replay from checkpoint
                return len(records)
        next_iterator = answer.get("NextShardIterator")
        if next_iterator:
            self._iterators[shard.shard_id] = next_iterator
        else:
            # a closed shard read to its end: its children may start now
            self._iterators.pop(shard.shard_id, None)
            self.checkpoints.finish(shard.shard_id)
            self._refresh_due = 0.0
        return len(records)

    def _handle_batch(self, shard: Shard, records: list[dict[str, Any]]) -> bool:
        """Apply, retry the failures, dead-letter what is left, then checkpoint. False when a
        stop came during the retries (the batch is left for the next run: replays are harmless).
        Raises BatchDeferred, checkpoint unmoved, when records still fail for DynamoDB's sake."""
        started = self._monotonic()
        pending = records
        errors: dict[str, str] = {}
        outages: set[str] = set()
        attempts = 0
        moved = 0
        for attempt in range(self.config.max_retries + 1):
            if attempt:
                delay = self.config.retry_backoff_seconds * (2 ** (attempt - 1))
                if self.stop.wait(delay):
                    return False
            attempts += 1
            outcome = apply_records(
                self.repo,
                pending,
                self.config.parallel_groups,
                self.rows_changed,
                self.row_shown,
            )
            moved += outcome.rows_moved
            errors = {f.sequence_number: f.reason for f in outcome.failures}
            outages = {f.sequence_number for f in outcome.failures if f.outage}
            if not errors:
                pending = []
                break
            pending = [r for r in pending if sequence_number(r) in errors]
        if outages:
            raise BatchDeferred(
                f"shard {shard.shard_id}: {len(outages)} record(s) kept for DynamoDB's sake "
                f"after {attempts} attempts ({errors[min(outages)]})"
            )
        if pending:
            log.error(
                "shard %s: %d record(s) failed %d times, dead-lettered to %s",
                shard.shard_id,
                len(pending),
                attempts,
                self.dead_letters.path,
            )
            self.dead_letters.append(self.stream_arn, shard.shard_id, pending, errors, attempts)
        self.checkpoints.advance(shard.shard_id, sequence_number(records[-1]))
        self.records_seen += len(records)
        self.batches += 1
        log.debug(
            "batch shard=%s records=%d moved=%d dead_lettered=%d attempts=%d ms=%.1f",
            shard.shard_id,
            len(records),
            moved,
            len(pending),
            attempts,
            (self._monotonic() - started) * 1000,
        )
        return True

    # --- the loop -------------------------------------------------------------------------

    def run(self) -> None:
        """Poll until `stop` is set. After a pass that read records the next one comes after
        `batch_window_seconds` (at once when a shard had a full batch waiting); after an empty
        pass, after `poll_interval_seconds`. A service outlives a DynamoDB blip: a failed pass is logged and
        tried again after a growing pause (at most MAX_OUTAGE_PAUSE_SECONDS), from the checkpoints."""
        outages = 0
        while not self.stop.is_set():
            try:
                seen = self.poll_once()
            except (BotoCoreError, ClientError, MessagingError) as exc:
                outages += 1
                pause = min(
                    MAX_OUTAGE_PAUSE_SECONDS, self.config.poll_interval_seconds * 2**outages
                )
                log.warning("stream pass failed (%s); trying again in %.1fs", exc, pause)
                self._iterators.clear()
                self.stop.wait(pause)
                continue
            outages = 0
            if seen == 0:
                self.stop.wait(self.config.poll_interval_seconds)
            elif seen < self.config.batch_size and self.config.batch_window_seconds > 0:
                self.stop.wait(self.config.batch_window_seconds)
