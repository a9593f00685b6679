"""The private PostgreSQL cluster: a real start/stop (as root when the tests run as root). The
install branch with apt-get stubbed is in tests/unit/local/test_postgres_binaries.py."""

from __future__ import annotations

import os
import pwd
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner

from cruddur.bootstrap import local_connection_url
from cruddur.cli.db import db
from cruddur.config import Settings
from cruddur.local.postgres import PrivatePostgres
from cruddur.local.processes import wait_until
from cruddur.users.db import create_pool, mask_url
from cruddur.users.errors import UsersUnavailable
from cruddur.users.repository import UserRepository
from fixtures_postgres import initdb_unavailable_reason, reachable_tmp_dir

needs_initdb = pytest.mark.skipif(
    initdb_unavailable_reason() is not None,
    reason=f"private cluster impossible here: {initdb_unavailable_reason()}",
)


@pytest.fixture
def cluster_dir() -> Iterator[Path]:
    folder = reachable_tmp_dir("cruddur-test-private-pg-")
    yield folder
    cluster = PrivatePostgres(folder / "postgres")
    cluster.stop()
    shutil.rmtree(folder, ignore_errors=True)
    shutil.rmtree(cluster.socket_dir, ignore_errors=True)


@needs_initdb
def test_private_cluster_start_stop_status(cluster_dir: Path) -> None:
    settings = Settings(data_dir=cluster_dir)
    cluster = PrivatePostgres.for_settings(settings)
    assert not cluster.status().running

    started = cluster.start()

    assert started.running
    postmaster_pid = int((cluster.data_dir / "postmaster.pid").read_text().split()[0])
    assert started.pid == postmaster_pid
    owner = cluster.data_dir.stat().st_uid
    if os.geteuid() == 0:
        # initdb and postgres refuse root: the cluster belongs to an unprivileged user.
        assert owner != 0
        assert started.os_user == pwd.getpwuid(owner).pw_name
    assert oct(cluster.data_dir.stat().st_mode & 0o777) == "0o700"
    assert cluster.start().pid == started.pid  # idempotent
    url = local_connection_url(settings, start=False)
    assert url == started.url
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT current_database(), inet_server_port()").fetchone()
    assert row == ("cruddur", None)  # the project database, reached on the socket, no TCP port

    # A short pool timeout: a request on a stopped server waits that long for a connection.
    pool = create_pool(url, min_size=1, max_size=1, timeout=1)
    try:
        repo = UserRepository(pool)
        repo.ping()
        assert cluster.stop() is True
        assert not cluster.status().running
        with pytest.raises(UsersUnavailable):
            repo.ping()
    finally:
        pool.close()
    assert cluster.stop() is False
    with pytest.raises(UsersUnavailable, match="the private PostgreSQL is not running") as raised:
        local_connection_url(settings, start=False)
    assert raised.value.url == mask_url(url)

    restarted_url = local_connection_url(settings, start=True)

    assert restarted_url == url
    assert cluster.status().running


@needs_initdb
def test_a_pool_uses_a_restarted_server_within_seconds(cluster_dir: Path) -> None:
    """The pool's background reconnection pauses double with every failure; after an outage of
    several seconds the server must still be used again soon after it returns, not after the
    next doubled pause."""
    settings = Settings(data_dir=cluster_dir)
    cluster = PrivatePostgres.for_settings(settings)
    url = cluster.start().url
    pool = create_pool(url, min_size=1, max_size=1, timeout=0.5)
    try:
        repo = UserRepository(pool)
        repo.ping()
        assert cluster.stop() is True
        outage_ends = time.monotonic() + 8
        while time.monotonic() < outage_ends:  # requests keep coming while the server is down
            with pytest.raises(UsersUnavailable):
                repo.ping()
            time.sleep(0.05)  # pacing the requests (a refusal is instant), not waiting for anything
        cluster.start()

        def answers() -> bool:
            try:
                repo.ping()
            except UsersUnavailable:
                return False
            return True

        # A deadline, not a measurement: before the fix the pool came back only after ~20 s; 10 s
        # leaves room for a loaded machine.
        recovered = wait_until(answers, timeout=10)
    finally:
        pool.close()
    assert recovered, "the pool did not use the restarted server within 10 s"


@needs_initdb
def test_local_commands_start_report_and_stop(cluster_dir: Path) -> None:
    runner = CliRunner()
    base = str(cluster_dir / "postgres")

    started = runner.invoke(db, ["local", "start", "--dir", base])
    again = runner.invoke(db, ["local", "start", "--dir", base])
    status = runner.invoke(db, ["local", "status", "--dir", base])
    stopped = runner.invoke(db, ["local", "stop", "--dir", base])
    status_after = runner.invoke(db, ["local", "status", "--dir", base])
    stopped_again = runner.invoke(db, ["local", "stop", "--dir", base])

    assert started.exit_code == 0, started.output
    assert "CONNECTION_URL=postgresql://postgres@/cruddur?host=" in started.output
    assert again.exit_code == 0 and again.output == started.output
    assert status.exit_code == 0 and "is running" in status.output
    assert stopped.exit_code == 0 and "stopped" in stopped.output
    assert status_after.exit_code == 1 and "not running" in status_after.output
    assert stopped_again.exit_code == 0 and "was not running" in stopped_again.output
