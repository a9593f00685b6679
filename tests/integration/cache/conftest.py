"""Fixtures of the cache's integration tests: a Redis cache of the test's own keys, and the real
users store counting the look-ups that reach PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest

from cruddur.cache.redis_backend import RedisCache


class CountingUsers:
    """The real users store, counting the look-ups that reach PostgreSQL."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.lookups = 0

    def __getattr__(self, name: str) -> Any:
        found = getattr(self.inner, name)
        if name.startswith("find_by"):

            def counted(*args: Any, **kwargs: Any) -> Any:
                self.lookups += 1
                return found(*args, **kwargs)

            return counted
        return found


@pytest.fixture
def cache(redis_url, redis_prefix) -> RedisCache:
    return RedisCache(redis_url, prefix=redis_prefix)


@pytest.fixture
def counting_users(users) -> CountingUsers:
    return CountingUsers(users)
