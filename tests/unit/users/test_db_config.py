"""Migrations found on disk, URL masking, which connection URL is used, queries loaded by name: no server."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from cruddur.bootstrap import connection_url, local_connection_url
from cruddur.config import Settings
from cruddur.local.postgres import PrivatePostgres
from cruddur.users.db import load_migrations, mask_url
from cruddur.users.errors import UsersNotConfigured, UsersUnavailable
from cruddur.users.queries import template


def test_migrations_are_numbered_and_ordered() -> None:
    migrations = load_migrations()

    assert [m.version for m in migrations] == sorted(m.version for m in migrations)
    assert [str(m) for m in migrations][:2] == ["0001_users", "0002_user_credentials"]


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        ("postgresql://u:pw@h:5432/db", "postgresql://u:***@h:5432/db"),
        (
            "postgresql://u@h/db?password=pw&sslmode=require",
            "postgresql://u@h/db?password=***&sslmode=require",
        ),
        ("host=h password=pw dbname=db", "host=h password=*** dbname=db"),
        ("host=h password='p w' dbname=db", "host=h password=*** dbname=db"),
        ("postgresql://u@h/db", "postgresql://u@h/db"),
    ],
)
def test_mask_url(url: str, masked: str) -> None:
    assert mask_url(url) == masked


def test_local_connection_url_prefers_connection_url(tmp_path: Path) -> None:
    settings = Settings(connection_url="postgresql://u@h/db", data_dir=tmp_path)

    assert local_connection_url(settings, start=False) == "postgresql://u@h/db"
    assert connection_url(settings) == "postgresql://u@h/db"


def test_a_stopped_private_cluster_is_reported_with_its_facts(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)

    with pytest.raises(UsersUnavailable) as raised:
        local_connection_url(settings, start=False)

    # Facts only: how to start the cluster is the CLI's to say (see test_db_cli_errors.py).
    assert raised.value.url == mask_url(PrivatePostgres(tmp_path / "postgres").url)
    assert raised.value.reason == "the private PostgreSQL is not running"
    assert raised.value.prod is False
    assert "cruddur db" not in str(raised.value)


def test_prod_needs_prod_connection_url(tmp_path: Path) -> None:
    settings = Settings(connection_url="postgresql://u@local/db", data_dir=tmp_path)

    with pytest.raises(UsersNotConfigured, match="PROD_CONNECTION_URL"):
        connection_url(settings, prod=True)
    prod = replace(settings, prod_connection_url="postgresql://u:pw@rds/db")
    assert connection_url(prod, prod=True) == "postgresql://u:pw@rds/db"
    assert connection_url(prod.for_toolkit(True)) == "postgresql://u:pw@rds/db"


def test_queries_are_loaded_by_name_only() -> None:
    assert "FROM users" in template("users", "short")
    with pytest.raises(KeyError):
        template("users", "../../db")
    with pytest.raises(KeyError):
        template("users", "no_such_query")
