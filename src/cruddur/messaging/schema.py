"""The table as the seed defines it (plus a stream and an on-demand option), and its lifecycle."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError, EndpointConnectionError

from cruddur.messaging.errors import StoreUnavailable, TableExists, TableMissing
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


def describe_endpoint(client: Any) -> str:
    return str(client.meta.endpoint_url)


def unavailable(client: Any, exc: Exception) -> StoreUnavailable:
    endpoint = describe_endpoint(client)
    hint = (
        "start it with `cruddur ddb local start`"
        if "localhost" in endpoint or "127.0.0.1" in endpoint
        else "check the network and your AWS credentials"
    )
    return StoreUnavailable(f"DynamoDB is not answering at {endpoint}: {hint}")


def create_table(
    client: Any, table_name: str, billing_mode: str = "PROVISIONED", wait: bool = True
) -> dict[str, Any]:
    """Create the table; TableExists if it is already there."""
    try:
        response = client.create_table(**table_definition(table_name, billing_mode))
    except EndpointConnectionError as exc:
        raise unavailable(client, exc) from exc
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "ResourceInUseException":
            raise TableExists(f"table {table_name} already exists") from exc
        raise
    if wait:
        client.get_waiter("table_exists").wait(
            TableName=table_name, WaiterConfig={"Delay": 1, "MaxAttempts": 120}
        )
    return dict(response["TableDescription"])


def list_tables(client: Any) -> list[str]:
    try:
        names: list[str] = []
        for page in client.get_paginator("list_tables").paginate():
            names.extend(page.get("TableNames", []))
        return names
    except EndpointConnectionError as exc:
        raise unavailable(client, exc) from exc


def drop_table(client: Any, table_name: str) -> None:
    try:
        client.delete_table(TableName=table_name)
    except EndpointConnectionError as exc:
        raise unavailable(client, exc) from exc
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "ResourceNotFoundException":
            raise TableMissing(f"table {table_name} does not exist") from exc
        raise
    client.get_waiter("table_not_exists").wait(
        TableName=table_name, WaiterConfig={"Delay": 1, "MaxAttempts": 120}
    )


def stream_arn(client: Any, table_name: str) -> str | None:
    try:
        table = client.describe_table(TableName=table_name)["Table"]
    except EndpointConnectionError as exc:
        raise unavailable(client, exc) from exc
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "ResourceNotFoundException":
            raise TableMissing(
                f"table {table_name} does not exist: run `cruddur ddb schema-load`"
            ) from exc
        raise
    return table.get("LatestStreamArn")
