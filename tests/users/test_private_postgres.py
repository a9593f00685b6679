"""The private PostgreSQL cluster: a real start/stop (as root when the tests run as root) and the
install branch with the binaries hidden and apt-get stubbed."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner

from cruddur.cli.db import db
from cruddur.config import Settings
from cruddur.local.installers import InstallError
from cruddur.local.postgres import PrivatePostgres, ensure_binaries, find_binaries
from cruddur.local.processes import EngineError
from cruddur.users.db import create_pool, local_connection_url
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
    with pytest.raises(UsersUnavailable, match="cruddur db local start"):
        local_connection_url(settings, start=False)

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
        cluster.start()
        back = time.monotonic()
        deadline = back + 30
        while time.monotonic() < deadline:
            try:
                repo.ping()
                break
            except UsersUnavailable:
                continue
        recovered_after = time.monotonic() - back
    finally:
        pool.close()
    # before the fix this took ~20 s; the bound leaves room for a loaded machine
    assert recovered_after < 10, f"the pool used the restarted server {recovered_after:.1f}s later"


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


def test_a_deep_folder_gets_a_short_socket_folder(tmp_path: Path) -> None:
    deep = tmp_path / ("d" * 120) / "postgres"

    cluster = PrivatePostgres(deep)

    assert len(str(cluster.socket_dir / ".s.PGSQL.5432")) < 108
    assert cluster.socket_dir == PrivatePostgres(deep).socket_dir
    assert PrivatePostgres(tmp_path / "p").socket_dir == tmp_path / "p" / "run"


# --- finding and installing the binaries -----------------------------------------------------------


def fake_install(lib_root: Path, version: str) -> Path:
    bin_dir = lib_root / version / "bin"
    bin_dir.mkdir(parents=True)
    for name in ("initdb", "pg_ctl", "postgres"):
        (bin_dir / name).write_text("#!/bin/sh\nexit 0\n")
        (bin_dir / name).chmod(0o755)
    return bin_dir


class AptStub:
    """Stands in for subprocess.run: records every command; `apt-get install` "installs"
    PostgreSQL 16 under the fake Debian folder."""

    def __init__(self, lib_root: Path, installs: bool = True) -> None:
        self.lib_root = lib_root
        self.installs = installs
        self.calls: list[list[str]] = []

    def __call__(self, argv, **kwargs) -> subprocess.CompletedProcess:
        self.calls.append(list(argv))
        if "install" in argv and self.installs:
            fake_install(self.lib_root, "16")
        return subprocess.CompletedProcess(argv, 0)


def only_apt_get(name: str) -> str | None:
    return "/usr/bin/apt-get" if name == "apt-get" else None


def test_the_highest_debian_version_wins(tmp_path: Path) -> None:
    for version in ("9.6", "15", "16", "13"):
        fake_install(tmp_path, version)

    found = find_binaries(which=lambda _: None, lib_root=tmp_path)

    assert found is not None
    assert found.bin_dir == tmp_path / "16" / "bin"
    assert found.pg_ctl == tmp_path / "16" / "bin" / "pg_ctl"
    pinned = find_binaries(which=lambda _: None, lib_root=tmp_path, prefer_version="13")
    assert pinned is not None and pinned.bin_dir == tmp_path / "13" / "bin"


def test_path_comes_before_the_debian_folder(tmp_path: Path) -> None:
    on_path = fake_install(tmp_path / "elsewhere", "x")
    fake_install(tmp_path / "lib", "16")

    found = find_binaries(which=lambda name: str(on_path / name), lib_root=tmp_path / "lib")

    assert found is not None and found.bin_dir == on_path


@pytest.mark.skipif(os.geteuid() != 0, reason="apt_install runs apt-get directly only as root")
def test_missing_binaries_are_installed_with_apt_get(tmp_path: Path) -> None:
    lib_root = tmp_path / "lib" / "postgresql"
    apt = AptStub(lib_root)

    found = ensure_binaries(which=only_apt_get, run=apt, lib_root=lib_root)

    assert ["apt-get", "install", "-y", "-q", "postgresql"] in apt.calls
    assert found.initdb == lib_root / "16" / "bin" / "initdb"


@pytest.mark.skipif(os.geteuid() != 0, reason="apt_install runs apt-get directly only as root")
def test_an_install_that_brings_nothing_is_a_clear_error(tmp_path: Path) -> None:
    lib_root = tmp_path / "lib"
    apt = AptStub(lib_root, installs=False)
    cluster = PrivatePostgres(tmp_path / "pg", which=only_apt_get, run=apt, lib_root=lib_root)

    with pytest.raises(InstallError) as raised:
        cluster.start()

    assert "initdb/pg_ctl still missing after installing postgresql" in str(raised.value)
    assert "\n" not in str(raised.value)


def test_no_apt_get_no_binaries_is_a_clear_error(tmp_path: Path) -> None:
    cluster = PrivatePostgres(
        tmp_path / "pg", which=lambda _: None, run=AptStub(tmp_path), lib_root=tmp_path / "none"
    )

    with pytest.raises(InstallError, match="apt-get not found"):
        cluster.start()


def test_as_root_without_a_postgres_user_one_is_created(tmp_path: Path) -> None:
    lib_root = tmp_path / "lib"
    fake_install(lib_root, "16")
    apt = AptStub(lib_root)

    def no_such_user(name: str) -> pwd.struct_passwd:
        raise KeyError(name)

    cluster = PrivatePostgres(
        tmp_path / "pg",
        which=lambda name: f"/usr/sbin/{name}",
        run=apt,
        lib_root=lib_root,
        os_user="cruddur-pg-test",
        get_user=no_such_user,
        euid=lambda: 0,
    )

    with pytest.raises(EngineError, match="creating the user 'cruddur-pg-test' failed"):
        cluster.start()

    assert apt.calls[-1][0] == "/usr/sbin/useradd"
    assert apt.calls[-1][-1] == "cruddur-pg-test"
    assert "--system" in apt.calls[-1]
