"""`cruddur redis local ...`: the private Redis of local runs (used when REDIS_URL is unset)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console

from cruddur.cli.common import one_line_errors
from cruddur.config import Settings
from cruddur.local.redis import PrivateRedis, PrivateRedisStatus

F = TypeVar("F", bound=Callable[..., Any])
console = Console(highlight=False, soft_wrap=True)


@click.group("redis")
def redis_group() -> None:
    """Redis, the cache's engine (REDIS_URL, else the private server under .data/redis)."""


@redis_group.group()
def local() -> None:
    """The private Redis of local runs (used when REDIS_URL is unset)."""


def _server(data_dir: Path | None, port: int | None) -> PrivateRedis:
    default = PrivateRedis.for_settings(Settings.from_env())
    return PrivateRedis(data_dir or default.data_dir, port=port or default.port)


def _options(func: F) -> F:
    """`--dir` and `--port`, as every `redis local` command takes them."""
    func = click.option(
        "--dir",
        "data_dir",
        type=click.Path(file_okay=False, path_type=Path),
        help="Data folder (default: $CRUDDUR_DATA_DIR/redis, i.e. .data/redis).",
    )(func)
    return click.option(
        "--port",
        type=click.IntRange(1, 65535),
        help="Port on 127.0.0.1 (default: $CRUDDUR_REDIS_PORT, else 6390).",
    )(func)


def _running(status: PrivateRedisStatus) -> None:
    console.print(f"Redis is running (pid {status.pid}, data in {status.data_dir})")
    console.print(f"REDIS_URL={status.url}")


@local.command("start")
@_options
@one_line_errors
def local_start(data_dir: Path | None, port: int | None) -> None:
    """Start the private Redis (installing redis-server if needed); idempotent."""
    _running(_server(data_dir, port).start())


@local.command("stop")
@_options
@one_line_errors
def local_stop(data_dir: Path | None, port: int | None) -> None:
    """Stop the private Redis; idempotent."""
    stopped = _server(data_dir, port).stop()
    console.print("Redis stopped" if stopped else "Redis was not running")


@local.command("status")
@_options
@one_line_errors
def local_status(data_dir: Path | None, port: int | None) -> None:
    """Say whether the private Redis runs; exit 1 when it does not."""
    status = _server(data_dir, port).status()
    if status.running:
        _running(status)
        return
    console.print(f"Redis is not running (port {status.port}, data in {status.data_dir})")
    raise SystemExit(1)


COMMANDS = [redis_group]
