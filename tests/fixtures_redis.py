"""Redis fixtures (cache issue): a real server, never a mock.

The server is the machine's own at 127.0.0.1:6379 when it answers PING (CRUDDUR_TEST_REDIS_URL
names another), else a private one (`cruddur.local.redis.PrivateRedis`) started for the session in
a temporary folder on a free port. Tests share it: each gets its own key prefix (`redis_prefix`),
and the keys under it are deleted after the test. A test that stops and starts Redis (an outage)
uses `private_redis`, a server of its own, never the shared one.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from cruddur.local.installers import InstallError
from cruddur.local.processes import free_port
from cruddur.local.redis import PrivateRedis

MACHINE_REDIS_URL = "redis://127.0.0.1:6379/0"


def redis_client(url: str) -> redis.Redis:
    """A client that answers at once when the server is down (no retries, short timeouts)."""
    return redis.Redis.from_url(
        url, socket_connect_timeout=2, socket_timeout=5, retry=Retry(NoBackoff(), 0)
    )


def answers(url: str) -> bool:
    try:
        with redis_client(url) as client:
            return bool(client.ping())
    except (redis.RedisError, OSError):
        return False


def delete_keys_with_prefix(client: redis.Redis, prefix: str) -> int:
    """Delete every key starting with `prefix` (SCAN, then DEL in batches); how many were
    deleted. The prefix must hold no glob characters (* ? [ ] \\)."""
    deleted = 0
    batch: list[bytes] = []
    for key in client.scan_iter(match=f"{prefix}*", count=500):
        batch.append(key)
        if len(batch) >= 500:
            deleted += int(client.delete(*batch))
            batch.clear()
    if batch:
        deleted += int(client.delete(*batch))
    return deleted


def start_private_redis(folder: Path) -> PrivateRedis:
    """A PrivateRedis started in `folder` on a free port (installing redis-server if needed;
    the test is skipped when that is impossible here)."""
    server = PrivateRedis(folder / "redis", port=free_port())
    try:
        server.start()
    except InstallError as exc:
        pytest.skip(f"no Redis at 127.0.0.1:6379 and redis-server cannot be installed: {exc}")
    return server


@pytest.fixture(scope="session")
def redis_server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The URL of a running Redis the session shares (database 0; keys under test prefixes)."""
    configured = os.environ.get("CRUDDUR_TEST_REDIS_URL")
    if configured:
        yield configured
        return
    if answers(MACHINE_REDIS_URL):
        yield MACHINE_REDIS_URL
        return
    server = start_private_redis(tmp_path_factory.mktemp("redis-session"))
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture
def redis_prefix(redis_server_url: str) -> Iterator[str]:
    """This test's key prefix (`test-<8 hex>:`); its keys are deleted after the test."""
    prefix = f"test-{uuid.uuid4().hex[:8]}:"
    yield prefix
    with redis_client(redis_server_url) as client:
        delete_keys_with_prefix(client, prefix)


@pytest.fixture
def redis_url(redis_server_url: str, redis_prefix: str) -> str:
    """The shared server's URL. Keys a test writes must start with `redis_prefix`: those are
    the keys cleaned up after it (asking for this fixture sets the prefix up too)."""
    return redis_server_url


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    """A Redis of this test's own (started, on a free port, data in tmp_path/redis), stopped
    afterwards: the test may stop and start it (`.stop()`, `.start()`; `.url` stays the same)."""
    server = start_private_redis(tmp_path)
    try:
        yield server
    finally:
        server.stop()
