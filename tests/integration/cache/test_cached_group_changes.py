"""Changing a group with Redis in front of the table and a live bus: a removed member gets 404 at
once although their membership was cached, their open event stream ends, and a member added later
gets no message event from before their joining, even when resuming from an older event id."""

from __future__ import annotations

import threading

import pytest

from cruddur.api.app import create_app
from cruddur.live.bus import InProcessEventBus
from fixtures_api import ApiClient, FlaskTransport
from sse_client import SseParser


@pytest.fixture
def live_app(settings, repo, users, signing_key, cache):
    return create_app(settings, messages=repo, users=users, cache=cache, events=InProcessEventBus())


@pytest.fixture
def trio(live_app, register):
    client = ApiClient(FlaskTransport(live_app))
    for handle in ("alice", "bob", "carol", "dave"):
        register(handle)
    alice, bob, carol = (client.as_user(h) for h in ("alice", "bob", "carol"))
    group = alice.create_group("Club", ["bob", "carol"], "welcome").body["message_group_uuid"]
    return client, alice, bob, carol, group


def open_stream(app, token: str, query: str = "", **headers: str):
    sent = {"Authorization": f"Bearer {token}", **headers}
    return app.test_client().get(f"/api/events{query}", headers=sent, buffered=False)


def read_events(chunks, response, count: int):
    parser = SseParser()
    events: list = []
    for chunk in chunks:
        events.extend(parser.feed(chunk.decode() if isinstance(chunk, bytes) else chunk))
        if len(events) >= count:
            break
    response.close()
    return events


def test_a_removed_member_gets_404_at_once_and_their_stream_ends(live_app, trio, cache):
    _, alice, bob, carol, group = trio
    assert carol.messages(group).status == 200  # membership now cached
    assert carol.send_to_group(group, "me too").status == 200
    hits = cache.stats.hits
    assert carol.messages(group).status == 200
    assert cache.stats.hits > hits
    response = open_stream(live_app, carol.token, f"?group={group}")
    chunks = iter(response.response)
    next(chunks)  # connected

    removed = alice.request("DELETE", f"/api/message_groups/{group}/members/@carol")
    assert removed.status == 200

    assert carol.messages(group).status == 404
    assert carol.send_to_group(group, "still here?").status == 404
    assert carol.conversations().body == []
    sender = threading.Thread(target=lambda: bob.send_to_group(group, "after carol"))
    sender.start()
    events = read_events(chunks, response, 2)
    sender.join(timeout=10)
    assert [e.type for e in events] == ["not_member"]


def test_a_member_added_later_gets_no_older_message_event(live_app, trio):
    client, alice, bob, _, group = trio
    watching = open_stream(live_app, bob.token, f"?group={group}")
    bob_chunks = iter(watching.response)
    next(bob_chunks)
    bob.send_to_group(group, "before dave")
    [before] = read_events(bob_chunks, watching, 1)
    assert alice.post(f"/api/message_groups/{group}/members", {"handles": ["dave"]}).status == 200
    dave = client.as_user("dave")
    # resuming from an event id older than the joining: the older message is not replayed
    resumed = open_stream(live_app, dave.token, f"?group={group}", **{"Last-Event-ID": "0-0_0-0"})
    chunks = iter(resumed.response)
    sender = threading.Thread(target=lambda: bob.send_to_group(group, "hi dave"))
    sender.start()
    # "welcome" and "before dave" are skipped: the first message event is the one after (the
    # other event is dave's new conversation row, told to his list when he was added)
    events = [e for e in read_events(chunks, resumed, 2) if e.type == "message"]
    sender.join(timeout=10)
    assert before.data["message"] == "before dave"
    assert [e.data["message"] for e in events] == ["hi dave"]
