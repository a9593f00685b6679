"""Fixtures of the hardening tests: the app with the idempotency store and the rate limiter on the
session's real Redis (under this test's key prefix), limits chosen per test."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest

from cruddur.api import create_app
from cruddur.hardening.idempotency import RedisIdempotencyStore
from cruddur.hardening.rate_limits import RedisRateLimiter
from fixtures_api import ApiClient, FlaskTransport


@pytest.fixture
def keys(redis_url: str, redis_prefix: str) -> RedisIdempotencyStore:
    return RedisIdempotencyStore(redis_url, prefix=redis_prefix)


@pytest.fixture
def limiter(redis_url: str, redis_prefix: str) -> RedisRateLimiter:
    return RedisRateLimiter(redis_url, prefix=redis_prefix)


@pytest.fixture
def hardened(settings, repo, users, signing_key, keys, limiter) -> Callable[..., Any]:
    """`hardened(**limits)`: the app with these Settings fields (rate limits), the key store and
    limiter on Redis; returns an anonymous ApiClient (`.transport.app` is the app)."""

    def build(idempotency: Any = None, rate_limiter: Any = None, **fields: Any) -> ApiClient:
        app = create_app(
            replace(settings, **fields),
            messages=repo,
            users=users,
            idempotency=idempotency or keys,
            limiter=rate_limiter or limiter,
        )
        return ApiClient(FlaskTransport(app))

    return build
