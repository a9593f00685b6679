"""Shard order on a recorded DescribeStream answer (DynamoDB Local never splits a shard)."""

from __future__ import annotations

from cruddur.streams.shards import order_shards, ready_shards, shard_from_description
from recorded_streams import RECORDED_DESCRIBE_STREAM, A, B, C, D


def recorded_shards() -> list:
    return [
        shard_from_description(s) for s in RECORDED_DESCRIBE_STREAM["StreamDescription"]["Shards"]
    ]


def test_parents_come_before_their_children():
    order = [s.shard_id for s in order_shards(recorded_shards())]
    assert order.index(A) < order.index(B) < order.index(D)
    assert order.index(A) < order.index(C)
    assert sorted(order) == sorted([A, B, C, D])


def test_a_child_waits_until_its_parent_is_read_to_the_end():
    shards = recorded_shards()
    # the trimmed grandparent is not listed: A does not wait for it
    assert [s.shard_id for s in ready_shards(shards, set())] == [A]
    assert [s.shard_id for s in ready_shards(shards, {A})] == [B, C]
    assert [s.shard_id for s in ready_shards(shards, {A, B})] == [C, D]


def test_a_cycle_does_not_loop():
    shards = [
        shard_from_description({"ShardId": "x", "ParentShardId": "y", "SequenceNumberRange": {}}),
        shard_from_description({"ShardId": "y", "ParentShardId": "x", "SequenceNumberRange": {}}),
    ]
    assert {s.shard_id for s in order_shards(shards)} == {"x", "y"}
