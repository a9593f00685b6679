"""The store of idempotency keys: one record per (user, key), shared by every gunicorn worker and
host through Redis (with persistence: the private Redis of `make dev` runs append-only; in
production ElastiCache with persistence and replication).

A record is first *running* (claimed by one request, with a token and a lease), then *done* (the
status and body answered, kept for 24 hours). Claiming is one atomic script: the first request
stores the running record, any other one reads what is there. A request that fails in a way worth
retrying releases its claim; one whose process dies leaves a lease that expires.

The store never answers "no record" when it cannot tell: an unreachable Redis raises
`IdempotencyUnavailable`, and the API answers 503 rather than risk storing twice.
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

import redis

log = logging.getLogger(__name__)

KEY_TTL_SECONDS = 24 * 3600
# How long a claim holds without an answer (a process that died mid-request): far longer than a
# send can take (the engines' retries are bounded well below it).
LEASE_SECONDS = 60
SOCKET_TIMEOUT_SECONDS = 0.25
MAX_KEY_CHARS = 255


class IdempotencyUnavailable(Exception):
    """The key store cannot be reached: whether the key was used is unknown."""


def valid_key(key: str) -> bool:
    """1 to 255 printable ASCII characters (space to tilde)."""
    return 1 <= len(key) <= MAX_KEY_CHARS and all(" " <= c <= "~" for c in key)


def fingerprint(method: str, path: str, body: bytes) -> str:
    """What makes two requests "the same": method, path and body. A JSON body counts by its
    content (key order and whitespace aside); anything else byte for byte."""
    try:
        canonical = json.dumps(
            json.loads(body), sort_keys=True, separators=(",", ":"), ensure_ascii=False
        ).encode()
    except (ValueError, RecursionError, UnicodeDecodeError):
        canonical = body
    digest = hashlib.sha256()
    for part in (method.encode(), path.encode(), canonical):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


@dataclass(frozen=True)
class StoredAnswer:
    status: int
    body: str
    content_type: str
    location: str | None = None  # a redirect's target (the web forms answer 303)


class ClaimOutcome(StrEnum):
    NEW = "new"  # this request holds the key: run it, then complete or release
    REPLAY = "replay"  # answered before: send `answer` again
    MISMATCH = "mismatch"  # the key was used for another request
    RUNNING = "running"  # the same request is running elsewhere


@dataclass(frozen=True)
class Claim:
    outcome: ClaimOutcome
    token: str = ""
    answer: StoredAnswer | None = None


def claim_from_record(raw: str | None, fp: str, token: str) -> Claim:
    """What a stored record (None: none, this request stored its own) means for request `fp`."""
    if raw is None:
        return Claim(ClaimOutcome.NEW, token)
    try:
        record = json.loads(raw)
    except ValueError:
        return Claim(ClaimOutcome.RUNNING)  # unreadable: never run twice
    if record.get("fp") != fp:
        return Claim(ClaimOutcome.MISMATCH)
    if record.get("state") == "done":
        location = record.get("loc")
        answer = StoredAnswer(
            int(record["status"]),
            str(record["body"]),
            str(record["ct"]),
            str(location) if location is not None else None,
        )
        return Claim(ClaimOutcome.REPLAY, answer=answer)
    return Claim(ClaimOutcome.RUNNING)


def _running(fp: str, token: str) -> str:
    return json.dumps({"state": "running", "fp": fp, "token": token})


def _done(fp: str, answer: StoredAnswer) -> str:
    return json.dumps(
        {
            "state": "done",
            "fp": fp,
            "status": answer.status,
            "body": answer.body,
            "ct": answer.content_type,
            "loc": answer.location,
        }
    )


class IdempotencyStore(Protocol):
    name: str

    def claim(self, user: str, key: str, fp: str) -> Claim:
        """Claim `key` of `user` for request `fp`, or say what holds it. Raises
        IdempotencyUnavailable."""
        ...

    def complete(self, user: str, key: str, fp: str, token: str, answer: StoredAnswer) -> None:
        """Record the answer of a claim (kept KEY_TTL_SECONDS). Raises IdempotencyUnavailable."""
        ...

    def release(self, user: str, key: str, token: str) -> None:
        """Give a claim up (nothing was stored): the next request with the key runs."""
        ...


_CLAIM = """
local stored = redis.call('GET', KEYS[1])
if stored then return stored end
redis.call('SET', KEYS[1], ARGV[1], 'EX', tonumber(ARGV[2]))
return false
"""
# only the holder of the claim completes or releases it (a lease that expired may be someone
# else's claim by now)
_COMPLETE = """
local stored = redis.call('GET', KEYS[1])
if not stored then return 0 end
local ok, record = pcall(cjson.decode, stored)
if not ok or record['token'] ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'EX', tonumber(ARGV[3]))
return 1
"""
_RELEASE = """
local stored = redis.call('GET', KEYS[1])
if not stored then return 0 end
local ok, record = pcall(cjson.decode, stored)
if not ok or record['token'] ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
return 1
"""


class RedisIdempotencyStore:
    name = "redis"

    def __init__(self, url: str, prefix: str = "cruddur:", client: Any = None) -> None:
        self.prefix = prefix
        self._client = client or redis.Redis.from_url(
            url,
            socket_timeout=SOCKET_TIMEOUT_SECONDS,
            socket_connect_timeout=SOCKET_TIMEOUT_SECONDS,
            decode_responses=True,
        )
        self._claim = self._client.register_script(_CLAIM)
        self._complete = self._client.register_script(_COMPLETE)
        self._release = self._client.register_script(_RELEASE)

    def _key(self, user: str, key: str) -> str:
        # hashed: any printable key makes a safe, bounded Redis key
        return f"{self.prefix}idempotency:{user}:{hashlib.sha256(key.encode()).hexdigest()}"

    def _call(self, operation: Callable[[], Any]) -> Any:
        # Not behind cruddur.redis_outages: that guard serves a default while Redis is away, and
        # this store has none to serve (every failure is a 503); it asks Redis every time, so the
        # first keyed send after Redis comes back is accepted without waiting out a pause.
        try:
            return operation()
        except redis.RedisError as exc:
            log.warning("idempotency key store unavailable: %s", exc)
            raise IdempotencyUnavailable(str(exc)) from exc

    def claim(self, user: str, key: str, fp: str) -> Claim:
        token = secrets.token_hex(16)
        stored = self._call(
            lambda: self._claim(
                keys=[self._key(user, key)], args=[_running(fp, token), LEASE_SECONDS]
            )
        )
        return claim_from_record(stored if stored else None, fp, token)

    def complete(self, user: str, key: str, fp: str, token: str, answer: StoredAnswer) -> None:
        self._call(
            lambda: self._complete(
                keys=[self._key(user, key)], args=[token, _done(fp, answer), KEY_TTL_SECONDS]
            )
        )

    def release(self, user: str, key: str, token: str) -> None:
        self._call(lambda: self._release(keys=[self._key(user, key)], args=[token]))


class InProcessIdempotencyStore:
    """One process only (tests, single-worker runs without REDIS_URL): the same rules in a dict."""

    name = "memory"

    def __init__(self, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._records: dict[tuple[str, str], tuple[float, str]] = {}
        self._lock = threading.Lock()
        self._monotonic = monotonic

    def _get(self, k: tuple[str, str]) -> str | None:
        found = self._records.get(k)
        if found is None:
            return None
        expires, raw = found
        if expires <= self._monotonic():
            del self._records[k]
            return None
        return raw

    def claim(self, user: str, key: str, fp: str) -> Claim:
        token = secrets.token_hex(16)
        with self._lock:
            stored = self._get((user, key))
            if stored is None:
                self._records[(user, key)] = (
                    self._monotonic() + LEASE_SECONDS,
                    _running(fp, token),
                )
        return claim_from_record(stored, fp, token)

    def _holder(self, k: tuple[str, str], token: str) -> bool:
        stored = self._get(k)
        return stored is not None and json.loads(stored).get("token") == token

    def complete(self, user: str, key: str, fp: str, token: str, answer: StoredAnswer) -> None:
        with self._lock:
            if self._holder((user, key), token):
                self._records[(user, key)] = (
                    self._monotonic() + KEY_TTL_SECONDS,
                    _done(fp, answer),
                )

    def release(self, user: str, key: str, token: str) -> None:
        with self._lock:
            if self._holder((user, key), token):
                del self._records[(user, key)]
