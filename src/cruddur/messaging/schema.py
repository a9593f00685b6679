"""The table as the seed defines it (plus a stream and an on-demand option), and its lifecycle."""

from __future__ import annotations

from typing import Any

from cruddur.messaging.dynamodb_errors import translated
from cruddur.messaging.keys import GROUP_INDEX

PROVISIONED = {"ReadCapacityUnits": 5, "WriteCapacityUnits": 5}
STREAM_VIEW_TYPE = "NEW_IMAGE"


def table_definition(table_name: str, billing_mode: str = "PROVISIONED") -> dict[str, Any]:
    billing_mode = billing_mode.upper()
    if billing_mode not in ("PROVISIONED", "PAY_PER_REQUEST"):
        raise ValueError("billing mode must be PROVISIONED or PAY_PER_REQUEST")
    index: dict[str, Any] = {
        "IndexName": GROUP_INDEX,
        "KeySchema": [
            {"AttributeName": "message_group_uuid", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
        "Projection": {"ProjectionType": "ALL"},
    }
    definition: dict[str, Any] = {
        "TableName": table_name,
        "AttributeDefinitions": [
            {"AttributeName": "message_group_uuid", "AttributeType": "S"},
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        "KeySchema": [
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
        "BillingMode": billing_mode,
        "GlobalSecondaryIndexes": [index],
        "StreamSpecification": {"StreamEnabled": True, "StreamViewType": STREAM_VIEW_TYPE},
    }
    if billing_mode == "PROVISIONED":
        definition["ProvisionedThroughput"] = dict(PROVISIONED)
        index["ProvisionedThroughput"] = dict(PROVISIONED)
    return definition


def create_table(
    client: Any, table_name: str, billing_mode: str = "PROVISIONED", wait: bool = True
) -> dict[str, Any]:
    """Create the table; TableExists if it is already there."""
    definition = table_definition(table_name, billing_mode)
    with translated(client, table_name):
        response = client.create_table(**definition)
        if wait:
            client.get_waiter("table_exists").wait(
                TableName=table_name, WaiterConfig={"Delay": 1, "MaxAttempts": 120}
            )
    return dict(response["TableDescription"])


def list_tables(client: Any) -> list[str]:
    names: list[str] = []
    with translated(client, ""):
        for page in client.get_paginator("list_tables").paginate():
            names.extend(page.get("TableNames", []))
    return names


def drop_table(client: Any, table_name: str) -> None:
    """Delete the table and wait until it is gone; TableMissing if there is none."""
    with translated(client, table_name):
        client.delete_table(TableName=table_name)
        client.get_waiter("table_not_exists").wait(
            TableName=table_name, WaiterConfig={"Delay": 1, "MaxAttempts": 120}
        )


def describe_table(client: Any, table_name: str) -> dict[str, Any]:
    """The table's description; TableMissing if there is none."""
    with translated(client, table_name):
        return dict(client.describe_table(TableName=table_name)["Table"])


def stream_arn(client: Any, table_name: str) -> str | None:
    return describe_table(client, table_name).get("LatestStreamArn")
