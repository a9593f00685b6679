"""CloudFormation and S3 clients under botocore's Stubber, and the answers a stack's life gives:
each helper queues the calls `cruddur deploy` must make, with the arguments it must pass."""

from __future__ import annotations

import functools
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber

REGION = "us-east-1"
STACK = "cruddur"
STACK_ID = f"arn:aws:cloudformation:{REGION}:123456789012:stack/{STACK}/1f6c2a30"
CHANGE_SET_NAME = "cruddur-20261128-051500"
CHANGE_SET_ARN = f"arn:aws:cloudformation:{REGION}:123456789012:changeSet/{CHANGE_SET_NAME}/9d1"
NOW = datetime(2026, 11, 28, 5, 15, 0, tzinfo=UTC)


@functools.cache
def client(service: str) -> Any:
    """One per service for the whole run (making one costs about a second); each test stubs it
    afresh."""
    return boto3.session.Session().client(
        service, region_name=REGION, aws_access_key_id="test", aws_secret_access_key="test"
    )


def stack(status: str, parameters: dict[str, str] | None = None, **extra: Any) -> dict[str, Any]:
    return {
        "StackId": STACK_ID,
        "StackName": STACK,
        "CreationTime": NOW,
        "StackStatus": status,
        "Parameters": [
            {"ParameterKey": k, "ParameterValue": v} for k, v in (parameters or {}).items()
        ],
        **extra,
    }


class StubbedAws:
    def __init__(self) -> None:
        self.cloudformation = client("cloudformation")
        self.s3 = client("s3")
        self.cfn = Stubber(self.cloudformation)
        self.s3_stub = Stubber(self.s3)

    def __enter__(self) -> StubbedAws:
        self.cfn.activate()
        self.s3_stub.activate()
        return self

    def __exit__(self, *exc: object) -> None:
        self.cfn.deactivate()
        self.s3_stub.deactivate()

    def assert_all_called(self) -> None:
        self.cfn.assert_no_pending_responses()
        self.s3_stub.assert_no_pending_responses()

    # --- S3 --------------------------------------------------------------------------------------

    def artifact_missing(self, bucket: str, key: str = ANY) -> None:
        self.s3_stub.add_client_error(
            "head_object",
            service_error_code="404",
            http_status_code=404,
            expected_params={"Bucket": bucket, "Key": key},
        )
        self.s3_stub.add_response(
            "put_object",
            {"ETag": '"etag"'},
            {"Bucket": bucket, "Key": key, "Body": ANY, "ContentType": "application/zip"},
        )

    def artifact_present(self, bucket: str, key: str = ANY) -> None:
        self.s3_stub.add_response(
            "head_object", {"ContentLength": 10}, {"Bucket": bucket, "Key": key}
        )

    # --- CloudFormation --------------------------------------------------------------------------

    def no_stack(self) -> None:
        self.cfn.add_client_error(
            "describe_stacks",
            service_error_code="ValidationError",
            service_message=f"Stack with id {STACK} does not exist",
            http_status_code=400,
            expected_params={"StackName": STACK},
        )

    def stack_is(self, status: str, parameters: dict[str, str] | None = None, **extra: Any) -> None:
        self.cfn.add_response(
            "describe_stacks",
            {"Stacks": [stack(status, parameters, **extra)]},
            {"StackName": STACK},
        )

    def change_set_created(self, change_type: str, parameters: Any = ANY) -> None:
        self.cfn.add_response(
            "create_change_set",
            {"Id": CHANGE_SET_ARN, "StackId": STACK_ID},
            {
                "StackName": STACK,
                "ChangeSetName": CHANGE_SET_NAME,
                "ChangeSetType": change_type,
                "TemplateBody": ANY,
                "Parameters": parameters,
                "Capabilities": ["CAPABILITY_IAM"],
                "Tags": ANY,
            },
        )

    def change_set_is(
        self, status: str, reason: str = "", changes: list[Any] | None = None
    ) -> None:
        answer: dict[str, Any] = {
            "ChangeSetName": CHANGE_SET_NAME,
            "ChangeSetId": CHANGE_SET_ARN,
            "StackName": STACK,
            "Status": status,
            "Changes": changes or [],
        }
        if reason:
            answer["StatusReason"] = reason
        self.cfn.add_response("describe_change_set", answer, {"ChangeSetName": CHANGE_SET_ARN})

    def change_set_deleted(self) -> None:
        self.cfn.add_response("delete_change_set", {}, {"ChangeSetName": CHANGE_SET_ARN})

    def change_set_executed(self) -> None:
        self.cfn.add_response("execute_change_set", {}, {"ChangeSetName": CHANGE_SET_ARN})

    def stack_events(self, events: list[dict[str, Any]]) -> None:
        self.cfn.add_response(
            "describe_stack_events", {"StackEvents": events}, {"StackName": STACK}
        )

    @staticmethod
    def change(action: str, logical_id: str, resource_type: str, replacement: str = "") -> dict:
        detail: dict[str, Any] = {
            "Action": action,
            "LogicalResourceId": logical_id,
            "ResourceType": resource_type,
        }
        if replacement:
            detail["Replacement"] = replacement
        return {"Type": "Resource", "ResourceChange": detail}


@pytest.fixture
def aws():
    with StubbedAws() as stubbed:
        yield stubbed
