"""The event bus contract, run against Redis Streams (the shared server, this test's prefix) and the
in-process bus: publish, read, resume from a cursor, never twice, trimming seen as `missed`."""

from __future__ import annotations

import threading
import uuid

import pytest

from cruddur.live.bus import (
    CONVERSATION,
    MESSAGE,
    Cursor,
    InProcessEventBus,
    LiveUnavailable,
    RedisEventBus,
)
from fixtures_redis import redis_client


@pytest.fixture(params=["redis", "memory"])
def bus(request):
    if request.param == "memory":
        yield InProcessEventBus()
        return
    url = request.getfixturevalue("redis_url")
    prefix = request.getfixturevalue("redis_prefix")
    redis_bus = RedisEventBus(url, prefix=prefix)
    yield redis_bus
    redis_bus.close()


def ids() -> tuple[str, str]:
    return str(uuid.uuid4()), str(uuid.uuid4())


def message(n: int) -> dict:
    return {"uuid": f"m{n}", "message": f"text {n}", "handle": "alice"}


def test_a_reader_gets_its_groups_messages_and_its_own_conversation_rows(bus):
    user, group = ids()
    start = bus.current(user, group)
    bus.publish_message(group, message(1))
    bus.publish_conversation(user, {"uuid": group, "message": "text 1"})
    bus.publish_conversation(str(uuid.uuid4()), {"uuid": group, "message": "someone else's"})
    bus.publish_message(str(uuid.uuid4()), message(99))  # another group

    events = bus.read(user, group, start, block_ms=1000)

    assert sorted((e.type, e.data.get("message")) for e in events) == [
        (CONVERSATION, "text 1"),
        (MESSAGE, "text 1"),
    ]
    (sent,) = [e for e in events if e.type == MESSAGE]
    assert sent.data["message_group_uuid"] == group and sent.data["uuid"] == "m1"
    # ids move forward: each event's cursor is past the one before, the last is past all
    assert len({e.id for e in events}) == 2
    assert bus.read(user, group, events[-1].cursor, block_ms=1) == []


def test_without_a_group_only_the_users_stream_is_read(bus):
    user, group = ids()
    start = bus.current(user, None)
    bus.publish_message(group, message(1))
    bus.publish_conversation(user, {"uuid": group})
    events = bus.read(user, None, start, block_ms=1000)
    assert [e.type for e in events] == [CONVERSATION]
    assert events[0].cursor.group == "0-0"


def test_resuming_from_an_event_id_gives_the_rest_exactly_once(bus):
    user, group = ids()
    start = bus.current(user, group)
    for n in range(5):
        bus.publish_message(group, message(n))
        bus.publish_conversation(user, {"uuid": group, "n": n})
    first = bus.read(user, group, start, block_ms=1000)
    assert len(first) == 10
    seen = first[:3]
    resumed = Cursor.parse(seen[-1].id)  # what a client sends back as Last-Event-ID
    assert resumed == seen[-1].cursor
    rest: list = []
    cursor = resumed
    for _ in range(10):  # bounded: drain what is there
        batch = bus.read(user, group, cursor, block_ms=1)
        if not batch:
            break
        rest.extend(batch)
        cursor = batch[-1].cursor
    together = [(e.type, e.data) for e in seen + rest]
    assert sorted(map(repr, together)) == sorted(repr((e.type, e.data)) for e in first)
    assert len(together) == len(first)


def test_a_blocked_reader_wakes_when_an_event_is_published(bus):
    user, group = ids()
    start = bus.current(user, group)
    got: list = []
    reader = threading.Thread(
        target=lambda: got.extend(bus.read(user, group, start, block_ms=10_000))
    )
    reader.start()
    bus.publish_message(group, message(7))
    reader.join(timeout=10)
    assert not reader.is_alive()
    assert [e.data["uuid"] for e in got] == ["m7"]


def test_a_new_reader_starts_after_what_is_already_there(bus):
    user, group = ids()
    bus.publish_message(group, message(1))
    bus.publish_conversation(user, {"uuid": group})
    now = bus.current(user, group)
    assert now.user != "0-0" and now.group != "0-0"
    assert bus.read(user, group, now, block_ms=1) == []
    assert not bus.missed(user, group, now)


def test_an_in_process_cursor_older_than_what_was_kept_is_missed():
    user, group = ids()
    small = InProcessEventBus(max_len=3)
    small.publish_message(group, message(0))
    start_after_one = small.current(user, group)
    for n in range(1, 8):
        small.publish_message(group, message(n))
    assert small.missed(user, group, start_after_one)
    assert not small.missed(user, group, small.current(user, group))


def test_redis_streams_are_capped_and_a_trimmed_cursor_is_missed(redis_url, redis_prefix):
    user, group = ids()
    redis_bus = RedisEventBus(redis_url, prefix=redis_prefix)
    redis_bus.publish_message(group, message(0))
    early = redis_bus.current(user, group)
    with redis_client(redis_url) as client:
        key = redis_bus.keys.group(group)
        for _ in range(1, 40):  # exact trimming to 5 entries stands in for MAXLEN ~ 1000
            client.xadd(key, {"type": MESSAGE, "data": "{}"}, maxlen=5, approximate=False)
        assert client.xlen(key) == 5
        assert 0 < client.ttl(key) <= 86_400
    assert redis_bus.missed(user, group, early)
    assert not redis_bus.missed(user, group, redis_bus.current(user, group))
    assert not redis_bus.missed(user, None, Cursor())
    redis_bus.close()


def test_publishing_through_an_unreachable_redis_never_raises_and_reading_says_unavailable():
    from cruddur.local.processes import free_port

    down = RedisEventBus(f"redis://127.0.0.1:{free_port()}/0", prefix="nothing:")
    user, group = ids()
    down.publish_message(group, message(1))  # the send is stored anyway
    down.publish_conversation(user, {"uuid": group})
    assert down.publish_errors == 2
    with pytest.raises(LiveUnavailable):
        down.current(user, group)
    with pytest.raises(LiveUnavailable):
        down.read(user, group, Cursor(), block_ms=10)


@pytest.mark.parametrize(
    "text",
    ["", "abc", "1-0", "1-0_", "_1-0", "1-0_2-0_3-0", "x-1_2-0", "1-0_2-0\nid: 9", "1" * 200],
)
def test_only_well_formed_event_ids_parse(text):
    assert Cursor.parse(text) is None


def test_an_event_id_round_trips():
    cursor = Cursor("1732812345678-0", "1732812345679-3")
    assert Cursor.parse(cursor.event_id) == cursor
