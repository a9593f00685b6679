"""The event stream's loop (cruddur.api.events._stream) on the in-process bus, and the serving
model's gunicorn command line: heartbeats, membership re-checked on every wake that sends or
beats, events in order with their ids, the end at the token's expiry or on a stop."""

from __future__ import annotations

import itertools
import time

import pytest

from cruddur.api import events as events_module
from cruddur.api.events import _stream
from cruddur.cli.serve import WORKER_CLASS, gunicorn_argv
from cruddur.live.bus import Cursor, InProcessEventBus
from cruddur.live.lifecycle import STOPPING
from sse_client import SseParser

USER, GROUP = "user-1", "group-1"


class Membership:
    def __init__(self) -> None:
        self.member = True
        self.checks = 0

    def membership(self, group_uuid: str, user_uuid: str):
        self.checks += 1
        return "member" if self.member else None


def take(stream, count: int, limit: int = 200) -> tuple[list, SseParser]:
    """The first `count` events (bounded number of chunks)."""
    parser = SseParser()
    found: list = []
    for chunk in itertools.islice(stream, limit):
        found.extend(parser.feed(chunk))
        if len(found) >= count:
            break
    return found, parser


def stream_of(bus, messaging, **overrides):
    args = {
        "bus": bus,
        "messaging": messaging,
        "user_uuid": USER,
        "group": GROUP,
        "cursor": bus.current(USER, GROUP),
        "missed": False,
        "expires_at": time.time() + 3600,
        "heartbeat_seconds": 0.05,
        "clock": time.time,
    }
    args.update(overrides)
    return _stream(**args)


def test_a_quiet_stream_beats_and_checks_membership_each_time():
    bus, members = InProcessEventBus(), Membership()
    stream = stream_of(bus, members)
    assert "connected" in next(stream)
    beats = [next(stream) for _ in range(3)]
    assert beats == [": heartbeat\n\n"] * 3
    assert members.checks == 3


def test_events_come_in_order_with_ids_that_resume():
    bus, members = InProcessEventBus(), Membership()
    stream = stream_of(bus, members)
    next(stream)
    bus.publish_message(GROUP, {"uuid": "m1", "message": "one"})
    bus.publish_conversation(USER, {"uuid": GROUP, "message": "one"})
    bus.publish_message(GROUP, {"uuid": "m2", "message": "two"})
    found, _ = take(stream, 3)
    assert sorted((e.type, e.data["message"]) for e in found) == [
        ("conversation", "one"),
        ("message", "one"),
        ("message", "two"),
    ]
    assert all(Cursor.parse(e.id) for e in found)
    assert [e.data["uuid"] for e in found if e.type == "message"] == ["m1", "m2"]


def test_a_member_removed_while_waiting_gets_nothing_more():
    bus, members = InProcessEventBus(), Membership()
    stream = stream_of(bus, members, heartbeat_seconds=60)
    next(stream)
    members.member = False
    bus.publish_message(GROUP, {"uuid": "m1", "message": "secret"})
    found, _ = take(stream, 5)
    assert [e.type for e in found] == ["not_member"]
    assert list(stream) == []  # the stream ended


def test_the_stream_ends_at_the_tokens_expiry():
    bus, members = InProcessEventBus(), Membership()
    stream = stream_of(bus, members, expires_at=time.time() + 0.2, heartbeat_seconds=60)
    found, _ = take(stream, 5)
    assert [e.type for e in found] == ["token_expired"]


def test_a_resumed_stream_that_missed_events_says_reset_first():
    bus, members = InProcessEventBus(), Membership()
    stream = stream_of(bus, members, missed=True)
    found, parser = take(stream, 1)
    assert found[0].type == "reset" and parser.retry_ms == events_module.RETRY_MS


def test_a_stopping_process_ends_its_streams(monkeypatch):
    monkeypatch.setattr(events_module, "WAKE_SECONDS", 0.05)
    bus, members = InProcessEventBus(), Membership()
    stream = stream_of(bus, members, heartbeat_seconds=60)
    next(stream)
    STOPPING.set()
    try:
        assert list(itertools.islice(stream, 10)) == []
    finally:
        STOPPING.clear()


@pytest.mark.parametrize("threads", [8, 256])
def test_serve_runs_the_streaming_worker_with_no_more_connections_than_threads(threads):
    argv = gunicorn_argv("127.0.0.1", 4567, 2, threads)
    assert argv[argv.index("--worker-class") + 1] == WORKER_CLASS
    assert argv[argv.index("--worker-connections") + 1] == str(threads)
    assert int(argv[argv.index("--keep-alive") + 1]) > 0
    module, _, name = WORKER_CLASS.rpartition(".")
    from importlib import import_module

    from gunicorn.workers.gthread import ThreadWorker

    assert issubclass(getattr(import_module(module), name), ThreadWorker)
