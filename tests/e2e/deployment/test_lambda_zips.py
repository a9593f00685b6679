"""The zips `cruddur deploy` uploads, run as Lambda runs them: unpacked into a directory of their own,
imported by a fresh virtualenv that has nothing installed but what the Lambda Python runtime brings
(boto3 and its dependencies), and given sample events in the formats AWS documents: a DynamoDB
Streams batch with one record that cannot be applied (a partial batch failure), and a Cognito
post-confirmation event."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import zipfile
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import pytest

from cruddur.deployment.packaging import (
    POST_CONFIRMATION_HANDLER,
    STREAM_PROCESSOR_HANDLER,
    build_post_confirmation_zip,
    build_stream_processor_zip,
)
from cruddur.messaging import keys
from fixtures_streams import append, assert_rows_at

# What the Lambda Python runtime has installed besides the standard library.
RUNTIME_PACKAGES = ("boto3", "botocore", "jmespath", "s3transfer", "dateutil", "six", "urllib3")
RUNNER = """
import importlib, json, os, sys
module_name, _, function_name = sys.argv[1].rpartition(".")
module = importlib.import_module(module_name)
assert module.__file__.startswith(os.environ["LAMBDA_TASK_ROOT"]), module.__file__
event = json.load(sys.stdin)
print(json.dumps(getattr(module, function_name)(event, None)))
"""


def _index_reachable() -> bool:
    try:
        with socket.create_connection(("pypi.org", 443), timeout=3):
            return True
    except OSError:
        return False


@pytest.fixture(scope="module")
def lambda_python(tmp_path_factory) -> tuple[Path, Path]:
    """(a clean interpreter, a directory standing for the runtime's own packages)."""
    root = tmp_path_factory.mktemp("lambda-runtime")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root / "venv")], check=True)
    runtime = root / "runtime"
    runtime.mkdir()
    for name in RUNTIME_PACKAGES:
        spec = find_spec(name)
        assert spec is not None and spec.origin, name
        source = Path(spec.origin)
        source = source.parent if source.name == "__init__.py" else source
        (runtime / source.name).symlink_to(source)
    return root / "venv" / "bin" / "python", runtime


def unpack(archive: Path, into: Path) -> Path:
    with zipfile.ZipFile(archive) as unzipped:
        unzipped.extractall(into)
    return into


def invoke(
    lambda_python: tuple[Path, Path], task: Path, handler: str, event: Any, env: dict[str, str]
) -> Any:
    python, runtime = lambda_python
    environment = {
        "PATH": "/usr/bin:/bin",
        "LAMBDA_TASK_ROOT": str(task),
        "PYTHONPATH": f"{task}{os.pathsep}{runtime}",
        "AWS_REGION": "us-east-1",
        **env,
    }
    done = subprocess.run(
        [str(python), "-c", RUNNER, handler],
        input=json.dumps(event),
        capture_output=True,
        text=True,
        env=environment,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def stream_record(item: dict[str, Any], sequence: str, table: str) -> dict[str, Any]:
    """One record of a Lambda DynamoDB Streams event (AWS Lambda developer guide, "Using AWS
    Lambda with Amazon DynamoDB", example event)."""
    return {
        "eventID": f"{sequence}-event",
        "eventName": "INSERT",
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": "us-east-1",
        "dynamodb": {
            "ApproximateCreationDateTime": 1764306000,
            "Keys": {"pk": item["pk"], "sk": item["sk"]},
            "NewImage": item,
            "SequenceNumber": sequence,
            "SizeBytes": 200,
            "StreamViewType": "NEW_IMAGE",
        },
        "eventSourceARN": f"arn:aws:dynamodb:us-east-1:123456789012:table/{table}/stream/"
        "2026-11-28T05:00:00.000",
    }


def test_the_stream_processor_zip_answers_a_batch_with_a_partial_failure(
    lambda_python, tmp_path, repo, settings, groups, alice, bob, redis_server_url
):
    task = unpack(build_stream_processor_zip(tmp_path / "stream.zip"), tmp_path / "task")
    group, _ = groups.direct(alice, bob)
    message = append(repo, group, bob, "through the packaged handler")
    item = repo.client.get_item(
        TableName=repo.table,
        Key={"pk": {"S": keys.message_pk(group)}, "sk": {"S": message.sk}},
        ConsistentRead=True,
    )["Item"]
    unreadable = stream_record(item, "200000000000000000002", repo.table)
    del unreadable["dynamodb"]["NewImage"]  # a message INSERT without its image: cannot apply
    event = {"Records": [stream_record(item, "100000000000000000001", repo.table), unreadable]}

    answer = invoke(
        lambda_python,
        task,
        STREAM_PROCESSOR_HANDLER,
        event,
        {
            "AWS_ENDPOINT_URL_DYNAMODB": settings.dynamodb_endpoint_url,
            "DDB_MESSAGE_TABLE": repo.table,
            "REDIS_URL": redis_server_url,
            "AWS_ACCESS_KEY_ID": "local",
            "AWS_SECRET_ACCESS_KEY": "local",
        },
    )

    assert answer == {"batchItemFailures": [{"itemIdentifier": "200000000000000000002"}]}
    assert_rows_at(repo, {group: message}, groups.members)


POST_CONFIRMATION_EVENT = {
    # AWS Cognito developer guide, "Post confirmation Lambda trigger", sample event
    "version": "1",
    "region": "us-east-1",
    "userPoolId": "us-east-1_EXAMPLE",
    "userName": "7c2a9f30-1b5e-4d6a-9f0e-2b8d4c6e8a10",
    "callerContext": {"awsSdkVersion": "aws-sdk-unknown-unknown", "clientId": "1example23456789"},
    "triggerSource": "PostConfirmation_ConfirmSignUp",
    "request": {
        "userAttributes": {
            "sub": "7c2a9f30-1b5e-4d6a-9f0e-2b8d4c6e8a10",
            "cognito:user_status": "CONFIRMED",
            "email_verified": "true",
            "name": "Zip Tester",
            "preferred_username": "ziptester",
            "email": "zip.tester@example.com",
        }
    },
    "response": {},
}


@pytest.mark.network
def test_the_post_confirmation_zip_stores_the_confirmed_user(
    lambda_python, tmp_path, tmp_path_factory, postgres_url, users
):
    # kept beside pytest's numbered temporary folders: a later run reuses wheels of the same pins
    wheels = tmp_path_factory.getbasetemp().parent / "cruddur-lambda-wheels"
    if not any(wheels.glob("*/.complete")) and not _index_reachable():
        pytest.skip("pypi.org cannot be reached: the Lambda wheels cannot be downloaded")
    archive = build_post_confirmation_zip(tmp_path / "trigger.zip", wheels)
    with zipfile.ZipFile(archive) as unzipped:
        names = unzipped.namelist()
    # the compiled parts are Lambda's (manylinux x86_64, CPython 3.11), not this machine's build
    assert any(
        n.startswith("psycopg_binary/") and ".cpython-311-x86_64-linux-gnu.so" in n for n in names
    )
    assert any(n.startswith("_cffi_backend.cpython-311-x86_64-linux-gnu") for n in names)
    task = unpack(archive, tmp_path / "task")

    answer = invoke(
        lambda_python,
        task,
        POST_CONFIRMATION_HANDLER,
        POST_CONFIRMATION_EVENT,
        {"CONNECTION_URL": postgres_url},
    )

    assert answer == POST_CONFIRMATION_EVENT  # Cognito requires the event back
    user = users.find_by_cognito_id(POST_CONFIRMATION_EVENT["request"]["userAttributes"]["sub"])
    assert user is not None
    assert (user.handle, user.display_name, user.email) == (
        "ziptester",
        "Zip Tester",
        "zip.tester@example.com",
    )
