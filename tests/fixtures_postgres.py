"""PostgreSQL fixtures (users issue): a throwaway database per test session on a real server.

The server is the machine's own at 127.0.0.1:5432 when it answers (CI runs one, trust auth, user
postgres; CRUDDUR_TEST_POSTGRES_URL names another), else a private cluster started for the
session in a temporary folder. Never a mock, never SQLite.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from argon2 import PasswordHasher
from psycopg_pool import ConnectionPool

from cruddur.local.postgres import PrivatePostgres, find_binaries
from cruddur.users.db import (
    apply_migrations,
    create_database,
    create_pool,
    drop_database,
    with_database,
)
from cruddur.users.repository import UserRepository

MACHINE_SERVER_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


def _answers(url: str) -> bool:
    try:
        with psycopg.connect(url, connect_timeout=2) as conn:
            conn.execute("SELECT 1")
        return True
    except psycopg.Error:
        return False


def reachable_tmp_dir(prefix: str) -> Path:
    """A temporary folder the unprivileged cluster user can reach when we run as root (pytest's
    own tmp folders are 0700 root). The caller removes it."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    path.chmod(0o755)
    return path


def initdb_unavailable_reason() -> str | None:
    """Why a private cluster cannot start here, or None when initdb/pg_ctl are installed."""
    if find_binaries() is None:
        return "initdb/pg_ctl not found on PATH or under /usr/lib/postgresql/<version>/bin"
    return None


@pytest.fixture(scope="session")
def postgres_server_url() -> Iterator[str]:
    """A maintenance URL (database `postgres`) of a running server the session may create
    databases on."""
    configured = os.environ.get("CRUDDUR_TEST_POSTGRES_URL")
    if configured:
        yield configured
        return
    if _answers(MACHINE_SERVER_URL):
        yield MACHINE_SERVER_URL
        return
    reason = initdb_unavailable_reason()
    if reason:
        pytest.skip(f"no PostgreSQL at 127.0.0.1:5432 and no private cluster possible: {reason}")
    folder = reachable_tmp_dir("cruddur-test-pg-")
    cluster = PrivatePostgres(folder / "postgres")
    try:
        cluster.start()
        yield cluster.maintenance_url
    finally:
        cluster.stop()
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_url(postgres_server_url: str) -> Iterator[str]:
    """A throwaway database for this test session, dropped at its end."""
    url = with_database(postgres_server_url, f"cruddur_test_{uuid.uuid4().hex[:12]}")
    create_database(url)
    yield url
    drop_database(url)


@pytest.fixture(scope="session")
def user_pool(postgres_url: str) -> Iterator[ConnectionPool]:
    """A pool on `postgres_url` with every migration applied."""
    apply_migrations(postgres_url)
    pool = create_pool(postgres_url, min_size=1, max_size=5)
    yield pool
    pool.close()


# Still argon2id, at a cost fit for tests: the default (64 MiB, 3 passes) takes ~0.4 s a hash on a
# small CI machine, and every sign-in and seed pays it.
TEST_PASSWORD_HASHER = PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1)


@pytest.fixture
def users(user_pool: ConnectionPool) -> UserRepository:
    """A `UserRepository` on an empty users store (tables emptied before each test)."""
    with user_pool.connection() as conn:
        # DELETE, not TRUNCATE: on a handful of rows it is several times faster (credentials
        # go with their user, ON DELETE CASCADE).
        conn.execute("DELETE FROM users")
    return UserRepository(user_pool, hasher=TEST_PASSWORD_HASHER)


@pytest.fixture
def fresh_database_url(postgres_server_url: str) -> Iterator[str]:
    """An empty database of its own, without migrations, dropped after the test."""
    url = with_database(postgres_server_url, f"cruddur_fresh_{uuid.uuid4().hex[:12]}")
    create_database(url)
    yield url
    drop_database(url)
