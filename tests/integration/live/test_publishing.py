"""Who publishes what: the API each stored message (to its group's stream, at once), the stream
processor each member's conversation row that shows a group's newest message (to the member's
stream), in the shapes of the HTTP contract. DynamoDB Local, PostgreSQL, the Flask test client;
the bus on Redis for the stream processor, in process for the API."""

from __future__ import annotations

import pytest

from cruddur.api import create_app
from cruddur.bootstrap import stream_processor_publisher
from cruddur.live.bus import CONVERSATION, MESSAGE, Cursor, InProcessEventBus, RedisEventBus
from cruddur.streams.lambda_handler import handler
from cruddur.streams.processor import apply_records
from fixtures_api import ApiClient, FlaskTransport
from fixtures_streams import append, message_records, read_stream


def drain(bus, user_uuid: str, group_uuid: str | None, after: Cursor) -> list:
    """Everything after `after` (bounded)."""
    found: list = []
    for _ in range(20):
        batch = bus.read(user_uuid, group_uuid, after, block_ms=1)
        if not batch:
            return found
        found.extend(batch)
        after = batch[-1].cursor
    raise AssertionError("the bus did not run dry")


@pytest.fixture
def redis_bus(redis_url, redis_prefix):
    bus = RedisEventBus(redis_url, prefix=redis_prefix)
    yield bus
    bus.close()


def test_the_processor_publishes_each_members_moved_row_as_their_list_shows_it(
    repo, settings, groups, people, redis_bus
):
    alice, bob = people[0], people[1]
    group, _ = groups.direct(alice, bob, "hello")
    start = {p.uuid: redis_bus.current(p.uuid, None) for p in (alice, bob)}
    reply = append(repo, group, bob, "a reply")
    listener = stream_processor_publisher(settings, redis_bus)

    outcome = apply_records(repo, message_records(read_stream(settings)), row_shown=listener)

    assert outcome.rows_moved == 2
    for member, other in ((alice, bob), (bob, alice)):
        events = drain(redis_bus, member.uuid, None, start[member.uuid])
        assert [e.type for e in events] == [CONVERSATION]
        row = events[0].data
        assert row == {
            "uuid": group,
            "display_name": other.display_name,
            "handle": other.handle,
            "message": "a reply",
            "created_at": reply.created_at,
            "kind": "direct",
        }


def test_an_older_message_applied_after_a_newer_one_publishes_nothing(
    repo, settings, groups, people
):
    alice, bob = people[0], people[1]
    group, _ = groups.direct(alice, bob, "hello")
    append(repo, group, bob, "one")
    bus = InProcessEventBus()
    listener = stream_processor_publisher(settings, bus)
    records = message_records(read_stream(settings))
    apply_records(repo, records, row_shown=listener)
    after_first = bus.published
    assert after_first == 2

    # an older message alone (out of order): the rows are ahead of it, nothing to tell
    apply_records(repo, records[:1], row_shown=listener)
    assert bus.published == after_first


def test_a_first_contact_publishes_the_rows_it_wrote(repo, settings, groups, people):
    """The rows of a new conversation are written with its first message (no move): the
    processor still tells both members, so the recipient's list gains the conversation."""
    alice, carol = people[0], people[2]
    group, first = groups.direct(alice, carol, "hi carol")
    bus = InProcessEventBus()
    apply_records(
        repo,
        message_records(read_stream(settings)),
        row_shown=stream_processor_publisher(settings, bus),
    )
    (event,) = drain(bus, carol.uuid, None, Cursor())
    assert event.data["uuid"] == group and event.data["message"] == "hi carol"
    assert event.data["created_at"] == first.created_at


def test_a_named_groups_rows_show_the_last_sender(repo, settings, groups, people):
    alice, others = people[0], people[3:6]
    group, _ = groups.named(alice, others, "welcome")
    append(repo, group, others[0], "thanks")
    bus = InProcessEventBus()
    apply_records(
        repo,
        message_records(read_stream(settings)),
        row_shown=stream_processor_publisher(settings, bus),
    )
    for member in [alice, *others]:
        events = drain(bus, member.uuid, None, Cursor())
        assert [(e.data["message"], e.data["handle"], e.data["kind"]) for e in events] == [
            ("thanks", others[0].handle, "group")
        ]
        assert events[0].data["name"] == "team"


def test_the_lambda_handler_publishes_through_the_bus_redis_url_names(
    repo, settings, groups, people, redis_url, redis_prefix, monkeypatch
):
    from dataclasses import replace

    import cruddur.streams.lambda_handler as lambda_module

    alice, bob = people[0], people[1]
    group, _ = groups.direct(alice, bob, "hello")
    append(repo, group, alice, "via lambda")
    bus = RedisEventBus(redis_url, prefix=redis_prefix)
    start = bus.current(bob.uuid, None)
    monkeypatch.setattr(lambda_module, "_processor", (repo, None))
    monkeypatch.setattr(
        lambda_module,
        "_publisher",
        (stream_processor_publisher(replace(settings, redis_url=redis_url), bus),),
    )
    answer = handler({"Records": message_records(read_stream(settings))})
    assert answer == {"batchItemFailures": []}
    events = drain(bus, bob.uuid, None, start)
    assert [e.data["message"] for e in events] == ["via lambda"]
    bus.close()


# --- the API ----------------------------------------------------------------------------------


@pytest.fixture
def live_app(settings, repo, users, signing_key):
    bus = InProcessEventBus()
    return create_app(settings, messages=repo, users=users, events=bus), bus


def test_every_send_path_of_the_api_publishes_the_stored_message(live_app, register):
    app, bus = live_app
    client = ApiClient(FlaskTransport(app))
    register("alice")
    bob = register("bob")
    register("carol")
    alice = client.as_user("alice")

    opened = alice.send_to_handle("bob", "first contact")
    assert opened.status == 200
    group = opened.body["message_group_uuid"]
    appended = alice.send_to_group(group, "second")
    created = alice.create_group("team", ["bob", "carol"], "welcome")
    assert created.status == 200
    team = created.body["message_group_uuid"]

    events = drain(bus, bob.uuid, group, Cursor())
    # bob's list also hears of the named group's rows, written by its creation
    assert [e.data["uuid"] for e in events if e.type == CONVERSATION] == [team]
    messages = [e for e in events if e.type == MESSAGE]
    assert [(e.type, e.data["message"]) for e in messages] == [
        (MESSAGE, "first contact"),
        (MESSAGE, "second"),
    ]
    second = messages[1].data
    assert second == {**appended.body, "message_group_uuid": group}
    (welcome,) = [e for e in drain(bus, bob.uuid, team, Cursor()) if e.type == MESSAGE]
    assert welcome.data["message"] == "welcome" and welcome.data["message_group_uuid"] == team


def test_a_refused_send_publishes_nothing(live_app, register):
    app, bus = live_app
    client = ApiClient(FlaskTransport(app))
    register("alice")
    alice = client.as_user("alice")
    assert alice.send_to_handle("nobody", "hello").status == 404
    assert alice.send_to_group("00000000-0000-4000-8000-000000000000", "hi").status == 404
    assert bus.published == 0
