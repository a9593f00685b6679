"""Shard order on a recorded DescribeStream answer (DynamoDB Local never splits a shard)."""

from __future__ import annotations

from typing import Any

from cruddur.streams.shards import order_shards, ready_shards, shard_from_description

ARN = (
    "arn:aws:dynamodb:us-east-1:123456789012:table/cruddur-messages/stream/2024-05-01T10:00:00.000"
)


RECORDED_DESCRIBE_STREAM: dict[str, Any] = {
    "StreamDescription": {
        "StreamArn": ARN,
        "StreamLabel": "2024-05-01T10:00:00.000",
        "StreamStatus": "ENABLED",
        "StreamViewType": "NEW_IMAGE",
        "TableName": "cruddur-messages",
        "KeySchema": [
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
        "Shards": [
            {
                "ShardId": "shardId-00000001714561000000-cccccccc",
                "ParentShardId": "shardId-00000001714550000000-aaaaaaaa",
                "SequenceNumberRange": {"StartingSequenceNumber": "300000000000000000001"},
            },
            {
                "ShardId": "shardId-00000001714570000000-dddddddd",
                "ParentShardId": "shardId-00000001714560000000-bbbbbbbb",
                "SequenceNumberRange": {"StartingSequenceNumber": "400000000000000000001"},
            },
            {
                "ShardId": "shardId-00000001714560000000-bbbbbbbb",
                "ParentShardId": "shardId-00000001714550000000-aaaaaaaa",
                "SequenceNumberRange": {
                    "StartingSequenceNumber": "200000000000000000001",
                    "EndingSequenceNumber": "200000000000000000999",
                },
            },
            {
                "ShardId": "shardId-00000001714550000000-aaaaaaaa",
                "ParentShardId": "shardId-00000001714540000000-trimmed0",
                "SequenceNumberRange": {
                    "StartingSequenceNumber": "100000000000000000001",
                    "EndingSequenceNumber": "100000000000000000999",
                },
            },
        ],
    }
}


A, B, C, D = (
    "shardId-00000001714550000000-aaaaaaaa",
    "shardId-00000001714560000000-bbbbbbbb",
    "shardId-00000001714561000000-cccccccc",
    "shardId-00000001714570000000-dddddddd",
)


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
