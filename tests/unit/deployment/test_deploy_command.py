"""`cruddur deploy` as a command: packaging, the artifact bucket, the printed change set, --dry-run,
and the one line it prints without credentials. CloudFormation and S3 are botocore's Stubber."""

from __future__ import annotations

import functools
import zipfile

import pytest
from click.testing import CliRunner

from cruddur.cli import cli
from cruddur.cli import deploy as deploy_command
from cruddur.deployment.cloudformation import StackDeployer
from cruddur.deployment.packaging import (
    POST_CONFIRMATION_HANDLER,
    WHEELS_COMPLETE,
    pinned_requirements,
    wheel_dir,
)

from .conftest import CHANGE_SET_NAME, NOW

# None: unset for the command (CliRunner); no file, no instance metadata (sockets are off anyway)
NO_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": None,
    "AWS_SECRET_ACCESS_KEY": None,
    "AWS_SESSION_TOKEN": None,
    "AWS_PROFILE": None,
    "AWS_DEFAULT_PROFILE": None,
    "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/credentials",
    "AWS_CONFIG_FILE": "/nonexistent/config",
    "AWS_EC2_METADATA_DISABLED": "true",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": None,
    "AWS_CONTAINER_CREDENTIALS_FULL_URI": None,
    "AWS_WEB_IDENTITY_TOKEN_FILE": None,
}
CREDENTIALS = {
    **NO_CREDENTIALS,
    "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE",
    "AWS_SECRET_ACCESS_KEY": "secret",
    "AWS_DEFAULT_REGION": "us-east-1",
}


@pytest.fixture
def dist(tmp_path):
    """An output directory whose wheel cache already holds this virtualenv's pins (empty: the
    unit layer has no network), so packaging runs offline."""
    target = tmp_path / "dist"
    wheels = wheel_dir(target / "wheels", pinned_requirements())
    wheels.mkdir(parents=True)
    (wheels / WHEELS_COMPLETE).touch()
    return target


@pytest.fixture
def stubbed_cli(aws, monkeypatch):
    monkeypatch.setattr(
        deploy_command, "cloudformation_client", lambda settings: aws.cloudformation
    )
    monkeypatch.setattr(deploy_command, "s3_client", lambda settings: aws.s3)
    # the change set's name comes from the clock; polling does not wait
    monkeypatch.setattr(
        deploy_command,
        "StackDeployer",
        functools.partial(StackDeployer, now=lambda: NOW, sleep=lambda _: None),
    )
    return aws


def run(args, env):
    return CliRunner().invoke(cli, ["deploy", *args], env=env)


def test_without_credentials_it_says_what_it_needs_in_one_line(tmp_path):
    result = run(
        ["--bucket", "artifacts", "--dry-run", "--output-dir", str(tmp_path)], NO_CREDENTIALS
    )

    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert lines == [
        "Error: cruddur deploy needs AWS credentials: set AWS_PROFILE (or AWS_ACCESS_KEY_ID and "
        "AWS_SECRET_ACCESS_KEY) and AWS_DEFAULT_REGION, or run where a role provides them"
    ]
    assert not list(tmp_path.iterdir())  # nothing packaged before the check


def test_dry_run_uploads_to_the_named_bucket_prints_the_change_set_and_applies_nothing(
    stubbed_cli, dist
):
    aws = stubbed_cli
    aws.artifact_missing("team-artifacts")
    aws.artifact_missing("team-artifacts")
    aws.no_stack()
    aws.change_set_created("CREATE")
    aws.change_set_is(
        "CREATE_COMPLETE",
        changes=[
            aws.change("Add", "MessagesTable", "AWS::DynamoDB::Table"),
            aws.change("Add", "Redis", "AWS::ElastiCache::ReplicationGroup"),
        ],
    )
    aws.change_set_deleted()

    result = run(
        [
            "--bucket",
            "team-artifacts",
            "--dry-run",
            "--output-dir",
            str(dist),
            "--parameter",
            "BillingMode=PAY_PER_REQUEST",
        ],
        CREDENTIALS,
    )

    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("s3://team-artifacts/cruddur/cruddur-stream-processor-")
    assert lines[1].startswith("s3://team-artifacts/cruddur/cruddur-post-confirmation-")
    assert f"change set {CHANGE_SET_NAME}: create stack cruddur, 2 change(s)" in lines
    assert "  Add     MessagesTable AWS::DynamoDB::Table" in lines
    assert lines[-1] == "dry run: change set deleted, nothing applied"
    aws.assert_all_called()  # no execute_change_set was queued, and none was called
    with zipfile.ZipFile(dist / "cruddur-post-confirmation.zip") as archive:
        names = set(archive.namelist())
    module = POST_CONFIRMATION_HANDLER.rsplit(".", 1)[0].replace(".", "/") + ".py"
    assert module in names
    assert any(n.startswith("cruddur/users/sql/") for n in names)  # the queries travel too


def test_the_change_set_carries_the_bucket_and_code_keys_it_uploaded(stubbed_cli, dist):
    aws = stubbed_cli
    aws.artifact_present("team-artifacts")
    aws.artifact_present("team-artifacts")
    aws.stack_is("UPDATE_COMPLETE", {"ArtifactBucket": "team-artifacts", "VpcId": "vpc-1"})
    seen = {}

    def remember(params, **_):
        seen.update({p["ParameterKey"]: p for p in params.get("Parameters", [])})

    aws.cloudformation.meta.events.register(
        "provide-client-params.cloudformation.CreateChangeSet", remember
    )
    aws.change_set_created("UPDATE")
    aws.change_set_is("FAILED", reason="No updates are to be performed.")
    aws.change_set_deleted()
    try:
        result = run(
            ["--bucket", "team-artifacts", "--yes", "--output-dir", str(dist)], CREDENTIALS
        )
    finally:
        aws.cloudformation.meta.events.unregister(
            "provide-client-params.cloudformation.CreateChangeSet", remember
        )

    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[-1] == "no changes: stack cruddur is up to date"
    assert seen["ArtifactBucket"]["ParameterValue"] == "team-artifacts"
    assert seen["StreamProcessorCodeKey"]["ParameterValue"].startswith(
        "cruddur/cruddur-stream-processor-"
    )
    assert seen["PostConfirmationCodeKey"]["ParameterValue"].startswith(
        "cruddur/cruddur-post-confirmation-"
    )
    assert seen["VpcId"] == {"ParameterKey": "VpcId", "UsePreviousValue": True}
    aws.assert_all_called()


def test_a_first_run_with_yes_creates_the_stack_and_prints_its_outputs(stubbed_cli, dist):
    aws = stubbed_cli
    aws.artifact_missing("team-artifacts")
    aws.artifact_missing("team-artifacts")
    aws.no_stack()
    aws.change_set_created("CREATE")
    aws.change_set_is(
        "CREATE_COMPLETE", changes=[aws.change("Add", "MessagesTable", "AWS::DynamoDB::Table")]
    )
    aws.change_set_executed()
    aws.stack_is("CREATE_IN_PROGRESS")
    aws.stack_is(
        "CREATE_COMPLETE",
        Outputs=[
            {"OutputKey": "TableName", "OutputValue": "cruddur-messages"},
            {
                "OutputKey": "RedisEndpoint",
                "OutputValue": "master.cruddur.cache.amazonaws.com:6379",
            },
        ],
    )

    result = run(["--bucket", "team-artifacts", "--yes", "--output-dir", str(dist)], CREDENTIALS)

    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[-3:] == [
        "stack cruddur is up to date",
        "  RedisEndpoint = master.cruddur.cache.amazonaws.com:6379",
        "  TableName = cruddur-messages",
    ]
    aws.assert_all_called()


def test_a_refused_change_set_is_one_line_and_a_non_zero_exit(stubbed_cli, dist):
    aws = stubbed_cli
    aws.artifact_present("team-artifacts")
    aws.artifact_present("team-artifacts")
    aws.no_stack()
    aws.change_set_created("CREATE")
    aws.change_set_is("FAILED", reason="Parameters: [VpcId] must have values")
    aws.change_set_deleted()

    result = run(["--bucket", "team-artifacts", "--yes", "--output-dir", str(dist)], CREDENTIALS)

    assert result.exit_code == 1
    assert result.output.splitlines()[-1] == (
        f"Error: change set {CHANGE_SET_NAME} failed: Parameters: [VpcId] must have values"
    )
    aws.assert_all_called()


def test_a_profile_that_does_not_exist_is_one_line(tmp_path):
    result = run(
        ["--bucket", "b", "--output-dir", str(tmp_path)], {**NO_CREDENTIALS, "AWS_PROFILE": "nope"}
    )

    assert result.exit_code == 1
    assert result.output.splitlines() == [
        "Error: The config profile (nope) could not be found: check AWS_PROFILE "
        "(aws configure list-profiles)"
    ]


def test_the_code_parameters_are_its_own(tmp_path):
    result = run(
        ["--bucket", "b", "--parameter", "StreamProcessorCodeKey=x", "--output-dir", str(tmp_path)],
        CREDENTIALS,
    )

    assert result.exit_code == 2
    assert "set by cruddur deploy itself" in result.output
