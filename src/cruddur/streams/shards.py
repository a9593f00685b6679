"""Shards of a DynamoDB Stream and the order they are read in.

A shard closes (after about four hours, or when the table's partitions split) and its children
continue it: a group's records may sit in the parent and then in a child, so a child is read only
once its parent is read to the end, the way the Lambda service does it. DynamoDB Local never
splits on demand; tests feed recorded DescribeStream answers to these pure functions.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Shard:
    shard_id: str
    parent_shard_id: str | None
    starting_sequence_number: str
    ending_sequence_number: str | None

    @property
    def closed(self) -> bool:
        return self.ending_sequence_number is not None


def shard_from_description(shard: Mapping[str, Any]) -> Shard:
    numbers = shard.get("SequenceNumberRange") or {}
    return Shard(
        shard_id=str(shard["ShardId"]),
        parent_shard_id=shard.get("ParentShardId") or None,
        starting_sequence_number=str(numbers.get("StartingSequenceNumber", "0")),
        ending_sequence_number=numbers.get("EndingSequenceNumber") or None,
    )


def _position(number: str) -> int:
    # sequence numbers are decimal strings of varying width: compare them as numbers
    try:
        return int(number)
    except ValueError:
        return 0


def order_shards(shards: Iterable[Shard]) -> list[Shard]:
    """Every shard once, each parent before its children; otherwise by starting sequence number.
    A parent missing from the listing (trimmed away) does not hold its children back. A cycle
    (never seen from AWS) is broken rather than looped on."""
    by_id = {s.shard_id: s for s in shards}
    ordered: list[Shard] = []
    placed: set[str] = set()

    def place(shard: Shard, visiting: set[str]) -> None:
        if shard.shard_id in placed or shard.shard_id in visiting:
            return
        parent = by_id.get(shard.parent_shard_id or "")
        if parent is not None:
            place(parent, visiting | {shard.shard_id})
        placed.add(shard.shard_id)
        ordered.append(shard)

    for shard in sorted(
        by_id.values(), key=lambda s: (_position(s.starting_sequence_number), s.shard_id)
    ):
        place(shard, set())
    return ordered


def ready_shards(shards: Iterable[Shard], finished: set[str]) -> list[Shard]:
    """The shards to read now, in order: not finished, and whose parent is finished or no longer
    listed. A child waits while its parent still has records to give."""
    ordered = order_shards(shards)
    listed = {s.shard_id for s in ordered}
    return [
        s
        for s in ordered
        if s.shard_id not in finished
        and (
            s.parent_shard_id is None
            or s.parent_shard_id in finished
            or s.parent_shard_id not in listed
        )
    ]


def describe_shards(streams_client: Any, stream_arn: str) -> list[Shard]:
    """Every shard of the stream (DescribeStream, all pages)."""
    shards: list[Shard] = []
    params: dict[str, Any] = {"StreamArn": stream_arn}
    while True:
        description = streams_client.describe_stream(**params)["StreamDescription"]
        shards.extend(shard_from_description(s) for s in description.get("Shards", []))
        last = description.get("LastEvaluatedShardId")
        if not last:
            return shards
        params["ExclusiveStartShardId"] = last


def read_all_records(streams_client: Any, stream_arn: str) -> list[dict[str, Any]]:
    """Every record the stream holds now, shards parents-first, each from TRIM_HORIZON to where
    it has nothing more (a one-off read for tests and benchmarks; the worker reads incrementally)."""
    records: list[dict[str, Any]] = []
    for shard in order_shards(describe_shards(streams_client, stream_arn)):
        iterator = streams_client.get_shard_iterator(
            StreamArn=stream_arn, ShardId=shard.shard_id, ShardIteratorType="TRIM_HORIZON"
        ).get("ShardIterator")
        while iterator:
            answer = streams_client.get_records(ShardIterator=iterator, Limit=1000)
            if not answer["Records"]:
                break
            records.extend(answer["Records"])
            iterator = answer.get("NextShardIterator")
    return records
