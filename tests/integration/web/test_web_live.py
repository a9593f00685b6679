"""The page's live events: /web/events is GET /api/events's stream, authenticated by the session
cookie and ended at the session token's expiry; sends from the screens are published at once."""

from __future__ import annotations

import json

import pytest

from cruddur.api.events import LIVE_EXTENSION
from cruddur.live.bus import InProcessEventBus
from cruddur.web import json_views
from cruddur.web.security import EXTENSION, SESSION_COOKIE

from .test_web_messages import open_conversation


@pytest.fixture
def bus(app) -> InProcessEventBus:
    bus = InProcessEventBus()
    app.extensions[LIVE_EXTENSION] = bus
    return bus


def events_of(chunk: bytes) -> list[tuple[str, dict]]:
    found = []
    for block in chunk.decode().split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        if "event" in fields:
            found.append((fields["event"], json.loads(fields["data"])))
    return found


def test_a_message_sent_from_the_page_reaches_the_other_members_open_page(member, register, bus):
    andrew = member("andrewbrown")
    bayko = member("bayko")
    group = open_conversation(andrew, "bayko", "hello")

    stream = bayko.client.get(f"/web/events?group={group}")
    chunks = iter(stream.response)
    opening = next(chunks)
    andrew.post_json("/web/messages", {"message_group_uuid": group, "message": "<b>live</b>"})
    delivered = events_of(next(chunks))
    stream.close()

    assert stream.status_code == 200 and stream.mimetype == "text/event-stream"
    assert b": connected" in opening
    [(kind, data)] = delivered
    assert kind == "message"
    assert data["message"] == "<b>live</b>" and data["message_group_uuid"] == group
    assert data["handle"] == "andrewbrown"


def test_the_form_publishes_too(member, register, bus):
    andrew = member("andrewbrown")
    register("bayko")
    group = open_conversation(andrew, "bayko", "hello")
    published = bus.published

    andrew.post_form(f"/messages/{group}", {"message": "by form"})

    assert bus.published == published + 1


def test_events_are_for_members_with_a_session_only(member, browser, register, bus):
    andrew = member("andrewbrown")
    register("bayko")
    group = open_conversation(andrew, "bayko", "hello")
    londo = member("londo")

    assert londo.client.get(f"/web/events?group={group}").status_code == 404
    assert browser().client.get(f"/web/events?group={group}").status_code == 401
    assert londo.client.get("/web/events?group=not-a-uuid").status_code == 422


def test_without_a_shared_bus_the_page_is_told_live_is_unavailable(member):
    answer = member("andrewbrown").client.get("/web/events")

    assert answer.status_code == 503
    assert answer.get_json()["errors"] == ["live_unavailable"]


def test_the_stream_ends_with_the_sessions_token_and_resumes_by_last_event_id(
    member, monkeypatch, app
):
    andrew = member("andrewbrown")
    calls = []

    def recorder(user, group, last_event_id, expires_at):
        calls.append((user.handle, group, last_event_id, expires_at))
        return "recorded"

    monkeypatch.setattr(json_views, "event_stream_response", recorder)
    andrew.client.get("/web/events?group=g1", headers={"Last-Event-ID": "1-0_2-0"})
    andrew.client.get("/web/events?last_event_id=3-0_4-0")
    session = app.extensions[EXTENSION].sessions.get(andrew.cookie(SESSION_COOKIE))

    assert calls == [
        ("andrewbrown", "g1", "1-0_2-0", session.expires_at),
        ("andrewbrown", None, "3-0_4-0", session.expires_at),
    ]
