"""The private Redis: a real redis-server started, stopped, crashed and restarted (as root when the
tests run as root). The install branch with apt-get stubbed is in
tests/unit/local/test_redis_binaries.py."""

from __future__ import annotations

import os
import signal
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from click.testing import CliRunner

from cruddur.bootstrap import local_redis_url
from cruddur.cli import cli
from cruddur.config import Settings
from cruddur.local.processes import EngineError, free_port, process_alive, read_pid, wait_until
from cruddur.local.redis import PrivateRedis, find_redis_server
from fixtures_redis import answers, delete_keys_with_prefix, redis_client

needs_redis_server = pytest.mark.skipif(
    find_redis_server() is None, reason="redis-server not installed (the install is unit-tested)"
)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[PrivateRedis]:
    """A private Redis not started yet (free port, data in tmp_path/redis), stopped afterwards."""
    manager = PrivateRedis(tmp_path / "redis", port=free_port())
    yield manager
    manager.stop()


@needs_redis_server
def test_start_status_stop(server: PrivateRedis) -> None:
    assert not server.status().running

    started = server.start()

    assert started.running
    assert started.pid == read_pid(server.pid_file)
    assert started.url == f"redis://127.0.0.1:{server.port}/0"
    assert started.data_dir == server.data_dir
    with redis_client(started.url) as client:
        assert client.ping() is True
        assert client.config_get("bind") == {"bind": "127.0.0.1"}
        assert client.config_get("protected-mode") == {"protected-mode": "yes"}
        assert client.config_get("appendonly") == {"appendonly": "yes"}
        assert client.config_get("dir") == {"dir": str(server.data_dir)}
    assert server.log_file.is_file()
    assert server.start() == started  # idempotent: the same server
    assert server.status() == started

    assert server.stop() is True

    assert not server.status().running
    assert not process_alive(started.pid)
    assert not server.pid_file.exists()
    assert not answers(started.url)
    assert server.stop() is False


@needs_redis_server
def test_a_crash_leaves_a_pid_file_that_does_not_block_a_start(server: PrivateRedis) -> None:
    crashed = server.start()
    os.kill(crashed.pid, signal.SIGKILL)
    assert wait_until(lambda: not process_alive(crashed.pid), 10)
    assert read_pid(server.pid_file) == crashed.pid  # left behind

    assert not server.status().running
    restarted = server.start()

    assert restarted.running and restarted.pid != crashed.pid
    assert read_pid(server.pid_file) == restarted.pid
    assert answers(restarted.url)


@needs_redis_server
def test_a_pid_file_naming_another_process_signals_nothing(server: PrivateRedis) -> None:
    server.data_dir.mkdir(parents=True)
    server.pid_file.write_text(f"{os.getpid()}\n")  # a live process that is not redis-server

    assert not server.status().running
    assert server.stop() is False  # and this test process is still here to check
    started = server.start()

    assert started.running and started.pid != os.getpid()


@needs_redis_server
def test_a_port_held_by_another_process_is_a_clear_error(server: PrivateRedis) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as holder:
        holder.bind(("127.0.0.1", server.port))
        holder.listen()

        with pytest.raises(EngineError, match=f"port {server.port} is held by another process"):
            server.start()

    assert not server.status().running


@needs_redis_server
def test_data_survives_a_restart(private_redis: PrivateRedis) -> None:
    """The append-only file is the persistence: no RDB snapshot is written beside it."""
    with redis_client(private_redis.url) as client:
        client.set("idempotency:abc", "done")
        client.incr("counter:sends", 3)

    assert private_redis.stop() is True
    assert not answers(private_redis.url)
    private_redis.start()

    with redis_client(private_redis.url) as client:
        assert client.get("idempotency:abc") == b"done"
        assert client.get("counter:sends") == b"3"
    assert (private_redis.data_dir / "appendonlydir").is_dir()
    assert not (private_redis.data_dir / "dump.rdb").exists()


@needs_redis_server
def test_local_redis_url_starts_only_when_asked(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, redis_port=free_port())
    server = PrivateRedis.for_settings(settings)
    try:
        with pytest.raises(EngineError, match="the private Redis .* is not running"):
            local_redis_url(settings)

        url = local_redis_url(settings, start=True)

        assert url == server.url == f"redis://127.0.0.1:{settings.redis_port}/0"
        assert server.status().running
        assert server.data_dir == tmp_path / "redis"
        assert local_redis_url(settings) == url
        assert answers(url)
    finally:
        server.stop()


@needs_redis_server
def test_local_commands_start_report_and_stop(tmp_path: Path) -> None:
    runner = CliRunner()
    where = ["--dir", str(tmp_path / "redis"), "--port", str(free_port())]
    try:
        started = runner.invoke(cli, ["redis", "local", "start", *where])
        again = runner.invoke(cli, ["redis", "local", "start", *where])
        status = runner.invoke(cli, ["redis", "local", "status", *where])
    finally:
        stopped = runner.invoke(cli, ["redis", "local", "stop", *where])
    status_after = runner.invoke(cli, ["redis", "local", "status", *where])
    stopped_again = runner.invoke(cli, ["redis", "local", "stop", *where])

    assert started.exit_code == 0, started.output
    assert f"REDIS_URL=redis://127.0.0.1:{where[3]}/0" in started.output
    assert again.exit_code == 0 and again.output == started.output
    assert status.exit_code == 0 and status.output == started.output
    assert stopped.exit_code == 0 and stopped.output.strip() == "Redis stopped"
    assert status_after.exit_code == 1 and "Redis is not running" in status_after.output
    assert stopped_again.exit_code == 0 and "Redis was not running" in stopped_again.output


@needs_redis_server
def test_a_start_that_fails_is_one_line(tmp_path: Path) -> None:
    runner = CliRunner()
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]

        result = runner.invoke(
            cli, ["redis", "local", "start", "--dir", str(tmp_path / "r"), "--port", str(port)]
        )

    assert result.exit_code == 1
    assert result.output.count("\n") == 1
    assert f"Error: port {port} is held by another process" in result.output


def test_the_shared_fixtures_give_a_prefix_on_a_live_server(
    redis_url: str, redis_prefix: str
) -> None:
    assert redis_prefix.startswith("test-") and redis_prefix.endswith(":")
    assert answers(redis_url)
    with redis_client(redis_url) as client:
        client.set(f"{redis_prefix}a", "1")
        client.set(f"{redis_prefix}b", "2")
        other = f"other-{redis_prefix}"
        client.set(other, "kept")
        try:
            assert delete_keys_with_prefix(client, redis_prefix) == 2
            assert client.exists(f"{redis_prefix}a", f"{redis_prefix}b") == 0
            assert client.get(other) == b"kept"
        finally:
            client.delete(other)


def test_a_stopped_private_redis_refuses_connections(private_redis: PrivateRedis) -> None:
    """What outage tests rely on: the fixture's server stops and starts on the same URL."""
    url = private_redis.url
    with redis_client(url) as client:
        private_redis.stop()
        with pytest.raises(redis.ConnectionError):
            client.ping()
        private_redis.start()
        assert client.ping() is True
