"""The private Redis manager without a server: finding redis-server, the install branch with the
program hidden and apt-get stubbed, its command line, and what needs no socket (settings, a stale
pid file, REDIS_URL taking precedence)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from cruddur.bootstrap import local_redis_url
from cruddur.config import DEFAULT_LOCAL_REDIS_PORT, Settings
from cruddur.local.installers import InstallError
from cruddur.local.processes import EngineError
from cruddur.local.redis import (
    PrivateRedis,
    ensure_redis_server,
    find_redis_server,
)


def fake_program(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    program = folder / "redis-server"
    program.write_text("#!/bin/sh\nexit 0\n")
    program.chmod(0o755)
    return program


class AptStub:
    """Stands in for subprocess.run: records every command; `apt-get install` "installs"
    redis-server into `folder` (or nothing, to simulate a package that brings no program)."""

    def __init__(self, folder: Path, installs: bool = True) -> None:
        self.folder = folder
        self.installs = installs
        self.calls: list[list[str]] = []

    def __call__(self, argv, **kwargs) -> subprocess.CompletedProcess:
        self.calls.append(list(argv))
        if "install" in argv and self.installs:
            fake_program(self.folder)
        return subprocess.CompletedProcess(argv, 0)


def apt_get_and_sudo(name: str) -> str | None:
    # sudo too, so apt_install's command is the same whether the tests run as root or not
    return f"/usr/bin/{name}" if name in ("apt-get", "sudo") else None


def test_path_comes_first(tmp_path: Path) -> None:
    fake_program(tmp_path / "sbin")

    found = find_redis_server(
        which=lambda name: "/opt/redis/bin/redis-server" if name == "redis-server" else None,
        search_dirs=[tmp_path / "sbin"],
    )

    assert found == Path("/opt/redis/bin/redis-server")


def test_off_path_the_usual_folders_are_searched_in_order(tmp_path: Path) -> None:
    sbin = fake_program(tmp_path / "sbin")
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "redis-server").write_text("not executable")

    found = find_redis_server(
        which=lambda _: None, search_dirs=[tmp_path / "bin", tmp_path / "sbin"]
    )

    assert found == sbin
    assert find_redis_server(which=lambda _: None, search_dirs=[tmp_path / "none"]) is None


def test_a_missing_program_is_installed_with_apt_get(tmp_path: Path) -> None:
    folder = tmp_path / "usr" / "bin"
    apt = AptStub(folder)

    found = ensure_redis_server(which=apt_get_and_sudo, run=apt, search_dirs=[folder])

    assert found == folder / "redis-server"
    installs = [call for call in apt.calls if "install" in call]
    assert len(installs) == 1
    assert installs[0][-5:] == ["apt-get", "install", "-y", "-q", "redis-server"]


def test_a_present_program_installs_nothing(tmp_path: Path) -> None:
    fake_program(tmp_path / "bin")
    apt = AptStub(tmp_path / "bin")

    ensure_redis_server(which=apt_get_and_sudo, run=apt, search_dirs=[tmp_path / "bin"])

    assert apt.calls == []


def test_an_install_that_brings_nothing_is_a_clear_error(tmp_path: Path) -> None:
    apt = AptStub(tmp_path / "bin", installs=False)
    server = PrivateRedis(
        tmp_path / "redis", which=apt_get_and_sudo, run=apt, search_dirs=[tmp_path / "bin"]
    )

    with pytest.raises(InstallError) as raised:
        server.start()  # no socket opened: the program is looked for first

    assert "redis-server still missing after installing redis-server" in str(raised.value)
    assert "\n" not in str(raised.value)
    assert any(call[-1] == "redis-server" and "install" in call for call in apt.calls)


def test_no_apt_get_no_program_is_a_clear_error(tmp_path: Path) -> None:
    server = PrivateRedis(
        tmp_path / "redis",
        which=lambda _: None,
        run=AptStub(tmp_path / "bin"),
        search_dirs=[tmp_path / "bin"],
    )

    with pytest.raises(InstallError, match="apt-get not found"):
        server.start()


def test_the_command_line_is_loopback_only_and_append_only(tmp_path: Path) -> None:
    server = PrivateRedis(tmp_path / "redis", port=6391)

    argv = server.argv(Path("/usr/bin/redis-server"))

    options = dict(zip(argv[1::2], argv[2::2]))
    assert argv[0] == "/usr/bin/redis-server"
    assert options["--bind"] == "127.0.0.1"
    assert options["--protected-mode"] == "yes"
    assert options["--port"] == "6391"
    assert options["--appendonly"] == "yes"
    assert options["--daemonize"] == "yes"
    assert options["--dir"] == str(tmp_path / "redis")
    assert options["--pidfile"] == str(tmp_path / "redis" / "redis.pid")
    assert options["--logfile"] == str(tmp_path / "redis" / "redis.log")


def test_settings_place_the_server(tmp_path: Path) -> None:
    default = Settings.from_env({"CRUDDUR_DATA_DIR": str(tmp_path)})
    chosen = Settings.from_env({"CRUDDUR_DATA_DIR": str(tmp_path), "CRUDDUR_REDIS_PORT": "6401"})

    server = PrivateRedis.for_settings(chosen)

    assert default.redis_port == DEFAULT_LOCAL_REDIS_PORT != 6379
    assert server.data_dir == tmp_path / "redis"
    assert server.url == "redis://127.0.0.1:6401/0"
    with pytest.raises(ValueError, match="CRUDDUR_REDIS_PORT must be an integer"):
        Settings.from_env({"CRUDDUR_REDIS_PORT": "six"})


def dead_pid() -> int:
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid


def test_a_stale_pid_file_is_not_a_running_server(tmp_path: Path) -> None:
    server = PrivateRedis(tmp_path / "redis")
    server.data_dir.mkdir()
    server.pid_file.write_text(f"{dead_pid()}\n")

    status = server.status()  # no socket opened: the pid is dead

    assert not status.running and status.pid is None
    assert server.stop() is False
    assert not server.pid_file.exists()


def test_redis_url_wins_and_nothing_is_started(tmp_path: Path) -> None:
    settings = Settings(redis_url="redis://cache.internal:6379/2", data_dir=tmp_path)

    assert local_redis_url(settings, start=True) == "redis://cache.internal:6379/2"
    assert not (tmp_path / "redis").exists()


def test_a_private_server_that_is_not_running_is_an_engine_error(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, redis_port=6402)

    with pytest.raises(EngineError, match="cruddur redis local start") as raised:
        local_redis_url(settings)

    assert "redis://127.0.0.1:6402/0" in str(raised.value)
    assert not (tmp_path / "redis").exists()
