"""One definition of the table: what deploy/template.yaml declares, created on DynamoDB Local, is
described exactly as what `cruddur ddb schema-load` creates (keys, attributes, index, stream view,
TTL, billing mode and capacity), for both billing modes. The settings only production gets (point-in-
time recovery, deletion protection, encryption with a named key) are listed apart and are the only
difference."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from cruddur.deployment.template import (
    PRODUCTION_ONLY_TABLE_SETTINGS,
    load_template,
    template_table,
)
from cruddur.messaging import schema
from cruddur.messaging.errors import TableExists


def described(ddb, name: str) -> dict[str, Any]:
    """What a reader of the table can tell about its definition, names aside."""
    table = ddb.describe_table(TableName=name)["Table"]
    ttl = ddb.describe_time_to_live(TableName=name)["TimeToLiveDescription"]

    def throughput(holder: dict[str, Any]) -> tuple[int, int] | None:
        found = holder.get("ProvisionedThroughput") or {}
        units = (found.get("ReadCapacityUnits", 0), found.get("WriteCapacityUnits", 0))
        return None if units == (0, 0) else units

    billing = table.get("BillingModeSummary", {}).get("BillingMode", "PROVISIONED")
    return {
        "KeySchema": table["KeySchema"],
        "AttributeDefinitions": sorted(
            table["AttributeDefinitions"], key=lambda a: a["AttributeName"]
        ),
        "BillingMode": billing,
        "Throughput": throughput(table),
        "Indexes": sorted(
            (
                index["IndexName"],
                tuple((k["AttributeName"], k["KeyType"]) for k in index["KeySchema"]),
                index["Projection"]["ProjectionType"],
                throughput(index),
            )
            for index in table.get("GlobalSecondaryIndexes", [])
        ),
        "LocalIndexes": table.get("LocalSecondaryIndexes", []),
        "Stream": table.get("StreamSpecification"),
        "TimeToLive": (ttl.get("TimeToLiveStatus"), ttl.get("AttributeName")),
    }


@pytest.fixture
def tables(ddb):
    made: list[str] = []

    def name() -> str:
        made.append(f"cruddur-drift-{uuid.uuid4().hex[:10]}")
        return made[-1]

    yield name
    for table in made:
        try:
            ddb.delete_table(TableName=table)
        except ddb.exceptions.ResourceNotFoundException:
            pass  # the test failed before creating it


@pytest.mark.parametrize("billing_mode", ["PROVISIONED", "PAY_PER_REQUEST"])
def test_the_template_table_is_the_table_schema_load_creates(ddb, tables, billing_mode):
    loaded, declared = tables(), tables()
    # what `cruddur ddb schema-load [--on-demand]` runs
    try:
        schema.create_table(ddb, loaded, billing_mode)
    except TableExists:
        # a fresh uuid name: only our own first attempt, timed out on a busy machine and retried
        # by botocore, can have made it
        ddb.get_waiter("table_exists").wait(TableName=loaded, WaiterConfig={"Delay": 1})
    table = template_table(load_template(), {"BillingMode": billing_mode, "TableName": declared})
    assert table.create_request["TableName"] == declared
    ddb.create_table(**table.create_request)
    if table.ttl_attribute:
        ddb.update_time_to_live(
            TableName=declared,
            TimeToLiveSpecification={"Enabled": True, "AttributeName": table.ttl_attribute},
        )

    from_template, from_schema_load = described(ddb, declared), described(ddb, loaded)

    assert from_template == from_schema_load
    assert from_schema_load["BillingMode"] == billing_mode
    assert from_schema_load["Stream"] == {"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"}


def test_production_only_settings_are_the_only_ones_schema_load_does_not_make():
    table = template_table(load_template())
    definition = schema.table_definition("t")

    assert set(table.production_only) == set(PRODUCTION_ONLY_TABLE_SETTINGS)
    assert not set(PRODUCTION_ONLY_TABLE_SETTINGS) & set(definition)
