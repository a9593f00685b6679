"""Shared fixtures: one DynamoDB Local per test session (in memory, on a free port), a fresh table
per test, and the settings that point at them. The PostgreSQL, API, stream and Redis fixtures live
in the fixtures_*.py plugins listed below."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from cruddur.aws import dynamodb_client
from cruddur.config import Settings, project_root
from cruddur.local.dynamodb import DynamoDBLocal
from cruddur.local.processes import free_port
from cruddur.messaging import schema
from cruddur.messaging.errors import TableExists
from cruddur.messaging.models import UserRef
from cruddur.messaging.repository import DynamoMessageRepository
from cruddur.messaging.services import MessagingService
from cruddur.users.models import demo_user_uuid

pytest_plugins = ["fixtures_postgres", "fixtures_api", "fixtures_streams", "fixtures_redis"]


@pytest.fixture(scope="session")
def dynamodb_local(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DynamoDBLocal]:
    engine = DynamoDBLocal(
        project_root(),
        tmp_path_factory.mktemp("dynamodb-local"),
        port=free_port(),
        in_memory=True,
    )
    engine.start()
    yield engine
    engine.stop()


@pytest.fixture(scope="session")
def base_settings(
    dynamodb_local: DynamoDBLocal, tmp_path_factory: pytest.TempPathFactory
) -> Settings:
    return Settings(
        dynamodb_endpoint_url=dynamodb_local.endpoint_url,
        dynamodb_streams_endpoint_url=dynamodb_local.endpoint_url,
        data_dir=Path(tmp_path_factory.mktemp("data")),
        # volume: no rate limits unless a test turns one on (they are on for `cruddur serve`)
        rate_limit_sends_per_minute=0,
        rate_limit_new_conversations_per_hour=0,
        rate_limit_signin_per_minute=0,
    )


@pytest.fixture(scope="session")
def ddb(base_settings: Settings):
    return dynamodb_client(base_settings)


@pytest.fixture
def table_name(ddb) -> Iterator[str]:
    """A fresh messages table for one test, dropped afterwards."""
    name = f"cruddur-test-{uuid.uuid4().hex[:12]}"
    try:
        schema.create_table(ddb, name)
    except TableExists:
        # a loaded machine can hold the answer past the client's 3 s read timeout; botocore's
        # retry then finds the table the first attempt made (the name is this test's own)
        ddb.get_waiter("table_exists").wait(TableName=name)
    yield name
    ddb.delete_table(TableName=name)


@pytest.fixture
def settings(base_settings: Settings, table_name: str) -> Settings:
    return replace(base_settings, table_name=table_name)


@pytest.fixture
def repo(ddb, table_name: str) -> DynamoMessageRepository:
    """The messages repository on this test's table."""
    return DynamoMessageRepository(ddb, table_name)


@pytest.fixture
def messaging(repo: DynamoMessageRepository) -> MessagingService:
    """The messaging use cases on this test's table (no user directory: tests open conversations
    with `open_conversation_with`)."""
    return MessagingService(repo)


def make_user(handle: str) -> UserRef:
    return UserRef(
        uuid=demo_user_uuid(handle),
        handle=handle,
        display_name=handle.title(),
    )


@pytest.fixture
def alice() -> UserRef:
    return make_user("alice")


@pytest.fixture
def bob() -> UserRef:
    return make_user("bob")


@pytest.fixture
def carol() -> UserRef:
    return make_user("carol")
