"""Pool, migrations and the database chores, against a real PostgreSQL."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest
from psycopg_pool import ConnectionPool

from cruddur.local.processes import free_port, wait_until
from cruddur.users.db import (
    Migration,
    applied_migrations,
    apply_migrations,
    create_database,
    create_pool,
    database_exists,
    database_name,
    drop_database,
    list_sessions,
    load_migrations,
    pooled,
    with_database,
)
from cruddur.users.errors import MigrationError, UsersRefused, UsersUnavailable
from cruddur.users.repository import UserRepository


def tables(url: str) -> set[str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
        ).fetchall()
    return {row[0] for row in rows}


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


def test_the_server_down_names_the_url_masked_and_the_reason() -> None:
    url = f"postgresql://postgres:s3cret-pw@127.0.0.1:{free_port()}/cruddur"

    with pytest.raises(UsersUnavailable) as raised:
        create_pool(url)

    message = str(raised.value)
    assert "s3cret-pw" not in message
    assert "postgresql://postgres:***@127.0.0.1:" in message
    assert raised.value.url.startswith("postgresql://postgres:***@127.0.0.1:")
    assert "refused" in raised.value.reason.lower()
    assert raised.value.prod is False
    # Facts only: the CLI adds how to start a server (tests/e2e/users/test_db_cli.py checks it).
    assert "cruddur db local start" not in message
    assert "\n" not in message


def test_an_unavailable_prod_database_says_it_was_prod() -> None:
    url = f"postgresql://postgres:s3cret-pw@127.0.0.1:{free_port()}/cruddur"

    with pytest.raises(UsersUnavailable) as raised:
        create_pool(url, prod=True)

    assert raised.value.prod is True


def test_a_refused_statement_is_a_users_error_with_postgresql_s_code(
    user_pool: ConnectionPool,
) -> None:
    with pytest.raises(UsersRefused) as raised, pooled(user_pool) as conn:
        conn.execute("SELECT no_such_column FROM users")

    assert raised.value.sqlstate == "42703"  # undefined_column
    assert "no_such_column" in str(raised.value)


def backend_pids(url: str) -> set[int]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
        ).fetchall()
    return {int(row[0]) for row in rows}


def test_a_terminated_connection_costs_a_reconnect_not_an_error(postgres_url: str) -> None:
    pool = create_pool(postgres_url, min_size=1, max_size=1)
    try:
        repo = UserRepository(pool)
        first = repo.ping()
        with psycopg.connect(postgres_url, autocommit=True) as admin:
            row = admin.execute("SELECT pg_terminate_backend(%s)", (first,)).fetchone()
        assert row == (True,)
        # The signal is asynchronous: wait for the server process to be gone, or the pool's check
        # could still meet it alive and the test would prove nothing.
        assert wait_until(lambda: first not in backend_pids(postgres_url), timeout=10)

        second = repo.ping()

        assert second != first
        assert second in backend_pids(postgres_url)
        # the server answered all along: never taken for down, nothing refused
        assert not pool.server_down
        assert pool.refused_without_waiting == 0
    finally:
        pool.close()
