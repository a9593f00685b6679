"""The API with a real Redis in front of DynamoDB Local and PostgreSQL: hits after the first read,
no DynamoDB or PostgreSQL read for a warm send, nothing stale after a change, whoever made it,
and answers that keep coming while Redis is away."""

from __future__ import annotations

import pytest

from cruddur.api.app import create_app
from cruddur.cache.messaging import CachedMessageRepository
from cruddur.cache.redis_backend import RedisCache
from cruddur.messaging import keys
from cruddur.messaging.capacity import CapacityMeter
from cruddur.streams.processor import apply_records
from fixtures_api import ApiClient, FlaskTransport
from fixtures_streams import read_stream


@pytest.fixture
def cached_api(settings, repo, counting_users, signing_key, cache) -> ApiClient:
    return ApiClient(
        FlaskTransport(create_app(settings, messages=repo, users=counting_users, cache=cache))
    )


@pytest.fixture
def meter(ddb):
    meter = CapacityMeter().attach(ddb)
    yield meter
    meter.detach(ddb)


@pytest.fixture
def stream(settings, repo, cache):
    """Apply what the table's stream holds so far, as the processor with the cache does."""
    processor = CachedMessageRepository(repo, cache)

    def apply() -> None:
        outcome = apply_records(
            processor, read_stream(settings), rows_changed=processor.rows_changed
        )
        assert outcome.failures == []

    return apply


@pytest.fixture
def pair(cached_api, register):
    register("alice")
    register("bob")
    alice, bob = cached_api.as_user("alice"), cached_api.as_user("bob")
    group = alice.send_to_handle("bob", "hello bob").body["message_group_uuid"]
    return alice, bob, group


def test_repeated_reads_cost_no_read_units(pair, meter, cache):
    alice, _, group = pair
    assert alice.conversations().status == 200 and alice.messages(group).status == 200
    meter.reset()
    hits = cache.stats.hits

    for _ in range(3):
        assert alice.conversations().status == 200
        assert alice.messages(group).status == 200

    assert meter.read_units == 0
    assert cache.stats.hits - hits >= 6


def test_a_warm_send_reads_neither_dynamodb_nor_postgresql(pair, meter, counting_users):
    alice, _, group = pair
    assert alice.send_to_group(group, "warming up").status == 200
    meter.reset()
    lookups = counting_users.lookups

    assert alice.send_to_group(group, "warm").status == 200

    assert meter.read_units == 0
    assert meter.write_units > 0  # the message itself
    assert counting_users.lookups == lookups


def test_a_send_shows_at_once_to_the_sender_and_after_the_stream_to_the_other(pair, stream):
    alice, bob, group = pair
    stream()
    assert [m["message"] for m in bob.messages(group).body] == ["hello bob"]
    assert bob.conversations().body[0]["message"] == "hello bob"  # both cached now

    assert alice.send_to_group(group, "news").status == 200
    assert [m["message"] for m in alice.messages(group).body] == ["hello bob", "news"]
    assert [m["message"] for m in bob.messages(group).body] == ["hello bob", "news"]

    stream()
    assert bob.conversations().body[0]["message"] == "news"
    assert alice.conversations().body[0]["message"] == "news"


def test_a_seed_format_row_written_directly_shows_after_the_stream(pair, ddb, table_name, stream):
    alice, _, _ = pair
    stream()
    assert len(alice.conversations().body) == 1  # cached now
    alice_uuid = keys.user_uuid_from_conversation_pk(
        keys.conversation_pk(alice.get("/api/users/@alice/short").body["uuid"])
    )
    ddb.put_item(
        TableName=table_name,
        Item={
            "pk": {"S": keys.conversation_pk(alice_uuid)},
            "sk": {"S": "2099-01-01T00:00:00+00:00"},
            "message_group_uuid": {"S": keys.new_uuid()},
            "message": {"S": "written by the seed's script"},
            "user_uuid": {"S": keys.new_uuid()},
            "user_display_name": {"S": "Someone"},
            "user_handle": {"S": "someone"},
        },
    )

    stream()

    assert [c["message"] for c in alice.conversations().body][0] == "written by the seed's script"


def test_a_removed_member_is_refused_at_once(pair, repo, cache):
    alice, bob, group = pair
    assert bob.send_to_group(group, "membership cached").status == 200

    CachedMessageRepository(repo, cache).delete_member(group, bob_uuid(bob))

    assert bob.send_to_group(group, "still in?").status == 404
    assert bob.messages(group).status == 404
    assert alice.messages(group).status == 200


def test_answers_keep_coming_while_redis_is_away_and_hits_resume(
    settings, repo, users, signing_key, private_redis, register
):
    cache = RedisCache(private_redis.url, prefix="outage:")
    client = ApiClient(
        FlaskTransport(create_app(settings, messages=repo, users=users, cache=cache))
    )
    register("alice")
    register("bob")
    alice = client.as_user("alice")
    group = alice.send_to_handle("bob", "hi").body["message_group_uuid"]
    assert alice.messages(group).status == 200

    private_redis.stop()
    for text in ("during", "the", "outage"):
        assert alice.send_to_group(group, text).status == 200
        assert alice.messages(group).status == 200
        assert alice.conversations().status == 200
    assert cache.stats.errors > 0
    assert [m["message"] for m in alice.messages(group).body][-1] == "outage"

    private_redis.start()
    hits = cache.stats.hits

    def hits_resume() -> bool:
        alice.messages(group)
        return cache.stats.hits > hits

    from cruddur.local.processes import wait_until

    assert wait_until(hits_resume, timeout=10)
    assert [m["message"] for m in alice.messages(group).body][-1] == "outage"


def bob_uuid(bob: ApiClient) -> str:
    return bob.get("/api/users/@bob/short").body["uuid"]
