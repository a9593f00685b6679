"""Idempotency keys and rate limits on `cruddur serve` (gunicorn, two workers) with Redis: what
holds across workers and servers, and what an outage of Redis does."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import pytest

from fixtures_api import ApiClient, HttpTransport, serving
from fixtures_redis import delete_keys_with_prefix, redis_client


@pytest.fixture
def redis_settings(settings, redis_server_url):
    yield replace(settings, redis_url=redis_server_url)
    with redis_client(redis_server_url) as client:
        delete_keys_with_prefix(client, f"cruddur:{settings.table_name}:")


def test_one_key_sent_20_times_at_once_stores_one_message(
    redis_settings, postgres_url, register, tmp_path
):
    register("andrewbrown"), register("bayko")
    env = {"REDIS_URL": redis_settings.redis_url or ""}
    with serving(redis_settings, postgres_url, tmp_path / "serve", **env) as url:
        andrew = ApiClient(HttpTransport(url)).as_user("andrewbrown")
        group = andrew.send_to_handle("bayko", "hello").body["message_group_uuid"]
        body = {"message": "sent once, whatever happens", "message_group_uuid": group}
        headers = {"Idempotency-Key": "3f8e-retry-storm"}

        with ThreadPoolExecutor(max_workers=20) as pool:
            answers = list(
                pool.map(lambda _: andrew.post("/api/messages", body, headers=headers), range(20))
            )

        assert {a.status for a in answers} == {200}
        assert len({json.dumps(a.body, sort_keys=True) for a in answers}) == 1
        texts = [m["message"] for m in andrew.messages(group).body]
        assert texts == ["hello", "sent once, whatever happens"]

        reused = andrew.post(
            "/api/messages", {**body, "message": "something else"}, headers=headers
        )
        assert (reused.status, reused.errors) == (422, ["idempotency_key_reused"])


def test_the_31st_send_in_a_minute_is_429_across_two_servers(
    redis_settings, postgres_url, register, tmp_path
):
    register("andrewbrown"), register("bayko")
    env = {"REDIS_URL": redis_settings.redis_url or "", "RATE_LIMIT_SENDS_PER_MINUTE": "30"}
    with (
        serving(redis_settings, postgres_url, tmp_path / "a", **env) as a,
        serving(redis_settings, postgres_url, tmp_path / "b", **env) as b,
    ):
        # each server signs with a key of its own data directory: a token per server
        via = [ApiClient(HttpTransport(u)).as_user("andrewbrown") for u in (a, b)]
        group = via[0].send_to_handle("bayko", "1").body["message_group_uuid"]

        answers = [via[i % 2].send_to_group(group, str(i)) for i in range(2, 32)]

        assert [r.status for r in answers[:-1]] == [200] * 29
        last = answers[-1]
        assert (last.status, last.errors) == (429, ["rate_limited"])
        assert 1 <= int(last.header("Retry-After") or "0") <= 60
        assert last.header("RateLimit-Limit") == "30"
        assert last.header("RateLimit-Remaining") == "0"
        assert len(via[1].all_messages(group)) == 30


def test_the_11th_wrong_password_in_a_minute_is_429(
    redis_settings, postgres_url, register, tmp_path
):
    register("andrewbrown")
    env = {"REDIS_URL": redis_settings.redis_url or "", "RATE_LIMIT_SIGNIN_PER_MINUTE": "10"}
    with serving(redis_settings, postgres_url, tmp_path / "serve", **env) as url:
        api = ApiClient(HttpTransport(url))
        tries = [api.sign_in("andrewbrown", "not the password") for _ in range(11)]

    assert [t.status for t in tries] == [401] * 10 + [429]
    assert tries[-1].header("Retry-After")


def test_with_redis_down_keyed_sends_are_503_and_limits_fail_open(
    settings, postgres_url, register, tmp_path, private_redis
):
    register("andrewbrown"), register("bayko")
    env = {"REDIS_URL": private_redis.url, "RATE_LIMIT_SENDS_PER_MINUTE": "2"}
    with serving(settings, postgres_url, tmp_path / "serve", **env) as url:
        andrew = ApiClient(HttpTransport(url)).as_user("andrewbrown")
        group = andrew.send_to_handle("bayko", "before").body["message_group_uuid"]
        private_redis.stop()

        keyed = andrew.post(
            "/api/messages",
            {"message": "keyed", "message_group_uuid": group},
            headers={"Idempotency-Key": "during-outage"},
        )
        unkeyed = [andrew.send_to_group(group, f"open {i}") for i in range(4)]

        assert (keyed.status, keyed.errors) == (503, ["idempotency_unavailable"])
        assert [u.status for u in unkeyed] == [200] * 4  # a limit of 2: failing open
        texts = [m["message"] for m in andrew.messages(group).body]
        assert texts == ["before", "open 0", "open 1", "open 2", "open 3"]
