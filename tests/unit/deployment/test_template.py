"""deploy/template.yaml against the code it deploys: handlers, runtime, the event source mapping's
settings, the table's production-only settings, and the size CloudFormation accepts inline."""

from __future__ import annotations

import json

import pytest
from botocore.stub import Stubber

from cruddur.bootstrap import lambda_connection_url
from cruddur.config import Settings
from cruddur.deployment.errors import PackagingFailed
from cruddur.deployment.packaging import (
    LAMBDA_PLATFORM,
    LAMBDA_PYTHON,
    POST_CONFIRMATION_HANDLER,
    STREAM_PROCESSOR_HANDLER,
    pinned_requirements,
)
from cruddur.deployment.template import (
    TEMPLATE_BODY_LIMIT,
    load_template,
    resource_properties,
    template_path,
    template_table,
)
from cruddur.messaging import schema
from cruddur.users.errors import UsersNotConfigured

from .conftest import client


@pytest.fixture(scope="module")
def template():
    return load_template()


def test_the_functions_run_the_handlers_and_runtime_the_zips_are_built_for(template):
    stream = resource_properties(template, "StreamProcessorFunction")
    trigger = resource_properties(template, "PostConfirmationFunction")

    assert stream["Handler"] == STREAM_PROCESSOR_HANDLER
    assert trigger["Handler"] == POST_CONFIRMATION_HANDLER
    for function in (stream, trigger):
        assert function["Runtime"] == f"python{LAMBDA_PYTHON}"
        assert function["Architectures"] == ["x86_64"]
        assert LAMBDA_PLATFORM.endswith("_x86_64")  # the wheels' platform is the functions' too
        assert function["VpcConfig"]["SubnetIds"]  # inside the VPC: Redis, PostgreSQL
    variables = stream["Environment"]["Variables"]
    assert variables["DDB_MESSAGE_TABLE"] == "<MessagesTable>"
    assert variables["REDIS_URL"].startswith("rediss://<Redis.PrimaryEndPoint.Address>:")
    trigger_variables = trigger["Environment"]["Variables"]
    assert "password" not in trigger_variables["CONNECTION_URL"].lower()
    assert ":" not in trigger_variables["CONNECTION_URL"].split("//", 1)[1].split("@", 1)[0]
    assert trigger_variables["DATABASE_SECRET_ARN"] == "<DatabaseSecretArn>"  # the parameter


def test_the_event_source_mapping_reports_partial_failures_and_keeps_what_it_gives_up(template):
    mapping = resource_properties(
        template, "StreamEventSourceMapping", {"DatabaseSecretArn": "arn:aws:secretsmanager:x"}
    )

    assert mapping["EventSourceArn"] == "<MessagesTable.StreamArn>"
    assert mapping["StartingPosition"] == "TRIM_HORIZON"
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["BisectBatchOnFunctionError"] is True
    assert mapping["BatchSize"] == 100
    assert mapping["MaximumBatchingWindowInSeconds"] == 0
    assert mapping["MaximumRetryAttempts"] == 5
    assert mapping["MaximumRecordAgeInSeconds"] == -1
    assert mapping["DestinationConfig"]["OnFailure"]["Destination"] == "<StreamFailureQueue.Arn>"


def test_alarms_watch_the_iterator_age_and_the_failure_queue(template):
    age = resource_properties(template, "IteratorAgeAlarm")
    queue = resource_properties(template, "FailureQueueAlarm")

    assert (age["Namespace"], age["MetricName"]) == ("AWS/Lambda", "IteratorAge")
    assert age["Dimensions"] == [{"Name": "FunctionName", "Value": "<StreamProcessorFunction>"}]
    assert (queue["MetricName"], queue["Threshold"]) == ("ApproximateNumberOfMessagesVisible", 0)
    assert "AlarmActions" not in age  # no topic given: no action (AWS::NoValue)
    with_topic = resource_properties(
        template, "IteratorAgeAlarm", {"AlarmTopicArn": "arn:aws:sns:us-east-1:1:ops"}
    )
    assert with_topic["AlarmActions"] == ["arn:aws:sns:us-east-1:1:ops"]


def test_production_only_settings_are_on_by_default_and_listed_apart(template):
    table = template_table(template)

    assert table.production_only == {
        "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
        "DeletionProtectionEnabled": True,
        "SSESpecification": {"SSEEnabled": True},
    }
    assert table.create_request["TableName"] == "cruddur-messages"
    assert table.create_request["BillingMode"] == "PROVISIONED"
    off = template_table(template, {"PointInTimeRecovery": "false", "DeletionProtection": "false"})
    assert off.production_only["DeletionProtectionEnabled"] is False


def test_the_table_takes_on_demand_billing_as_schema_load_does(template):
    table = template_table(template, {"BillingMode": "PAY_PER_REQUEST", "TableName": "t"})

    assert table.create_request == schema.table_definition("t", "PAY_PER_REQUEST")


def test_a_distribution_that_is_not_installed_cannot_be_pinned():
    with pytest.raises(PackagingFailed, match="no-such-distribution is not installed"):
        pinned_requirements(["no-such-distribution"])


def test_the_template_fits_in_a_create_change_set_call():
    assert len(template_path().read_bytes()) <= TEMPLATE_BODY_LIMIT


SECRET_ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:cruddur-db-AbCdEf"


@pytest.mark.parametrize(
    "secret",
    [json.dumps({"username": "cruddurroot", "password": "p@ss:w/rd word"}), "p@ss:w/rd word"],
    ids=["rds-json", "plain"],
)
def test_the_trigger_reads_its_database_password_from_the_secret(secret):
    secrets = client("secretsmanager")
    settings = Settings(
        connection_url="postgresql://cruddurroot@db.internal:5432/cruddur?sslmode=require",
        database_secret_arn=SECRET_ARN,
    )
    with Stubber(secrets) as stub:
        stub.add_response(
            "get_secret_value",
            {"ARN": SECRET_ARN, "SecretString": secret},
            {"SecretId": SECRET_ARN},
        )
        conninfo = lambda_connection_url(settings, secrets)
        stub.assert_no_pending_responses()

    assert "password='p@ss:w/rd word'" in conninfo
    assert "host=db.internal" in conninfo and "sslmode=require" in conninfo


def test_without_a_secret_the_url_is_used_as_it_is_and_without_one_it_says_so():
    url = "postgresql://u:pw@localhost/cruddur"

    assert lambda_connection_url(Settings(connection_url=url)) == url
    with pytest.raises(UsersNotConfigured, match="CONNECTION_URL is not set"):
        lambda_connection_url(Settings(database_secret_arn=SECRET_ARN))
