"""The stream processor's role grants every call its code makes and nothing beyond.

The calls are recorded, not listed by hand: the Lambda handler runs batches against DynamoDB Local
through the client the composition root gives it (the cache on Redis included, as in production),
over every path the processor has (direct and named groups, an index that lags, a member with two
rows for one group), and a botocore hook writes down each call's IAM action, resource and partition
key. The role in deploy/template.yaml is then checked both ways: each call is allowed (action,
resource, `dynamodb:LeadingKeys` condition), and each grant is used: by a recorded call, with
exactly the key prefixes (from messaging/keys.py) the calls used, or by Lambda on the function's
behalf (below). The VPC network-interface actions are the one listed exception."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from cruddur import bootstrap
from cruddur.deployment.template import load_template, policy_statements
from cruddur.messaging import keys
from cruddur.streams import lambda_handler
from fixtures_redis import delete_keys_with_prefix, redis_client
from fixtures_streams import append, assert_rows_at, conversation_rows, gsi_lag, read_stream
from iam_calls import least_privilege_problems, record_calls, table_arn

ROLE = "StreamProcessorRole"
# Lambda itself calls these with the function's role (AWS Lambda developer guide: "Using AWS Lambda
# with Amazon DynamoDB" for the stream, on-failure destinations for the queue, "Lambda execution
# role" for the logs); our code never does.
PLATFORM_GRANTS = {
    ("dynamodb:DescribeStream", "<MessagesTable.StreamArn>"),
    ("dynamodb:GetRecords", "<MessagesTable.StreamArn>"),
    ("dynamodb:GetShardIterator", "<MessagesTable.StreamArn>"),
    ("dynamodb:ListStreams", "<MessagesTable.StreamArn>"),
    ("sqs:SendMessage", "<StreamFailureQueue.Arn>"),
    ("logs:CreateLogStream", "<StreamProcessorLogGroup.Arn>"),
    ("logs:PutLogEvents", "<StreamProcessorLogGroup.Arn>"),
}
# The one exception: a function in a VPC needs these on "*" (AWSLambdaVPCAccessExecutionRole).
VPC_NETWORK_INTERFACE_ACTIONS = {
    "ec2:CreateNetworkInterface",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DeleteNetworkInterface",
    "ec2:AssignPrivateIpAddresses",
    "ec2:UnassignPrivateIpAddresses",
}


def _listed(value: Any) -> list[str]:
    return value if isinstance(value, list) else [value]


def concrete(statements: list[dict[str, Any]], table: str) -> list[dict[str, Any]]:
    """The statements with the table's own ARNs where the template has its attributes."""

    def arn(value: str) -> str:
        return value.replace("<MessagesTable.Arn>", table_arn(table)).replace(
            "<MessagesTable.StreamArn>", f"{table_arn(table)}/stream/2026-11-28T00:00:00.000"
        )

    return [{**s, "Resource": [arn(r) for r in _listed(s["Resource"])]} for s in statements]


@pytest.fixture
def production_handler(monkeypatch, own_client, settings, redis_server_url):
    """The Lambda handler as it runs in production: the repository, the cache and the live
    publisher from the composition root (REDIS_URL set), on the recorded client."""
    with_redis = replace(settings, redis_url=redis_server_url)
    monkeypatch.setattr(
        lambda_handler,
        "_processor",
        bootstrap.stream_processor_repository(with_redis, own_client),
    )
    monkeypatch.setattr(
        lambda_handler, "_publisher", (bootstrap.stream_processor_publisher(with_redis),)
    )
    yield lambda_handler.handler
    with redis_client(redis_server_url) as client:
        delete_keys_with_prefix(client, f"cruddur:{settings.table_name}:")


def test_the_role_grants_exactly_the_calls_the_processor_makes(
    repo, settings, groups, alice, bob, carol, own_client, production_handler
):
    direct, first = groups.direct(alice, bob)
    named, _ = groups.named(alice, [bob, carol])
    # another tool's half-done move: alice shows the direct group twice
    stray = dict(conversation_rows(repo)[(alice.uuid, direct)][0])
    stray["sk"] = {"S": keys.conversation_sk("2000-01-01T00:00:00.000000+00:00", direct)}
    stray["last_message_sk"] = {"S": "2000-01-01T00:00:00.000000+00:00#0"}
    repo.client.put_item(TableName=repo.table, Item=stray)
    newest = {
        direct: append(repo, direct, bob, "to alice"),
        named: append(repo, named, carol, "to the group"),
    }
    records = read_stream(settings)

    with record_calls(own_client) as calls:
        # the index lags behind bob's rows: found through the base table (membership, his list)
        with gsi_lag(own_client, lambda item: item["pk"]["S"] == keys.conversation_pk(bob.uuid)):
            assert production_handler({"Records": records}) == {"batchItemFailures": []}
        assert_rows_at(repo, newest, groups.members)
        more = append(repo, named, bob, "again")
        assert production_handler({"Records": read_stream(settings)}) == {"batchItemFailures": []}
    assert_rows_at(repo, {**newest, named: more}, groups.members)
    assert first.sk < newest[direct].sk
    as_written = policy_statements(load_template(), ROLE)

    problems = least_privilege_problems(
        calls,
        concrete(as_written, settings.table_name),
        [_listed(s["Resource"]) for s in as_written],
        PLATFORM_GRANTS,
        VPC_NETWORK_INTERFACE_ACTIONS,
    )

    assert problems == []
    # the paths that need more than the index query and the moves were taken
    actions = {(c.action, c.prefix()) for c in calls}
    assert ("dynamodb:GetItem", keys.GROUP_PREFIX) in actions  # a named group's metadata
    assert ("dynamodb:Query", keys.GROUP_PREFIX) in actions  # its members, after the lag
    assert ("dynamodb:DeleteItem", keys.CONVERSATION_PREFIX) in actions  # the stray
    # and Lambda's own calls are granted as the platform needs them
    granted = {
        (a, r) for s in as_written for a in _listed(s["Action"]) for r in _listed(s["Resource"])
    }
    assert PLATFORM_GRANTS <= granted
