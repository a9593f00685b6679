"""The users store behind a cache: every authenticated request looks its user up (by uuid for the
local identity provider's tokens, by Cognito id for Cognito's), and opening a conversation looks
the other one up by handle. Found users are cached (not absent ones: a user who signs up must be
found at once); the store's writes through here drop the user's entries, and a TTL bounds changes
made elsewhere (the Cognito post-confirmation Lambda, `cruddur db`).

The look-up of every request (by uuid or Cognito id: the token's subject) is also kept in the
process for LOCAL_USER_SECONDS, which spares each request a Redis round trip: a change made
through this process drops it at once, one made through another process (another worker or host)
is seen here within those seconds. Nothing the API serves changes a user: display names and
Cognito ids change through the tool-kit and the Cognito Lambda, whose changes the Redis TTL
bounds anyway."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import asdict
from datetime import datetime
from typing import Any

from cruddur.cache.backend import CacheBackend
from cruddur.cache.codec import dumps
from cruddur.users.models import User
from cruddur.users.repository import UserRepository, normalize_handle

USER_TTL_SECONDS = 300
LOCAL_USER_SECONDS = 5.0
LOCAL_USERS_KEPT = 10_000


def user_scope(user_uuid: str) -> str:
    return f"user:{user_uuid}"


# A handle or a Cognito id names a user before we know their uuid: such entries get a scope of
# their own, and a change of the user drops them through the uuid's entry (which lists them).
def handle_scope(handle: str) -> str:
    return f"handle:{normalize_handle(handle)}"


def cognito_scope(sub: str) -> str:
    return f"cognito:{sub}"


def dump_user(user: User) -> str:
    return dumps({**asdict(user), "created_at": user.created_at.isoformat()})


def load_user(text: str) -> User:
    data = json.loads(text)
    return User(**{**data, "created_at": datetime.fromisoformat(data["created_at"])})


class CachedUserRepository:
    """The UserRepository's reads by uuid, handle and Cognito id, cached; everything else passes
    through to `inner`."""

    def __init__(
        self,
        inner: UserRepository,
        cache: CacheBackend,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.inner = inner
        self.cache = cache
        self._monotonic = monotonic
        self._local: dict[str, tuple[User, float]] = {}
        self._local_lock = threading.Lock()

    def _kept_locally(self, scope: str, find: Callable[[], User | None]) -> User | None:
        """The request path's look-up: this process's copy while it is fresh, else `find`."""
        now = self._monotonic()
        with self._local_lock:
            kept = self._local.get(scope)
        if kept is not None and now < kept[1]:
            return kept[0]
        user = find()
        if user is not None:
            with self._local_lock:
                if len(self._local) >= LOCAL_USERS_KEPT:
                    self._local.clear()  # bounded; refilled by the next requests
                self._local[scope] = (user, now + LOCAL_USER_SECONDS)
        return user

    def _forget_locally(self, *scopes: str) -> None:
        with self._local_lock:
            for scope in scopes:
                self._local.pop(scope, None)

    def _cached(self, scope: str, find: Callable[[], User | None]) -> User | None:
        cached, generation = self.cache.lookup(scope, scope)
        if cached is not None:
            return load_user(cached)
        user = find()
        if user is not None:
            self.cache.fill(scope, dump_user(user), scope, generation, USER_TTL_SECONDS)
        return user

    def find_by_uuid(self, uuid: str) -> User | None:
        scope = user_scope(uuid)
        return self._kept_locally(
            scope, lambda: self._cached(scope, lambda: self.inner.find_by_uuid(uuid))
        )

    def find_by_handle(self, handle: str) -> User | None:
        return self._cached(handle_scope(handle), lambda: self.inner.find_by_handle(handle))

    def find_by_cognito_id(self, sub: str) -> User | None:
        scope = cognito_scope(sub)
        return self._kept_locally(
            scope, lambda: self._cached(scope, lambda: self.inner.find_by_cognito_id(sub))
        )

    def forget(self, user: User | None) -> None:
        """Drop every entry of `user` (as it was before a change)."""
        if user is None:
            return
        self._forget_locally(user_scope(user.uuid))
        if user.cognito_user_id:
            self._forget_locally(cognito_scope(user.cognito_user_id))
        self.cache.invalidate(user_scope(user.uuid), [user_scope(user.uuid)])
        self.cache.invalidate(handle_scope(user.handle), [handle_scope(user.handle)])
        if user.cognito_user_id:
            sub = user.cognito_user_id
            self.cache.invalidate(cognito_scope(sub), [cognito_scope(sub)])

    def update_display_name(self, uuid: str, display_name: str) -> User:
        before = self.inner.find_by_uuid(uuid)
        updated = self.inner.update_display_name(uuid, display_name)
        self.forget(before)
        return updated

    def set_cognito_user_id(self, uuid: str, sub: str | None) -> None:
        before = self.inner.find_by_uuid(uuid)
        self.inner.set_cognito_user_id(uuid, sub)
        self.forget(before)
        if sub:
            self._forget_locally(cognito_scope(sub))
            self.cache.invalidate(cognito_scope(sub), [cognito_scope(sub)])

    def __getattr__(self, name: str) -> Any:
        # the rest of the store (create, verify_password, find_by_handles, ping, pool, ...) is
        # not cached: sign-in must see a new password at once, and lists are rare
        return getattr(self.inner, name)
