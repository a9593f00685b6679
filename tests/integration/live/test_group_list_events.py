"""Open conversation lists follow group changes live: a group created without a first message, a
group one was added to, a new size and a new name reach each member's event stream (GET
/api/events) as `conversation` events, without a stream record or a reload; a member who leaves
gets `conversation_gone`."""

from __future__ import annotations

import time

import pytest

from cruddur.api import create_app
from cruddur.live.bus import InProcessEventBus
from fixtures_api import ApiClient, FlaskTransport
from sse_client import SseParser

from .test_events_endpoint import open_stream, text


@pytest.fixture
def live_app(settings, repo, users, signing_key):
    return create_app(settings, messages=repo, users=users, events=InProcessEventBus())


@pytest.fixture
def people(live_app, register) -> dict[str, ApiClient]:
    client = ApiClient(FlaskTransport(live_app))
    handles = ("alice", "bob", "carol", "dave")
    for handle in handles:
        register(handle)
    return {handle: client.as_user(handle) for handle in handles}


class Listening:
    """An open event stream of a member's list (no conversation open), past its greeting, read
    a few events at a time."""

    def __init__(self, live_app, who: ApiClient) -> None:
        self.response = open_stream(live_app, who.token)
        assert self.response.status_code == 200
        self.chunks = iter(self.response.response)
        self.parser = SseParser()
        self.parser.feed(text(next(self.chunks)))
        assert "connected" in self.parser.comments

    def conversations(
        self, count: int, kind: str = "conversation", deadline_seconds: float = 20.0
    ) -> list[dict]:
        """The next `count` events, which must all be of `kind`."""
        events: list = []
        deadline = time.monotonic() + deadline_seconds
        while len(events) < count and time.monotonic() < deadline:
            events.extend(self.parser.feed(text(next(self.chunks))))
        assert [e.type for e in events] == [kind] * count
        return [e.data for e in events]


def test_a_group_created_without_a_message_appears_in_each_members_open_list(live_app, people):
    bob_list = Listening(live_app, people["bob"])
    carol_list = Listening(live_app, people["carol"])

    created = people["alice"].create_group("Book club", ["bob", "carol"])
    assert created.status == 200
    group = created.body["message_group_uuid"]

    for stream in (bob_list, carol_list):
        [row] = stream.conversations(1)
        assert row["uuid"] == group
        assert (row["display_name"], row["kind"], row["members_count"]) == ("Book club", "group", 3)
        assert (row["message"], row["handle"]) == ("", "alice")


def test_a_new_member_and_the_others_see_the_group_change_live(live_app, people):
    alice, bob = people["alice"], people["bob"]
    group = alice.create_group("Club", ["bob", "carol"], "welcome").body["message_group_uuid"]
    dave_list = Listening(live_app, people["dave"])
    bob_list = Listening(live_app, bob)
    carol_list = Listening(live_app, people["carol"])

    added = bob.post(f"/api/message_groups/{group}/members", {"handles": ["dave"]})
    assert added.status == 200

    [row] = dave_list.conversations(1)
    assert (row["uuid"], row["name"], row["members_count"], row["message"]) == (
        group,
        "Club",
        4,
        "",  # nothing from before dave joined, not even as the last message
    )
    [row] = bob_list.conversations(1)
    assert (row["uuid"], row["members_count"], row["message"]) == (group, 4, "welcome")

    renamed = alice.request("PATCH", f"/api/message_groups/{group}", {"name": "Night club"})
    assert renamed.status == 200
    [row] = bob_list.conversations(1)
    assert (row["uuid"], row["display_name"], row["name"]) == (group, "Night club", "Night club")

    left = people["carol"].request("DELETE", f"/api/message_groups/{group}/members/@carol")
    assert left.status == 200
    renamed_row, row = dave_list.conversations(2)  # the rename, then carol leaving
    assert renamed_row["name"] == "Night club"
    assert (row["uuid"], row["name"], row["members_count"]) == (group, "Night club", 3)
    # carol's own list saw the new member and the rename, then drops the group
    assert [r["members_count"] for r in carol_list.conversations(2)] == [4, 4]
    assert carol_list.conversations(1, "conversation_gone") == [{"uuid": group}]
