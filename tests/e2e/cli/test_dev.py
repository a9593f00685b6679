"""`cruddur dev`, the README's run command, up to the point where it would serve."""

from __future__ import annotations

import os
import subprocess
import sys

from cruddur.messaging.repository import DynamoMessageRepository
from cruddur.messaging.services import MessagingService
from cruddur.users.models import demo_user_uuid


def run_dev(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cruddur", "dev", "--no-serve"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_dev_loads_both_schemas_and_seeds_both_stores(
    dynamodb_local, ddb, table_name, postgres_url, tmp_path
):
    env = dict(
        os.environ,
        AWS_ENDPOINT_URL_DYNAMODB=dynamodb_local.endpoint_url,
        AWS_ENDPOINT_URL_DYNAMODB_STREAMS=dynamodb_local.endpoint_url,
        DDB_MESSAGE_TABLE=table_name,
        CONNECTION_URL=postgres_url,
        CRUDDUR_DATA_DIR=str(tmp_path),
    )
    env.pop("AWS_ENDPOINT_URL", None)
    run = run_dev(env)
    assert run.returncode == 0, run.stdout + run.stderr
    assert f"using the engine already answering at {dynamodb_local.endpoint_url}" in run.stdout

    repo = DynamoMessageRepository(ddb, table_name)
    group = MessagingService(repo).find_direct_group(
        demo_user_uuid("andrewbrown"), demo_user_uuid("bayko")
    )
    assert group is not None
    last = repo.messages_page(group, 20, None).items[-1]
    assert last.text in run.stdout  # the seeded conversation is printed
    (row,) = repo.conversations_page(demo_user_uuid("bayko"), 20, None).items
    assert row.group_uuid == group and row.message == last.text

    again = run_dev(env)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "already have conversation" in again.stdout  # a second run writes nothing twice
