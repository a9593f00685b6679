"""A small server-sent events client for the live delivery tests: parses `text/event-stream` as a
browser's EventSource does (id, event, data, comments), every wait bounded by a deadline."""

from __future__ import annotations

import http.client
import json
import time
import urllib.parse
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class SseEvent:
    type: str
    data: Any
    id: str | None


@dataclass
class SseParser:
    """Feed it text; it returns the events completed so far. Comments are counted."""

    comments: list[str] = field(default_factory=list)
    retry_ms: int | None = None
    _buffer: str = ""
    _type: str = ""
    _data: list[str] = field(default_factory=list)
    _id: str | None = None

    def feed(self, text: str) -> list[SseEvent]:
        self._buffer += text.replace("\r\n", "\n").replace("\r", "\n")
        events: list[SseEvent] = []
        while "\n" in self._buffer:
            line, self._buffer = self._buffer.split("\n", 1)
            if not line:
                if self._data or self._type:
                    raw = "\n".join(self._data)
                    events.append(
                        SseEvent(
                            self._type or "message", json.loads(raw) if raw else None, self._id
                        )
                    )
                self._type, self._data = "", []
                continue
            if line.startswith(":"):
                self.comments.append(line[1:].strip())
                continue
            name, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if name == "event":
                self._type = value
            elif name == "data":
                self._data.append(value)
            elif name == "id":
                self._id = value
            elif name == "retry" and value.isdigit():
                self.retry_ms = int(value)
        return events


def parse_all(chunks: Iterable[str | bytes]) -> tuple[list[SseEvent], SseParser]:
    parser = SseParser()
    events: list[SseEvent] = []
    for chunk in chunks:
        events.extend(parser.feed(chunk.decode() if isinstance(chunk, bytes) else chunk))
    return events, parser


class EventStream:
    """GET /api/events over a real connection; `next_event`/`wait_for` with deadlines."""

    def __init__(
        self,
        base_url: str,
        token: str,
        group: str | None = None,
        last_event_id: str | None = None,
        connect_timeout: float = 10.0,
    ) -> None:
        parts = urllib.parse.urlsplit(base_url)
        self.connection = http.client.HTTPConnection(
            parts.hostname, parts.port, timeout=connect_timeout
        )
        query = urllib.parse.urlencode({"group": group} if group else {})
        headers = {"Authorization": f"Bearer {token}", "Accept": "text/event-stream"}
        if last_event_id:
            headers["Last-Event-ID"] = last_event_id
        self.connection.request("GET", f"/api/events?{query}", headers=headers)
        # the connection lets go of its socket when the answer says `Connection: close`
        self.sock = self.connection.sock
        assert self.sock is not None
        self.response = self.connection.getresponse()
        self.status = self.response.status
        self.parser = SseParser()
        self.pending: list[SseEvent] = []
        self.closed = False
        self.last_id: str | None = None

    def body(self) -> Any:
        return json.loads(self.response.read() or b"null")

    def next_event(self, timeout: float) -> SseEvent | None:
        """The next event within `timeout` seconds; None when the server ended the stream.
        TimeoutError when nothing came in time."""
        deadline = time.monotonic() + timeout
        while not self.pending:
            if self.closed:
                return None
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("no event in time")
            self.sock.settimeout(remaining)
            try:
                chunk = self.response.read1(65536)
            except TimeoutError:
                raise TimeoutError("no event in time") from None
            if not chunk:
                self.closed = True
                continue
            self.pending.extend(self.parser.feed(chunk.decode()))
        event = self.pending.pop(0)
        if event.id is not None:
            self.last_id = event.id
        return event

    def wait_for(
        self, wanted: Callable[[SseEvent], bool], timeout: float
    ) -> tuple[SseEvent, list[SseEvent]]:
        """The first event `wanted` accepts within `timeout`, and every event read before it."""
        deadline = time.monotonic() + timeout
        seen: list[SseEvent] = []
        while True:
            event = self.next_event(max(0.01, deadline - time.monotonic()))
            if event is None:
                raise AssertionError(f"the stream ended first; events: {seen}")
            if wanted(event):
                return event, seen
            seen.append(event)

    def close(self) -> None:
        self.response.close()
        self.connection.close()
        self.sock.close()

    def __enter__(self) -> EventStream:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()
