"""The change-set driver against botocore's Stubber: every call CloudFormation and S3 get, with its
arguments, for a first creation, an update, no change, a refused change set and a rollback."""

from __future__ import annotations

from datetime import timedelta

import pytest
from botocore.exceptions import EndpointConnectionError, NoCredentialsError
from botocore.stub import ANY

from cruddur.deployment.cloudformation import StackDeployer, artifact_key, deploy_error
from cruddur.deployment.errors import (
    ChangeSetFailed,
    CredentialsMissing,
    DeployError,
    DeployFailed,
    StackNotDeployable,
)

from .conftest import CHANGE_SET_NAME, NOW, STACK

TEMPLATE_PARAMETERS = {"TableName", "BillingMode", "ArtifactBucket", "StreamProcessorCodeKey"}


def deployer(aws) -> StackDeployer:
    return StackDeployer(aws.cloudformation, aws.s3, sleep=lambda _: None, now=lambda: NOW)


def test_first_run_creates_the_stack_and_waits_for_it(aws):
    aws.no_stack()
    aws.change_set_created(
        "CREATE",
        [
            {"ParameterKey": "ArtifactBucket", "ParameterValue": "artifacts"},
            {"ParameterKey": "BillingMode", "ParameterValue": "PAY_PER_REQUEST"},
        ],
    )
    aws.change_set_is("CREATE_PENDING")
    aws.change_set_is(
        "CREATE_COMPLETE",
        changes=[
            aws.change("Add", "MessagesTable", "AWS::DynamoDB::Table"),
            aws.change("Add", "StreamProcessorFunction", "AWS::Lambda::Function"),
        ],
    )
    aws.change_set_executed()
    aws.stack_is("CREATE_IN_PROGRESS")
    aws.stack_is(
        "CREATE_COMPLETE",
        Outputs=[{"OutputKey": "TableName", "OutputValue": "cruddur-messages"}],
    )
    driver = deployer(aws)

    change_set = driver.change_set(
        STACK,
        "{}",
        {"ArtifactBucket": "artifacts", "BillingMode": "PAY_PER_REQUEST"},
        TEMPLATE_PARAMETERS,
    )
    assert change_set is not None
    outputs = driver.execute(change_set)

    assert change_set.change_type == "CREATE"
    assert change_set.name == CHANGE_SET_NAME
    assert [c.logical_id for c in change_set.changes] == [
        "MessagesTable",
        "StreamProcessorFunction",
    ]
    assert (
        change_set.lines()[0] == f"change set {CHANGE_SET_NAME}: create stack {STACK}, 2 change(s)"
    )
    assert outputs == {"TableName": "cruddur-messages"}
    aws.assert_all_called()


def test_an_update_keeps_the_parameters_it_does_not_set(aws):
    aws.stack_is("UPDATE_COMPLETE", {"TableName": "cruddur-messages", "BillingMode": "PROVISIONED"})
    aws.change_set_created(
        "UPDATE",
        [
            {"ParameterKey": "StreamProcessorCodeKey", "ParameterValue": "cruddur/new.zip"},
            {"ParameterKey": "BillingMode", "UsePreviousValue": True},
            {"ParameterKey": "TableName", "UsePreviousValue": True},
        ],
    )
    aws.change_set_is(
        "CREATE_COMPLETE",
        changes=[aws.change("Modify", "StreamProcessorFunction", "AWS::Lambda::Function", "False")],
    )
    aws.change_set_executed()
    aws.stack_is("UPDATE_IN_PROGRESS")
    aws.stack_is("UPDATE_COMPLETE_CLEANUP_IN_PROGRESS")
    aws.stack_is("UPDATE_COMPLETE")
    driver = deployer(aws)

    change_set = driver.change_set(
        STACK, "{}", {"StreamProcessorCodeKey": "cruddur/new.zip"}, TEMPLATE_PARAMETERS
    )
    assert change_set is not None
    driver.execute(change_set)

    assert change_set.change_type == "UPDATE"
    assert change_set.changes[0].line() == (
        "Modify  StreamProcessorFunction AWS::Lambda::Function (replacement: False)"
    )
    aws.assert_all_called()


def test_no_change_deletes_the_empty_change_set_and_executes_nothing(aws):
    aws.stack_is("UPDATE_COMPLETE", {"TableName": "cruddur-messages"})
    aws.change_set_created("UPDATE")
    aws.change_set_is(
        "FAILED",
        reason="The submitted information didn't contain changes. Submit different information "
        "to create a change set.",
    )
    aws.change_set_deleted()

    assert deployer(aws).change_set(STACK, "{}", {}, TEMPLATE_PARAMETERS) is None
    aws.assert_all_called()  # and no execute_change_set was queued: none was made


def test_a_refused_change_set_is_an_error_with_its_reason_and_nothing_is_applied(aws):
    aws.stack_is("UPDATE_COMPLETE")
    aws.change_set_created("UPDATE")
    aws.change_set_is("CREATE_IN_PROGRESS")
    aws.change_set_is("FAILED", reason="Parameter 'VpcId' must be one of AllowedValues")
    aws.change_set_deleted()

    with pytest.raises(ChangeSetFailed, match="VpcId' must be one of AllowedValues"):
        deployer(aws).change_set(STACK, "{}", {}, TEMPLATE_PARAMETERS)
    aws.assert_all_called()


def test_a_rolled_back_update_names_the_resource_that_failed(aws):
    aws.stack_is("UPDATE_COMPLETE")
    aws.change_set_created("UPDATE")
    aws.change_set_is("CREATE_COMPLETE", changes=[aws.change("Add", "Redis", "X")])
    aws.change_set_executed()
    aws.stack_is("UPDATE_ROLLBACK_IN_PROGRESS")
    aws.stack_is("UPDATE_ROLLBACK_COMPLETE")
    later = NOW + timedelta(minutes=1)
    aws.stack_events(
        [
            {  # newest first, as CloudFormation answers
                "StackId": "s",
                "EventId": "3",
                "StackName": STACK,
                "Timestamp": later + timedelta(seconds=2),
                "LogicalResourceId": "StreamEventSourceMapping",
                "ResourceStatus": "CREATE_FAILED",
                "ResourceStatusReason": "Resource creation cancelled",
            },
            {
                "StackId": "s",
                "EventId": "2",
                "StackName": STACK,
                "Timestamp": later,
                "LogicalResourceId": "Redis",
                "ResourceStatus": "CREATE_FAILED",
                "ResourceStatusReason": "cache.x1.huge is not a valid node type",
            },
            {
                "StackId": "s",
                "EventId": "1",
                "StackName": STACK,
                "Timestamp": NOW - timedelta(days=1),
                "LogicalResourceId": "Old",
                "ResourceStatus": "UPDATE_FAILED",
                "ResourceStatusReason": "an old failure",
            },
        ]
    )
    driver = deployer(aws)
    change_set = driver.change_set(STACK, "{}", {}, TEMPLATE_PARAMETERS)
    assert change_set is not None

    with pytest.raises(DeployFailed) as failed:
        driver.execute(change_set)

    message = str(failed.value)
    assert message.startswith(f"stack {STACK} ended UPDATE_ROLLBACK_COMPLETE: Redis: cache.x1.huge")
    assert "an old failure" not in message
    aws.assert_all_called()


def test_a_stack_whose_creation_failed_must_be_deleted_first(aws):
    aws.stack_is("ROLLBACK_COMPLETE")

    with pytest.raises(StackNotDeployable, match="delete it first"):
        deployer(aws).change_set(STACK, "{}", {}, TEMPLATE_PARAMETERS)
    aws.assert_all_called()


def test_a_stack_being_changed_is_left_alone(aws):
    aws.stack_is("UPDATE_IN_PROGRESS")

    with pytest.raises(StackNotDeployable, match="being changed"):
        deployer(aws).change_set(STACK, "{}", {}, TEMPLATE_PARAMETERS)
    aws.assert_all_called()


def test_an_unexecuted_creation_is_created_again(aws):
    aws.stack_is("REVIEW_IN_PROGRESS")
    aws.change_set_created("CREATE")
    aws.change_set_is("CREATE_COMPLETE", changes=[aws.change("Add", "MessagesTable", "T")])

    change_set = deployer(aws).change_set(STACK, "{}", {}, TEMPLATE_PARAMETERS)

    assert change_set is not None and change_set.change_type == "CREATE"
    aws.assert_all_called()


def test_an_unknown_parameter_is_refused_before_any_call(aws):
    with pytest.raises(DeployError, match="unknown template parameter.*TabelName"):
        deployer(aws).change_set(STACK, "{}", {"TabelName": "x"}, TEMPLATE_PARAMETERS)
    aws.assert_all_called()


def test_artifacts_go_to_the_bucket_named_under_their_content_hash(aws, tmp_path):
    first = tmp_path / "cruddur-stream-processor.zip"
    first.write_bytes(b"one")
    key = artifact_key(first, "cruddur")
    aws.artifact_missing("team-artifacts", key)
    aws.artifact_present("team-artifacts", key)

    uploaded = deployer(aws).upload("team-artifacts", first)
    again = deployer(aws).upload("team-artifacts", first)

    assert uploaded.bucket == "team-artifacts" and uploaded.uploaded
    assert key.startswith("cruddur/cruddur-stream-processor-") and key.endswith(".zip")
    assert not again.uploaded  # same bytes, same key: not sent twice
    first.write_bytes(b"two")
    assert artifact_key(first, "cruddur") != key
    aws.assert_all_called()


def test_an_unreadable_bucket_is_one_line_naming_it(aws, tmp_path):
    artifact = tmp_path / "a.zip"
    artifact.write_bytes(b"x")
    aws.s3_stub.add_client_error(
        "head_object",
        service_error_code="403",
        http_status_code=403,
        expected_params={"Bucket": "nobodys-bucket", "Key": ANY},
    )

    with pytest.raises(DeployError, match="artifact bucket nobodys-bucket cannot be read"):
        deployer(aws).upload("nobodys-bucket", artifact)


def test_botocore_failures_become_one_line_errors():
    unreachable = deploy_error(
        EndpointConnectionError(endpoint_url="https://cloudformation.us-east-1.amazonaws.com"),
        "reading stack cruddur",
    )
    no_credentials = deploy_error(NoCredentialsError(), "reading stack cruddur")

    assert str(unreachable) == (
        "reading stack cruddur: Could not connect to the endpoint URL: "
        '"https://cloudformation.us-east-1.amazonaws.com"'
    )
    assert isinstance(no_credentials, CredentialsMissing)
