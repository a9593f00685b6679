"""The private PostgreSQL manager without a server: the socket folder, finding the binaries, and the install branch with the binaries hidden and apt-get stubbed."""

from __future__ import annotations

import os
import pwd
import subprocess
from pathlib import Path

import pytest

from cruddur.local.installers import InstallError
from cruddur.local.postgres import PrivatePostgres, ensure_binaries, find_binaries
from cruddur.local.processes import EngineError


def test_a_deep_folder_gets_a_short_socket_folder(tmp_path: Path) -> None:
    deep = tmp_path / ("d" * 120) / "postgres"

    cluster = PrivatePostgres(deep)

    assert len(str(cluster.socket_dir / ".s.PGSQL.5432")) < 108
    assert cluster.socket_dir == PrivatePostgres(deep).socket_dir
    assert PrivatePostgres(tmp_path / "p").socket_dir == tmp_path / "p" / "run"


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
