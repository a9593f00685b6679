"""Rate limits through the Flask test client, counters in the real Redis."""

from __future__ import annotations

from cruddur.hardening.idempotency import RedisIdempotencyStore
from cruddur.hardening.rate_limits import RedisRateLimiter
from faults import error_response, inject


def test_the_send_over_the_limit_is_429_with_retry_after(hardened, register):
    api = hardened(rate_limit_sends_per_minute=3)
    register("andrewbrown"), register("bayko")
    andrew = api.as_user("andrewbrown")
    group = andrew.send_to_handle("bayko", "1").body["message_group_uuid"]

    second = andrew.send_to_group(group, "2")
    third = andrew.send_to_group(group, "3")
    fourth = andrew.send_to_group(group, "4")

    assert second.status == third.status == 200
    assert (second.header("RateLimit-Limit"), second.header("RateLimit-Remaining")) == ("3", "1")
    assert third.header("RateLimit-Remaining") == "0"
    assert (fourth.status, fourth.errors) == (429, ["rate_limited"])
    retry_after = int(fourth.header("Retry-After"))
    assert 1 <= retry_after <= 60
    assert fourth.header("RateLimit-Limit") == "3"
    assert fourth.header("RateLimit-Remaining") == "0"
    assert fourth.header("RateLimit-Reset") == str(retry_after)
    assert len(andrew.messages(group).body) == 3
    # per user: bayko is not slowed by andrew
    bayko = api.as_user("bayko")
    assert bayko.send_to_group(group, "mine").status == 200


def test_limits_are_shared_by_every_app_on_the_redis(hardened, register):
    first_worker = hardened(rate_limit_sends_per_minute=2)
    second_worker = hardened(rate_limit_sends_per_minute=2)  # another process, same Redis
    register("andrewbrown"), register("bayko")
    token = first_worker.as_user("andrewbrown").token

    a = first_worker.with_token(token).send_to_handle("bayko", "1")
    b = second_worker.with_token(token).send_to_handle("bayko", "2")
    c = first_worker.with_token(token).send_to_handle("bayko", "3")

    assert (a.status, b.status, c.status) == (200, 200, 429)


def test_new_conversations_are_limited_but_existing_ones_are_not(hardened, register):
    api = hardened(rate_limit_new_conversations_per_hour=1)
    for handle in ("andrewbrown", "bayko", "londo", "gkar"):
        register(handle)
    andrew = api.as_user("andrewbrown")

    assert andrew.send_to_handle("bayko", "first contact").status == 200
    refused = andrew.send_to_handle("londo", "second new one")
    group = andrew.create_group("Council", ["gkar"])
    again = andrew.send_to_handle("bayko", "an existing pair, by handle")

    assert (refused.status, refused.errors) == (429, ["rate_limited"])
    assert int(refused.header("Retry-After")) > 60  # an hour's window
    assert (group.status, group.errors) == (429, ["rate_limited"])
    assert again.status == 200
    assert len(andrew.conversations().body) == 1


def test_the_11th_wrong_password_in_a_minute_is_429(hardened, register):
    api = hardened(rate_limit_signin_per_minute=10)
    register("andrewbrown")

    tries = [api.sign_in("andrewbrown", "wrong password") for _ in range(11)]

    assert [t.status for t in tries] == [401] * 10 + [429]
    assert tries[-1].errors == ["rate_limited"]
    assert int(tries[-1].header("Retry-After")) >= 1
    # the right password is refused too now, from this address: nothing is tried
    assert api.sign_in("andrewbrown").status == 429


def test_sign_in_failures_never_tell_whether_the_handle_exists(hardened, register):
    api = hardened(rate_limit_signin_per_minute=2)
    register("andrewbrown")

    real = [api.sign_in("andrewbrown", "nope") for _ in range(3)]
    made_up = [api.sign_in("nobody-at-all", "nope") for _ in range(3)]

    assert [(r.status, r.body) for r in real] == [(m.status, m.body) for m in made_up]
    assert [r.status for r in real] == [401, 401, 429]


def test_one_address_tries_at_most_five_times_the_limit_over_all_handles(hardened, register):
    api = hardened(rate_limit_signin_per_minute=1)

    tries = [api.sign_in(f"someone{i}", "nope") for i in range(6)]

    assert [t.status for t in tries] == [401] * 5 + [429]


def test_the_address_comes_from_the_socket_unless_proxies_are_trusted(hardened):
    direct = hardened(rate_limit_signin_per_minute=1)
    behind = hardened(rate_limit_signin_per_minute=1, trusted_proxies=1)

    def attempt(api, forwarded: str) -> int:
        body = {"handle": "victim", "password": "nope"}
        return api.post("/api/auth/token", body, headers={"X-Forwarded-For": forwarded}).status

    # without a trusted proxy, a made-up header changes nothing: one address
    assert [attempt(direct, f"198.51.100.{i}") for i in range(2)] == [401, 429]
    # behind one proxy, the proxy's entry names the client: two clients, one try each
    assert attempt(behind, "203.0.113.1") == 401
    assert attempt(behind, "6.6.6.6, 203.0.113.2") == 401
    assert attempt(behind, "203.0.113.2") == 429


def test_with_redis_down_keyed_sends_are_503_and_the_limits_fail_open(
    settings, repo, users, signing_key, register, private_redis, redis_prefix
):
    from dataclasses import replace

    from cruddur.api import create_app
    from fixtures_api import ApiClient, FlaskTransport

    app = create_app(
        replace(settings, rate_limit_sends_per_minute=1, rate_limit_signin_per_minute=1),
        messages=repo,
        users=users,
        idempotency=RedisIdempotencyStore(private_redis.url, prefix=redis_prefix),
        limiter=RedisRateLimiter(private_redis.url, prefix=redis_prefix),
    )
    api = ApiClient(FlaskTransport(app))
    register("andrewbrown"), register("bayko")
    andrew = api.as_user("andrewbrown")
    private_redis.stop()

    keyed = andrew.post(
        "/api/messages", {"message": "k", "handle": "bayko"}, headers={"Idempotency-Key": "k1"}
    )
    unkeyed = [andrew.send_to_handle("bayko", f"free {i}") for i in range(3)]
    sign_ins = [api.sign_in("andrewbrown", "wrong") for _ in range(3)]
    health = api.get("/api/health-check")

    assert (keyed.status, keyed.errors) == (503, ["idempotency_unavailable"])
    assert keyed.header("Retry-After") == "1"
    assert [u.status for u in unkeyed] == [200, 200, 200]  # over the limit of 1: open
    assert [s.status for s in sign_ins] == [401, 401, 401]
    counters = health.body["rate_limits"]["counters"]
    assert counters["fail_open"] >= 6
    assert counters["outages"] == 1
    group = unkeyed[0].body["message_group_uuid"]
    assert [m["message"] for m in andrew.messages(group).body] == ["free 0", "free 1", "free 2"]


def test_only_conversations_actually_created_count_toward_the_limit(hardened, register, repo):
    api = hardened(rate_limit_new_conversations_per_hour=1)
    for handle in ("andrewbrown", "bayko", "londo"):
        register(handle)
    andrew = api.as_user("andrewbrown")

    unknown = andrew.send_to_handle("nobody-by-this-name", "hello?")
    blank = andrew.send_to_handle("bayko", "\u200b")
    no_group = andrew.create_group("crew", ["nobody-by-this-name"])
    # DynamoDB refusing the first contact's transaction: nothing was created
    with inject(
        repo.client, "TransactWriteItems", lambda body: error_response("ResourceNotFoundException")
    ):
        failed = andrew.send_to_handle("bayko", "lost to an outage")
    created = andrew.send_to_handle("bayko", "first contact")
    over = andrew.send_to_handle("londo", "the second new one")

    assert [unknown.status, blank.status, no_group.status, failed.status] == [404, 422, 404, 503]
    assert created.status == 200  # the failures above cost nothing
    assert (over.status, over.errors) == (429, ["rate_limited"])  # the one created did
