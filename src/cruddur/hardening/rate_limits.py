"""Rate limits shared by every gunicorn worker and host: fixed windows counted in Redis.

A window starts with its first hit and lasts `window` seconds (one atomic script: INCRBY, and
EXPIRE on the first hit), so hosts need no agreement on the clock. Hits over the limit still count
within the window but never extend it.

Limits fail open: with Redis unreachable every hit is allowed, the outage is logged once when it
starts and once when it ends, and every allowed-unchecked hit counts in `stats.fail_open`. A limit of
0 is off (no round trip at all).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import redis

from cruddur.redis_outages import RedisOutageGuard

log = logging.getLogger(__name__)

SOCKET_TIMEOUT_SECONDS = 0.25


@dataclass(frozen=True)
class Limit:
    name: str  # sends, new_conversations, signin, signin_address
    limit: int  # hits per window; 0: off
    window: int  # seconds


@dataclass(frozen=True)
class Decision:
    allowed: bool
    limit: int
    remaining: int
    reset: int  # seconds until the window ends (at least 1)


def decide(count: int, limit: int, ttl: int, window: int) -> Decision:
    """The decision for the `count`th hit of a window with `ttl` seconds left."""
    reset = ttl if 0 < ttl <= window else window
    return Decision(count <= limit, limit, max(0, limit - count), max(1, reset))


def client_address(remote_addr: str | None, forwarded_for: str | None, trusted_proxies: int) -> str:
    """The client's address: the socket's, unless `trusted_proxies` proxies sit in front; then
    the `trusted_proxies`th address of X-Forwarded-For from the right (each proxy appends the
    address it received from; anything further left is the client's to invent). A header with
    fewer entries than proxies is ignored."""
    socket_address = remote_addr or "unknown"
    if trusted_proxies <= 0 or not forwarded_for:
        return socket_address
    entries = [e.strip() for e in forwarded_for.split(",") if e.strip()]
    if len(entries) < trusted_proxies:
        return socket_address
    return entries[-trusted_proxies]


@dataclass
class LimiterStats:
    checks: int = 0
    limited: int = 0
    fail_open: int = 0
    outages: int = 0

    def __post_init__(self) -> None:
        self._lock = threading.Lock()

    def count(self, name: str, n: int = 1) -> None:
        with self._lock:
            setattr(self, name, getattr(self, name) + n)

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return {
                "checks": self.checks,
                "limited": self.limited,
                "fail_open": self.fail_open,
                "outages": self.outages,
            }


class RateLimiter(Protocol):
    name: str
    stats: LimiterStats

    def hit(self, limit: Limit, subject: str) -> Decision | None:
        """Count one hit of `subject` against `limit`; None when it could not be counted (fail
        open) or the limit is off."""
        ...

    def refund(self, limit: Limit, subject: str) -> None:
        """Take one hit back (it turned out not to count)."""
        ...


_HIT = """
local n = redis.call('INCR', KEYS[1])
local ttl = redis.call('TTL', KEYS[1])
if n == 1 or ttl < 0 then
  redis.call('EXPIRE', KEYS[1], tonumber(ARGV[1]))
  ttl = tonumber(ARGV[1])
end
return {n, ttl}
"""
_REFUND = """
if redis.call('EXISTS', KEYS[1]) == 1 and tonumber(redis.call('GET', KEYS[1])) > 0 then
  return redis.call('DECR', KEYS[1])
end
return 0
"""


class RedisRateLimiter:
    name = "redis"

    def __init__(
        self,
        url: str,
        prefix: str = "cruddur:",
        client: Any = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.prefix = prefix
        self.stats = LimiterStats()
        self._client = client or redis.Redis.from_url(
            url,
            socket_timeout=SOCKET_TIMEOUT_SECONDS,
            socket_connect_timeout=SOCKET_TIMEOUT_SECONDS,
            decode_responses=True,
        )
        self._hit = self._client.register_script(_HIT)
        self._refund = self._client.register_script(_REFUND)
        self._outages = RedisOutageGuard(
            skipped=lambda: self.stats.count("fail_open"),
            outage_started=self._outage_started,
            outage_ended=lambda: log.warning("rate limits available again"),
            monotonic=monotonic,
        )

    def _key(self, limit: Limit, subject: str) -> str:
        return f"{self.prefix}ratelimit:{limit.name}:{subject}"

    def _outage_started(self, exc: redis.RedisError) -> None:
        self.stats.count("outages")
        log.warning("rate limits unavailable, failing open (every request allowed): %s", exc)

    def hit(self, limit: Limit, subject: str) -> Decision | None:
        if limit.limit <= 0:
            return None
        self.stats.count("checks")
        found = self._outages.run(
            lambda: self._hit(keys=[self._key(limit, subject)], args=[limit.window]), None
        )
        if found is None:
            return None
        decision = decide(int(found[0]), limit.limit, int(found[1]), limit.window)
        if not decision.allowed:
            self.stats.count("limited")
        return decision

    def refund(self, limit: Limit, subject: str) -> None:
        if limit.limit > 0:
            self._outages.run(lambda: self._refund(keys=[self._key(limit, subject)]), None)


class InProcessRateLimiter:
    """One process only (tests, single-worker runs without REDIS_URL): the same windows in a
    dict."""

    name = "memory"

    def __init__(self, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.stats = LimiterStats()
        self._windows: dict[str, tuple[float, int]] = {}
        self._lock = threading.Lock()
        self._monotonic = monotonic

    def hit(self, limit: Limit, subject: str) -> Decision | None:
        if limit.limit <= 0:
            return None
        self.stats.count("checks")
        key = f"{limit.name}:{subject}"
        now = self._monotonic()
        with self._lock:
            ends, count = self._windows.get(key, (0.0, 0))
            if ends <= now:
                ends, count = now + limit.window, 0
            count += 1
            self._windows[key] = (ends, count)
        decision = decide(count, limit.limit, int(ends - now + 0.999), limit.window)
        if not decision.allowed:
            self.stats.count("limited")
        return decision

    def refund(self, limit: Limit, subject: str) -> None:
        key = f"{limit.name}:{subject}"
        with self._lock:
            ends, count = self._windows.get(key, (0.0, 0))
            if count > 0 and ends > self._monotonic():
                self._windows[key] = (ends, count - 1)


class RateLimited(Exception):
    """A hit over `limit`: the API answers 429 with Retry-After and the RateLimit headers."""

    def __init__(self, limit: Limit, decision: Decision) -> None:
        super().__init__(f"rate limit {limit.name} reached")
        self.limit = limit
        self.decision = decision
