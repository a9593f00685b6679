"""Durable positions of the local worker in a table's stream, and its dead-letter file.

Both live under `settings.data_dir/streams/`, never in the table: a checkpoint written to the table
would itself feed the stream it records. Writes are atomic (temporary file, fsync, rename), so a
worker killed at any instant leaves the previous checkpoint or the new one, never a torn file.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any


class WorkerAlreadyRunning(RuntimeError):
    """Another worker holds this table's checkpoint lock."""


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name)


def _write_atomically(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


@dataclass
class ShardPosition:
    # the last sequence number fully handled (applied or dead-lettered); None = from TRIM_HORIZON
    sequence_number: str | None = None
    finished: bool = False


@dataclass
class CheckpointStore:
    """Per-shard positions of one table's stream, in `{directory}/{table}.checkpoints.json`.

    Positions belong to one stream ARN: a table dropped and created again has a new stream, and
    the worker starts that one from its TRIM_HORIZON.
    """

    directory: Path
    table_name: str
    stream_arn: str | None = None
    shards: dict[str, ShardPosition] = field(default_factory=dict)
    _lock_handle: IO[str] | None = field(default=None, repr=False)

    @property
    def path(self) -> Path:
        return self.directory / f"{_safe(self.table_name)}.checkpoints.json"

    @property
    def lock_path(self) -> Path:
        return self.directory / f"{_safe(self.table_name)}.lock"

    def acquire(self) -> None:
        """Take the table's worker lock (released when the process ends, however it ends).
        Raises WorkerAlreadyRunning when another worker holds it."""
        self.directory.mkdir(parents=True, exist_ok=True)
        handle = open(self.lock_path, "a+", encoding="utf-8")  # noqa: SIM115 - held for the run
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            handle.close()
            raise WorkerAlreadyRunning(
                f"another stream worker is running for table {self.table_name} ({self.lock_path})"
            ) from exc
        self._lock_handle = handle

    def release(self) -> None:
        if self._lock_handle is not None:
            fcntl.flock(self._lock_handle.fileno(), fcntl.LOCK_UN)
            self._lock_handle.close()
            self._lock_handle = None

    def load(self, stream_arn: str) -> None:
        """Read the positions saved for `stream_arn` (none when the file names another stream)."""
        self.stream_arn = stream_arn
        self.shards = {}
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return
        if data.get("stream_arn") != stream_arn:
            return
        for shard_id, raw in (data.get("shards") or {}).items():
            self.shards[shard_id] = ShardPosition(
                sequence_number=raw.get("sequence_number"), finished=bool(raw.get("finished"))
            )

    def position(self, shard_id: str) -> str | None:
        pos = self.shards.get(shard_id)
        return pos.sequence_number if pos else None

    def finished(self) -> set[str]:
        return {shard_id for shard_id, pos in self.shards.items() if pos.finished}

    def advance(self, shard_id: str, sequence_number: str) -> None:
        """Record that everything up to `sequence_number` in the shard is handled (durably)."""
        pos = self.shards.setdefault(shard_id, ShardPosition())
        pos.sequence_number = sequence_number
        self._save()

    def finish(self, shard_id: str) -> None:
        """Record that a closed shard was read to its end: its children may start."""
        self.shards.setdefault(shard_id, ShardPosition()).finished = True
        self._save()

    def forget_except(self, listed: set[str]) -> None:
        """Drop finished shards the stream no longer lists (trimmed after 24 hours)."""
        gone = [s for s, pos in self.shards.items() if pos.finished and s not in listed]
        for shard_id in gone:
            del self.shards[shard_id]
        if gone:
            self._save()

    def _save(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        data = {
            "stream_arn": self.stream_arn,
            "updated_at": datetime.now(UTC).isoformat(timespec="microseconds"),
            "shards": {
                shard_id: {"sequence_number": pos.sequence_number, "finished": pos.finished}
                for shard_id, pos in sorted(self.shards.items())
            },
        }
        _write_atomically(self.path, json.dumps(data, indent=2) + "\n")


@dataclass
class DeadLetterFile:
    """Records the worker gave up on, one JSON document per line, in
    `{directory}/{table}.dead-letters.jsonl`, shaped as a Lambda on-failure destination receives
    them (`DDBStreamBatchInfo`), with the records themselves and the errors added."""

    directory: Path
    table_name: str

    @property
    def path(self) -> Path:
        return self.directory / f"{_safe(self.table_name)}.dead-letters.jsonl"

    def append(
        self,
        stream_arn: str,
        shard_id: str,
        records: list[dict[str, Any]],
        errors: dict[str, str],
        attempts: int,
    ) -> None:
        """Append one entry and fsync it: once this returns, the checkpoint may move past them."""
        arrivals = [(r.get("dynamodb") or {}).get("ApproximateCreationDateTime") for r in records]
        entry = {
            "version": "1.0",
            "timestamp": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "requestContext": {
                "condition": "RetryAttemptsExhausted",
                "approximateInvokeCount": attempts,
                "functionArn": "local:cruddur-stream-worker",
            },
            "responseContext": {"statusCode": 200, "functionError": "PartialBatchFailure"},
            "DDBStreamBatchInfo": {
                "shardId": shard_id,
                "startSequenceNumber": _seq(records[0]) if records else None,
                "endSequenceNumber": _seq(records[-1]) if records else None,
                "approximateArrivalOfFirstRecord": arrivals[0] if arrivals else None,
                "approximateArrivalOfLastRecord": arrivals[-1] if arrivals else None,
                "batchSize": len(records),
                "streamArn": stream_arn,
            },
            "errors": errors,
            "records": records,
        }
        self.directory.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(entry, default=str, sort_keys=True) + "\n")
            handle.flush()
            os.fsync(handle.fileno())

    def entries(self) -> list[dict[str, Any]]:
        try:
            lines = self.path.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return []
        return [json.loads(line) for line in lines if line.strip()]


def _seq(record: dict[str, Any]) -> str | None:
    return (record.get("dynamodb") or {}).get("SequenceNumber")
