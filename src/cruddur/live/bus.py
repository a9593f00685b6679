"""The event bus: where the API and the stream processor publish, and where every open event stream
reads, whichever process or host it runs in.

Redis Streams, not pub/sub: a client that reconnects must get what it missed. One stream per user
(`{prefix}events:user:{user_uuid}`: the user's moved conversation rows) and one per group
(`{prefix}events:group:{group_uuid}`: the group's messages), each capped at about `MAX_LEN`
entries and expiring `TTL_SECONDS` after its last write. A reader follows its user's stream and,
when a conversation is open, that group's: one blocking XREAD over both.

The id a client sees combines both positions, `<user stream id>_<group stream id>` (a `Cursor`),
so one `Last-Event-ID` resumes both. Ids only move forward; an event is read once per cursor.
When a resumed cursor is older than what the streams still hold, `missed` says so and the client
reloads its data instead.

`InProcessEventBus` behaves the same inside one process (tests; the API refuses to stream without
a shared bus, one process cannot reach another's clients).
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

log = logging.getLogger(__name__)

MAX_LEN = 1000
TTL_SECONDS = 86_400
PUBLISH_TIMEOUT_SECONDS = 0.5
READ_BATCH = 100
# every stream waiting on the bus holds a connection of the reader pool (redis-py's default pool
# stops at 100): more than the threads of a worker (cruddur serve --threads, at most 1024)
MAX_READER_CONNECTIONS = 2048
START = "0-0"

MESSAGE = "message"
CONVERSATION = "conversation"
CONVERSATION_GONE = "conversation_gone"

_STREAM_ID = re.compile(r"^\d{1,20}-\d{1,20}$")


class LiveUnavailable(Exception):
    """The bus cannot be read (Redis unreachable)."""


@dataclass(frozen=True)
class Cursor:
    """Where a reader is in its user's stream and its open group's stream."""

    user: str = START
    group: str = START

    @property
    def event_id(self) -> str:
        return f"{self.user}_{self.group}"

    @classmethod
    def parse(cls, text: str | None) -> Cursor | None:
        """The cursor of an event id; None for anything that is not one."""
        if not text or len(text) > 100:
            return None
        user, sep, group = text.strip().partition("_")
        if not sep or not _STREAM_ID.match(user) or not _STREAM_ID.match(group):
            return None
        return cls(user, group)


@dataclass(frozen=True)
class Event:
    type: str  # MESSAGE | CONVERSATION
    data: dict[str, Any]
    cursor: Cursor  # the reader's position right after this event

    @property
    def id(self) -> str:
        return self.cursor.event_id


def id_key(stream_id: str) -> tuple[int, int]:
    ms, _, seq = stream_id.partition("-")
    return int(ms), int(seq or 0)


class EventBus(Protocol):
    def publish_message(self, group_uuid: str, message: dict[str, Any]) -> None:
        """The group's stream gets a `message` event (`message` plus its `message_group_uuid`).
        Never raises: a send is stored whether or not its event goes out."""

    def publish_conversation(self, owner_uuid: str, conversation: dict[str, Any]) -> None:
        """The owner's stream gets a `conversation` event (a row of the owner's list). Never
        raises."""

    def publish_conversation_gone(self, owner_uuid: str, group_uuid: str) -> None:
        """The owner's stream gets a `conversation_gone` event (`{uuid}`: the group left the
        owner's list: they left it or were removed). Never raises."""

    def current(self, user_uuid: str, group_uuid: str | None) -> Cursor:
        """The position after the newest event of both streams: a new reader starts here."""

    def missed(self, user_uuid: str, group_uuid: str | None, after: Cursor) -> bool:
        """Whether events after `after` are gone (trimmed or expired): the reader must reload."""

    def read(
        self, user_uuid: str, group_uuid: str | None, after: Cursor, block_ms: int
    ) -> list[Event]:
        """Events after `after`, oldest first per stream; waits up to `block_ms` for one. Raises
        LiveUnavailable."""


def message_event(group_uuid: str, message: dict[str, Any]) -> dict[str, Any]:
    return {**message, "message_group_uuid": group_uuid}


class _Keys:
    def __init__(self, prefix: str) -> None:
        self.prefix = prefix

    def user(self, user_uuid: str) -> str:
        return f"{self.prefix}events:user:{user_uuid}"

    def group(self, group_uuid: str) -> str:
        return f"{self.prefix}events:group:{group_uuid}"


def _events(
    after: Cursor,
    user_entries: list[tuple[str, str, str]],
    group_entries: list[tuple[str, str, str]],
) -> list[Event]:
    """(id, type, json) entries of both streams -> events whose cursors move forward one by one."""
    events: list[Event] = []
    cursor = after
    for stream_id, kind, data in user_entries:
        cursor = Cursor(stream_id, cursor.group)
        events.append(Event(kind, json.loads(data), cursor))
    for stream_id, kind, data in group_entries:
        cursor = Cursor(cursor.user, stream_id)
        events.append(Event(kind, json.loads(data), cursor))
    return events


def _too_old(stream_id: str, now_ms: int) -> bool:
    """A position older than the retention: a stream that expired since may have held more."""
    return stream_id != START and id_key(stream_id)[0] < now_ms - TTL_SECONDS * 1000


# --- Redis --------------------------------------------------------------------------------------


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class RedisEventBus:
    """The bus on Redis Streams, shared by every worker, host and the stream processor."""

    name = "redis"

    def __init__(
        self,
        url: str,
        prefix: str = "cruddur:",
        *,
        publisher: Any = None,
        reader: Any = None,
        now_ms: Callable[[], int] = lambda: int(time.time() * 1000),
    ) -> None:
        import redis  # only where the bus is used

        self.keys = _Keys(prefix)
        self._now_ms = now_ms
        self._errors = (redis.RedisError, OSError)
        # publishing must never hold a send up for long; reads block up to their own limit, so
        # their connections (one per open stream while it waits) come from another pool
        self._publisher: Any = publisher or redis.Redis.from_url(
            url,
            socket_connect_timeout=PUBLISH_TIMEOUT_SECONDS,
            socket_timeout=PUBLISH_TIMEOUT_SECONDS,
        )
        self._reader: Any = reader or redis.Redis.from_url(
            url,
            socket_connect_timeout=2,
            socket_timeout=30,
            health_check_interval=30,
            max_connections=MAX_READER_CONNECTIONS,
        )
        self.published = 0
        self.publish_errors = 0

    def _publish(self, key: str, kind: str, data: dict[str, Any]) -> None:
        try:
            pipe = self._publisher.pipeline(transaction=False)
            pipe.xadd(
                key,
                {"type": kind, "data": json.dumps(data, ensure_ascii=False)},
                maxlen=MAX_LEN,
                approximate=True,
            )
            pipe.expire(key, TTL_SECONDS)
            pipe.execute()
            self.published += 1
        except self._errors as exc:
            self.publish_errors += 1
            log.warning("live event not published (%s): %s", kind, exc)

    def publish_message(self, group_uuid: str, message: dict[str, Any]) -> None:
        self._publish(self.keys.group(group_uuid), MESSAGE, message_event(group_uuid, message))

    def publish_conversation(self, owner_uuid: str, conversation: dict[str, Any]) -> None:
        self._publish(self.keys.user(owner_uuid), CONVERSATION, conversation)

    def publish_conversation_gone(self, owner_uuid: str, group_uuid: str) -> None:
        self._publish(self.keys.user(owner_uuid), CONVERSATION_GONE, {"uuid": group_uuid})

    def _stream_keys(self, user_uuid: str, group_uuid: str | None) -> list[str]:
        keys = [self.keys.user(user_uuid)]
        if group_uuid:
            keys.append(self.keys.group(group_uuid))
        return keys

    def current(self, user_uuid: str, group_uuid: str | None) -> Cursor:
        try:
            pipe = self._reader.pipeline(transaction=False)
            for key in self._stream_keys(user_uuid, group_uuid):
                pipe.xrevrange(key, count=1)
            newest = [_text(entries[0][0]) if entries else START for entries in pipe.execute()]
        except self._errors as exc:
            raise LiveUnavailable(str(exc)) from exc
        return Cursor(newest[0], newest[1] if group_uuid else START)

    def missed(self, user_uuid: str, group_uuid: str | None, after: Cursor) -> bool:
        positions = [after.user] + ([after.group] if group_uuid else [])
        now_ms = self._now_ms()
        for key, position in zip(self._stream_keys(user_uuid, group_uuid), positions):
            if position == START:
                continue
            try:
                info = self._reader.xinfo_stream(key)
            except self._errors as exc:
                if "no such key" in str(exc).lower():
                    if _too_old(position, now_ms):
                        return True
                    continue
                raise LiveUnavailable(str(exc)) from exc
            # trimming (MAXLEN) does not move max-deleted-entry-id: compare with the oldest entry
            # kept. Conservative: the reader's own last event being trimmed already counts.
            first = info.get("first-entry")
            trimmed = int(info.get("entries-added", 0)) > int(info.get("length", 0))
            if trimmed and first and id_key(_text(first[0])) > id_key(position):
                return True
            if _too_old(position, now_ms) and not first:
                return True
        return False

    def read(
        self, user_uuid: str, group_uuid: str | None, after: Cursor, block_ms: int
    ) -> list[Event]:
        keys = self._stream_keys(user_uuid, group_uuid)
        streams = {keys[0]: after.user}
        if group_uuid:
            streams[keys[1]] = after.group
        try:
            reply = self._reader.xread(streams, count=READ_BATCH, block=max(1, block_ms))
        except self._errors as exc:
            raise LiveUnavailable(str(exc)) from exc
        by_key: dict[str, list[tuple[str, str, str]]] = {}
        items = reply.items() if isinstance(reply, dict) else (reply or [])
        for key, entries in items:
            if entries and isinstance(entries[0], list) and len(entries) == 1:
                entries = entries[0]  # RESP3 wraps a stream's entries once more
            by_key[_text(key)] = [
                (
                    _text(stream_id),
                    _text(fields.get(b"type", fields.get("type", ""))),
                    _text(fields.get(b"data", fields.get("data", "{}"))),
                )
                for stream_id, fields in entries
            ]
        return _events(
            after, by_key.get(keys[0], []), by_key.get(keys[1], []) if group_uuid else []
        )

    def close(self) -> None:
        for client in (self._publisher, self._reader):
            try:
                client.close()
            except self._errors:
                pass


# --- one process --------------------------------------------------------------------------------


class InProcessEventBus:
    """The same semantics inside one process (tests)."""

    name = "memory"

    def __init__(self, max_len: int = MAX_LEN, now_ms: Callable[[], int] | None = None) -> None:
        self.max_len = max_len
        self._now_ms = now_ms or (lambda: int(time.time() * 1000))
        self._streams: dict[str, list[tuple[str, str, str]]] = {}
        self._deleted: dict[str, str] = {}
        self._last: dict[str, str] = {}
        self._changed = threading.Condition()
        self.keys = _Keys("")
        self.published = 0

    def _next_id(self, key: str) -> str:
        ms, seq = id_key(self._last.get(key, START))
        now = self._now_ms()
        return f"{now}-0" if now > ms else f"{ms}-{seq + 1}"

    def _publish(self, key: str, kind: str, data: dict[str, Any]) -> None:
        with self._changed:
            stream_id = self._next_id(key)
            self._last[key] = stream_id
            entries = self._streams.setdefault(key, [])
            entries.append((stream_id, kind, json.dumps(data, ensure_ascii=False)))
            while len(entries) > self.max_len:
                self._deleted[key] = entries.pop(0)[0]
            self.published += 1
            self._changed.notify_all()

    def publish_message(self, group_uuid: str, message: dict[str, Any]) -> None:
        self._publish(self.keys.group(group_uuid), MESSAGE, message_event(group_uuid, message))

    def publish_conversation(self, owner_uuid: str, conversation: dict[str, Any]) -> None:
        self._publish(self.keys.user(owner_uuid), CONVERSATION, conversation)

    def publish_conversation_gone(self, owner_uuid: str, group_uuid: str) -> None:
        self._publish(self.keys.user(owner_uuid), CONVERSATION_GONE, {"uuid": group_uuid})

    def current(self, user_uuid: str, group_uuid: str | None) -> Cursor:
        with self._changed:
            user = self._last.get(self.keys.user(user_uuid), START)
            group = self._last.get(self.keys.group(group_uuid), START) if group_uuid else START
        return Cursor(user, group)

    def missed(self, user_uuid: str, group_uuid: str | None, after: Cursor) -> bool:
        checks = [(self.keys.user(user_uuid), after.user)]
        if group_uuid:
            checks.append((self.keys.group(group_uuid), after.group))
        with self._changed:
            return any(
                position != START and id_key(self._deleted.get(key, START)) >= id_key(position)
                for key, position in checks
            )

    def _after(self, key: str, position: str) -> list[tuple[str, str, str]]:
        bound = id_key(position)
        return [e for e in self._streams.get(key, []) if id_key(e[0]) > bound][:READ_BATCH]

    def read(
        self, user_uuid: str, group_uuid: str | None, after: Cursor, block_ms: int
    ) -> list[Event]:
        user_key = self.keys.user(user_uuid)
        group_key = self.keys.group(group_uuid) if group_uuid else None
        deadline = time.monotonic() + max(0, block_ms) / 1000
        with self._changed:
            while True:
                users = self._after(user_key, after.user)
                groups = self._after(group_key, after.group) if group_key else []
                remaining = deadline - time.monotonic()
                if users or groups or remaining <= 0:
                    return _events(after, users, groups)
                self._changed.wait(remaining)
