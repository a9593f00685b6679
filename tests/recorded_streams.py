"""A DescribeStream answer recorded from AWS after a shard split (DynamoDB Local never splits a
shard): shared by the unit tests of shard order and the worker's integration tests."""

from __future__ import annotations

from typing import Any

ARN = (
    "arn:aws:dynamodb:us-east-1:123456789012:table/cruddur-messages/stream/2024-05-01T10:00:00.000"
)

# DescribeStream as AWS answered it after a split: children listed before their parents on
# purpose, a grandchild, and a parent (trimmed-away) that is no longer listed.
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
