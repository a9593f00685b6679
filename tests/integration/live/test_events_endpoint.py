"""GET /api/events through the Flask test client, with the in-process bus: who may open a stream,
what it says first, resuming, a removed member, an expiring token, and no shared bus (503)."""

from __future__ import annotations

import threading
import time

import pytest

from cruddur.api import create_app
from cruddur.live.bus import Cursor, InProcessEventBus
from fixtures_api import ApiClient, FlaskTransport
from sse_client import SseParser

UNKNOWN_GROUP = "00000000-0000-4000-8000-000000000000"


@pytest.fixture
def bus() -> InProcessEventBus:
    return InProcessEventBus()


@pytest.fixture
def live_app(settings, repo, users, signing_key, bus):
    return create_app(settings, messages=repo, users=users, events=bus)


@pytest.fixture
def pair(live_app, register):
    """alice and bob signed in, with their direct conversation."""
    client = ApiClient(FlaskTransport(live_app))
    register("alice")
    register("bob")
    alice, bob = client.as_user("alice"), client.as_user("bob")
    group = alice.send_to_handle("bob", "hello").body["message_group_uuid"]
    return alice, bob, group


def open_stream(app, token: str | None, query: str = "", **headers: str):
    sent = dict(headers)
    if token:
        sent["Authorization"] = f"Bearer {token}"
    return app.test_client().get(f"/api/events{query}", headers=sent, buffered=False)


def text(chunk: str | bytes) -> str:
    return chunk.decode() if isinstance(chunk, bytes) else chunk


def read_events(response, count: int, deadline_seconds: float = 20.0, chunks=None):
    """The first `count` events of a streamed response (the stream may end sooner)."""
    parser = SseParser()
    events: list = []
    deadline = time.monotonic() + deadline_seconds
    for chunk in chunks if chunks is not None else response.response:
        events.extend(parser.feed(text(chunk)))
        if len(events) >= count or time.monotonic() > deadline:
            break
    response.close()
    return events, parser


def test_a_stream_needs_a_valid_token(live_app):
    assert open_stream(live_app, None).status_code == 401
    answer = open_stream(live_app, "not-a-token")
    assert answer.status_code == 401 and answer.get_json()["errors"] == ["token_invalid"]


def test_only_members_open_a_groups_stream(live_app, pair, register):
    alice, _, group = pair
    register("mallory")
    mallory = ApiClient(FlaskTransport(live_app)).as_user("mallory")
    refused = open_stream(live_app, mallory.token, f"?group={group}")
    assert refused.status_code == 404
    assert refused.get_json()["errors"] == ["message_group_not_found"]
    missing = open_stream(live_app, alice.token, f"?group={UNKNOWN_GROUP}")
    assert missing.status_code == 404
    assert open_stream(live_app, alice.token, "?group=not-a-uuid").status_code == 422


def test_without_a_shared_bus_the_stream_is_unavailable(
    settings, repo, users, signing_key, register
):
    app = create_app(settings, messages=repo, users=users)  # no REDIS_URL in the test settings
    register("alice")
    alice = ApiClient(FlaskTransport(app)).as_user("alice")
    answer = open_stream(app, alice.token)
    assert answer.status_code == 503 and answer.get_json()["errors"] == ["live_unavailable"]


def test_a_resumed_stream_gives_what_was_missed_once_with_resumable_ids(live_app, pair, bus):
    alice, bob, group = pair
    bob_uuid = bob.get("/api/users/@bob/short").body["uuid"]
    resume_from = bus.current(bob_uuid, group).event_id
    for text in ("one", "two"):
        assert alice.send_to_group(group, text).status == 200

    response = open_stream(live_app, bob.token, f"?group={group}", **{"Last-Event-ID": resume_from})
    assert response.status_code == 200
    assert response.mimetype == "text/event-stream"
    assert "no-cache" in response.headers["Cache-Control"]
    events, parser = read_events(response, 2)

    assert parser.retry_ms == 3000 and "connected" in parser.comments
    assert [(e.type, e.data["message"]) for e in events] == [("message", "one"), ("message", "two")]
    assert all(e.data["message_group_uuid"] == group for e in events)
    cursors = [Cursor.parse(e.id) for e in events]
    assert None not in cursors and cursors[0] != cursors[1]
    # resuming from the first id gives the second only
    again = open_stream(live_app, bob.token, f"?group={group}&last_event_id={events[0].id}")
    (second,) = read_events(again, 1)[0]
    assert second.data["message"] == "two" and second.id == events[1].id


def test_an_unreadable_last_event_id_says_reset(live_app, pair):
    _, bob, group = pair
    response = open_stream(live_app, bob.token, f"?group={group}", **{"Last-Event-ID": "garbage"})
    (event,) = read_events(response, 1)[0]
    assert event.type == "reset"
    assert Cursor.parse(event.id) is not None  # where to go on from


def test_a_removed_member_stops_receiving_at_once(live_app, pair, repo):
    alice, bob, group = pair
    bob_uuid = bob.get("/api/users/@bob/short").body["uuid"]
    response = open_stream(live_app, bob.token, f"?group={group}")
    assert response.status_code == 200
    chunks = iter(response.response)
    assert "connected" in text(next(chunks))

    repo.delete_member(group, bob_uuid)  # what the group issue's removal will do
    sender = threading.Thread(target=lambda: alice.send_to_group(group, "after removal"))
    sender.start()
    events, _ = read_events(response, 2, chunks=chunks)
    sender.join(timeout=10)
    assert [e.type for e in events] == ["not_member"]
    assert all("after removal" not in str(e.data) for e in events)


def test_the_stream_ends_when_its_token_expires(live_app, pair, local_mint):
    _, bob, group = pair
    bob_uuid = bob.get("/api/users/@bob/short").body["uuid"]
    token = local_mint.token(bob_uuid, exp=int(time.time()) + 2)
    response = open_stream(live_app, token, f"?group={group}")
    assert response.status_code == 200
    events, _ = read_events(response, 5, deadline_seconds=30)
    assert [e.type for e in events] == ["token_expired"]  # and then the stream ended
