"""Capacity as AWS charges it, counted on a client talking to DynamoDB Local."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from cruddur.aws import dynamodb_client
from cruddur.messaging.capacity import CapacityMeter


@pytest.fixture
def metered(base_settings):
    client = dynamodb_client(base_settings)
    meter = CapacityMeter().attach(client)
    return client, meter


def put(client, table, **attrs):
    client.put_item(TableName=table, Item={k: {"S": v} for k, v in attrs.items()})


def test_writes_count_as_writes_plus_one_per_index_they_land_in(metered, table_name):
    client, meter = metered
    put(client, table_name, pk="MSG#g", sk="1", message="hi")
    assert (meter.read_units, meter.write_units) == (0.0, 1.0)
    meter.reset()
    put(client, table_name, pk="GRP#u", sk="1", message_group_uuid="g", message="hi")
    assert (meter.read_units, meter.write_units) == (0.0, 2.0)


def test_queries_and_reads_count_as_reads(metered, table_name):
    client, meter = metered
    put(client, table_name, pk="MSG#g", sk="1", message="hi")
    meter.reset()
    client.query(
        TableName=table_name,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": "MSG#g"}},
    )
    client.get_item(
        TableName=table_name, Key={"pk": {"S": "MSG#g"}, "sk": {"S": "1"}}, ConsistentRead=True
    )
    assert meter.write_units == 0.0
    assert meter.read_units == 1.5  # 0.5 eventually consistent query + 1 consistent get


def test_transactions_are_priced_per_action_not_as_reported(metered, table_name):
    client, meter = metered
    client.transact_write_items(
        TransactItems=[
            {"Put": {"TableName": table_name, "Item": {"pk": {"S": f"MSG#{i}"}, "sk": {"S": "1"}}}}
            for i in range(3)
        ]
    )
    assert meter.write_units == 6.0  # DynamoDB Local reports 2, like a single put


def test_a_write_refused_by_its_condition_still_costs_a_unit(metered, table_name):
    client, meter = metered
    put(client, table_name, pk="MSG#g", sk="1")
    meter.reset()
    with pytest.raises(ClientError):
        client.put_item(
            TableName=table_name,
            Item={"pk": {"S": "MSG#g"}, "sk": {"S": "1"}},
            ConditionExpression="attribute_not_exists(pk)",
        )
    assert meter.write_units == 1.0
