"""Pool, migrations and the database chores, against a real PostgreSQL."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import psycopg
import pytest

from cruddur.config import Settings
from cruddur.local.processes import free_port
from cruddur.users.db import (
    Migration,
    applied_migrations,
    apply_migrations,
    connection_url,
    create_database,
    create_pool,
    database_exists,
    database_name,
    drop_database,
    list_sessions,
    load_migrations,
    local_connection_url,
    mask_url,
    with_database,
)
from cruddur.users.errors import MigrationError, UsersNotConfigured, UsersUnavailable
from cruddur.users.queries import template
from cruddur.users.repository import UserRepository


def tables(url: str) -> set[str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
        ).fetchall()
    return {row[0] for row in rows}


def test_migrations_are_numbered_and_ordered() -> None:
    migrations = load_migrations()

    assert [m.version for m in migrations] == sorted(m.version for m in migrations)
    assert [str(m) for m in migrations][:2] == ["0001_users", "0002_user_credentials"]


def test_migrations_applied_twice_apply_nothing_the_second_time(fresh_database_url: str) -> None:
    first = apply_migrations(fresh_database_url)
    second = apply_migrations(fresh_database_url)

    assert [str(m) for m in first] == [str(m) for m in load_migrations()]
    assert second == []
    assert {"users", "user_credentials", "schema_migrations"} <= tables(fresh_database_url)
    recorded = applied_migrations(fresh_database_url)
    assert [(v, n) for v, n, _ in recorded] == [(m.version, m.name) for m in load_migrations()]


def test_concurrent_schema_loads_apply_each_migration_once(fresh_database_url: str) -> None:
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda _: apply_migrations(fresh_database_url), range(4)))

    applied = [str(m) for result in results for m in result]
    assert sorted(applied) == sorted(str(m) for m in load_migrations())


def test_a_new_migration_is_applied_after_the_recorded_ones(fresh_database_url: str) -> None:
    apply_migrations(fresh_database_url)
    extra = Migration("9999", "test_extra", "CREATE TABLE test_extra (id int);")

    applied = apply_migrations(fresh_database_url, [*load_migrations(), extra])

    assert applied == [extra]
    assert "test_extra" in tables(fresh_database_url)


def test_a_failing_migration_leaves_nothing_behind(fresh_database_url: str) -> None:
    broken = Migration("0001", "broken", "CREATE TABLE half_done (id int); SELECT no_such_column;")

    with pytest.raises(MigrationError, match="0001_broken"):
        apply_migrations(fresh_database_url, [broken])

    assert "half_done" not in tables(fresh_database_url)
    assert applied_migrations(fresh_database_url) == []


def test_no_migrations_recorded_on_an_empty_database(fresh_database_url: str) -> None:
    assert applied_migrations(fresh_database_url) == []


def test_create_and_drop_database(postgres_server_url: str) -> None:
    url = with_database(postgres_server_url, "cruddur_test_create_drop")
    drop_database(url)

    assert create_database(url) is True
    assert create_database(url) is False
    assert database_exists(url)
    with psycopg.connect(url) as held_open:
        # DROP ... WITH (FORCE) closes sessions like this one.
        assert drop_database(url) is True
        with pytest.raises(psycopg.OperationalError):
            held_open.execute("SELECT 1")
    assert drop_database(url) is False
    assert not database_exists(url)


def test_a_database_name_is_quoted_not_interpreted(postgres_server_url: str) -> None:
    url = with_database(postgres_server_url, 'odd"; DROP DATABASE postgres; --')

    assert create_database(url) is True
    assert database_exists(url)
    assert drop_database(url) is True
    assert database_exists(postgres_server_url)


def test_sessions_lists_open_connections(postgres_url: str) -> None:
    with psycopg.connect(postgres_url, application_name="cruddur-sessions-test"):
        sessions = list_sessions(postgres_url)

    mine = [s for s in sessions if s.application_name == "cruddur-sessions-test"]
    assert len(mine) == 1
    assert mine[0].pid > 0
    assert mine[0].database == database_name(postgres_url)


def test_the_server_down_names_the_url_masked_and_how_to_start() -> None:
    url = f"postgresql://postgres:s3cret-pw@127.0.0.1:{free_port()}/cruddur"

    with pytest.raises(UsersUnavailable) as raised:
        create_pool(url)

    message = str(raised.value)
    assert "s3cret-pw" not in message
    assert "postgresql://postgres:***@127.0.0.1:" in message
    assert "cruddur db local start" in message
    assert "\n" not in message


def test_a_terminated_connection_costs_a_reconnect_not_an_error(postgres_url: str) -> None:
    pool = create_pool(postgres_url, min_size=1, max_size=1)
    try:
        repo = UserRepository(pool)
        repo.ping()
        with psycopg.connect(postgres_url, autocommit=True) as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        repo.ping()
    finally:
        pool.close()


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


def test_local_connection_url_says_how_to_start_the_private_cluster(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)

    with pytest.raises(UsersUnavailable, match="cruddur db local start"):
        local_connection_url(settings, start=False)


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
