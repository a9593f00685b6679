"""Server-side sessions of the web UI.

The cookie holds an opaque random id and nothing else; the store keeps, under a hash of that id,
the access token the session stands for, its expiry (the token's `exp`) and the session's CSRF
token. An entry expires with its token, and sign-out deletes it, so a stolen cookie is worth
nothing after either. Two stores behind one interface: Redis (shared by every gunicorn worker and
host; used when REDIS_URL is set) and an in-process dict (one process: tests and single-process
development only).

The store also keeps short-lived sign-in attempts of the Cognito Hosted UI flow (the PKCE verifier
and the `state`), taken exactly once.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

SESSION_ID_BYTES = 32
CSRF_TOKEN_BYTES = 32
# a sign-in through the Hosted UI must come back within this many seconds
LOGIN_ATTEMPT_TTL_SECONDS = 600
# the in-process store's bound: enough for development, never a memory leak
MAX_IN_PROCESS_ENTRIES = 10_000


class SessionStoreUnavailable(Exception):
    """The session store (Redis) does not answer: nobody can be recognised; the page says so
    with a retry (503)."""


@dataclass(frozen=True)
class WebSession:
    id: str
    access_token: str
    expires_at: int  # the access token's `exp`, Unix seconds
    csrf_token: str


def new_secret(nbytes: int = SESSION_ID_BYTES) -> str:
    return secrets.token_urlsafe(nbytes)


def _digest(kind: str, raw_id: str) -> str:
    """Entries are stored under a hash of the cookie's value: whoever reads the store (a Redis
    dump, a MONITOR) cannot turn what they see into a cookie."""
    return f"{kind}:{hashlib.sha256(raw_id.encode()).hexdigest()}"


class SessionStore(Protocol):
    def create(self, access_token: str, expires_at: int) -> WebSession: ...

    def get(self, session_id: str) -> WebSession | None: ...

    def delete(self, session_id: str) -> None: ...

    def put_login_attempt(self, attempt_id: str, data: dict[str, str]) -> None: ...

    def take_login_attempt(self, attempt_id: str) -> dict[str, str] | None: ...


class _KeyValueSessionStore:
    """The session logic over four primitives a back end provides."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock

    # primitives -------------------------------------------------------------------------------
    def _set(self, key: str, value: str, ttl: int) -> None:
        raise NotImplementedError

    def _get(self, key: str) -> str | None:
        raise NotImplementedError

    def _delete(self, key: str) -> None:
        raise NotImplementedError

    def _take(self, key: str) -> str | None:
        raise NotImplementedError

    # sessions ---------------------------------------------------------------------------------
    def create(self, access_token: str, expires_at: int) -> WebSession:
        ttl = int(expires_at - self._clock())
        if ttl <= 0:
            raise ValueError("the access token has already expired")
        session = WebSession(
            new_secret(), access_token, int(expires_at), new_secret(CSRF_TOKEN_BYTES)
        )
        value = {"t": session.access_token, "e": session.expires_at, "c": session.csrf_token}
        self._set(_digest("session", session.id), json.dumps(value), ttl)
        return session

    def get(self, session_id: str) -> WebSession | None:
        if not session_id or len(session_id) > 128:
            return None
        raw = self._get(_digest("session", session_id))
        if raw is None:
            return None
        try:
            value: dict[str, Any] = json.loads(raw)
            session = WebSession(session_id, str(value["t"]), int(value["e"]), str(value["c"]))
        except (ValueError, KeyError, TypeError):
            return None
        if session.expires_at <= self._clock():
            return None
        return session

    def delete(self, session_id: str) -> None:
        if session_id and len(session_id) <= 128:
            self._delete(_digest("session", session_id))

    # sign-in attempts (Cognito Hosted UI) --------------------------------------------------------
    def put_login_attempt(self, attempt_id: str, data: dict[str, str]) -> None:
        self._set(_digest("login", attempt_id), json.dumps(data), LOGIN_ATTEMPT_TTL_SECONDS)

    def take_login_attempt(self, attempt_id: str) -> dict[str, str] | None:
        """The attempt's data, deleted in the same step: a callback is honoured once."""
        if not attempt_id or len(attempt_id) > 128:
            return None
        raw = self._take(_digest("login", attempt_id))
        if raw is None:
            return None
        try:
            data = json.loads(raw)
        except ValueError:
            return None
        return data if isinstance(data, dict) else None


class InProcessSessionStore(_KeyValueSessionStore):
    """One process's sessions (a dict with expiries, bounded). Another gunicorn worker does not see
    them: for tests and single-process development only."""

    name = "in-process"

    def __init__(
        self,
        clock: Callable[[], float] = time.time,
        max_entries: int = MAX_IN_PROCESS_ENTRIES,
    ) -> None:
        super().__init__(clock)
        self._entries: dict[str, tuple[float, str]] = {}
        self._max = max_entries
        self._lock = threading.Lock()

    def _set(self, key: str, value: str, ttl: int) -> None:
        with self._lock:
            now = self._clock()
            if len(self._entries) >= self._max:
                for stale in [k for k, (until, _) in self._entries.items() if until <= now]:
                    del self._entries[stale]
            while len(self._entries) >= self._max:  # still full: the oldest entry goes
                del self._entries[next(iter(self._entries))]
            self._entries[key] = (now + ttl, value)

    def _get(self, key: str) -> str | None:
        with self._lock:
            found = self._entries.get(key)
            if found is None:
                return None
            if found[0] <= self._clock():
                del self._entries[key]
                return None
            return found[1]

    def _delete(self, key: str) -> None:
        with self._lock:
            self._entries.pop(key, None)

    def _take(self, key: str) -> str | None:
        with self._lock:
            found = self._entries.pop(key, None)
        if found is None or found[0] <= self._clock():
            return None
        return found[1]


class RedisSessionStore(_KeyValueSessionStore):
    """Sessions in Redis, shared by every worker and host, with the cache's connection settings
    (short socket timeouts) and key prefix (`cruddur:{table}:`), so environments sharing a Redis
    keep their sessions apart. Unlike the cache, Redis is needed here: when it does not answer,
    SessionStoreUnavailable."""

    name = "redis"

    def __init__(
        self,
        url: str,
        prefix: str = "cruddur:",
        client: Any = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(clock)
        import redis  # the redis package only where it is used

        from cruddur.cache.redis_backend import SOCKET_TIMEOUT_SECONDS

        self._errors: tuple[type[Exception], ...] = (redis.RedisError,)
        self.prefix = prefix
        self._client = client or redis.Redis.from_url(
            url,
            socket_timeout=SOCKET_TIMEOUT_SECONDS,
            socket_connect_timeout=SOCKET_TIMEOUT_SECONDS,
            decode_responses=True,
        )

    def _key(self, key: str) -> str:
        return f"{self.prefix}web:{key}"

    def _call(self, operation: Callable[[], Any]) -> Any:
        try:
            return operation()
        except self._errors as exc:
            raise SessionStoreUnavailable(f"the session store does not answer: {exc}") from exc

    def _set(self, key: str, value: str, ttl: int) -> None:
        self._call(lambda: self._client.set(self._key(key), value, ex=ttl))

    def _get(self, key: str) -> str | None:
        return self._call(lambda: self._client.get(self._key(key)))

    def _delete(self, key: str) -> None:
        self._call(lambda: self._client.delete(self._key(key)))

    def _take(self, key: str) -> str | None:
        return self._call(lambda: self._client.getdel(self._key(key)))
