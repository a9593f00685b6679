"""The HTTP contract the Cruddur web client depends on (README.md, "HTTP API"): status codes and
JSON shapes of every endpoint, over the app on DynamoDB Local and PostgreSQL."""

from __future__ import annotations

import re
import uuid

from cruddur.messaging.keys import is_timestamp

MESSAGE_KEYS = {"uuid", "display_name", "handle", "message", "created_at"}


def test_opening_a_conversation_by_handle_answers_the_group_and_the_message(signed_in):
    andrew = signed_in("andrewbrown")
    signed_in("bayko")

    response = andrew.send_to_handle("bayko", "  Hello, Bayko!  ")

    assert response.status == 200
    body = response.body
    assert set(body) == MESSAGE_KEYS | {"message_group_uuid"}
    assert uuid.UUID(body["message_group_uuid"])
    assert body["message"] == "Hello, Bayko!"
    assert (body["handle"], body["display_name"]) == ("andrewbrown", "Andrewbrown")
    assert is_timestamp(body["created_at"])


def test_a_second_message_by_handle_lands_in_the_same_one_to_one_group(signed_in):
    andrew = signed_in("andrewbrown")
    bayko = signed_in("bayko")

    first = andrew.send_to_handle("bayko", "one").body["message_group_uuid"]
    again = andrew.send_to_handle("@bayko", "two").body["message_group_uuid"]
    reply = bayko.send_to_handle("andrewbrown", "three").body["message_group_uuid"]

    assert first == again == reply


def test_appending_to_a_group_answers_the_message_without_a_group_uuid(signed_in):
    andrew = signed_in("andrewbrown")
    bayko = signed_in("bayko")
    group = andrew.send_to_handle("bayko", "hi").body["message_group_uuid"]

    response = bayko.send_to_group(group, "hello back")

    assert response.status == 200
    assert set(response.body) == MESSAGE_KEYS
    assert response.body["handle"] == "bayko"
    assert response.body["message"] == "hello back"


def test_a_group_uuid_wins_over_a_handle_as_in_the_seed(signed_in):
    andrew = signed_in("andrewbrown")
    signed_in("bayko")
    signed_in("carol")
    group = andrew.send_to_handle("bayko", "hi").body["message_group_uuid"]

    response = andrew.post(
        "/api/messages", {"message": "to the group", "message_group_uuid": group, "handle": "carol"}
    )

    assert response.status == 200
    assert "message_group_uuid" not in response.body
    assert [m["message"] for m in andrew.messages(group).body] == ["hi", "to the group"]
    assert [c["handle"] for c in andrew.conversations().body] == ["bayko"]


def test_messages_come_oldest_first_with_bare_timestamps(signed_in):
    andrew = signed_in("andrewbrown")
    bayko = signed_in("bayko")
    group = andrew.send_to_handle("bayko", "first").body["message_group_uuid"]
    bayko.send_to_group(group, "second")
    andrew.send_to_group(group, "third")

    response = bayko.messages(group)

    assert response.status == 200
    assert [m["message"] for m in response.body] == ["first", "second", "third"]
    assert [m["handle"] for m in response.body] == ["andrewbrown", "bayko", "andrewbrown"]
    for message in response.body:
        assert set(message) == MESSAGE_KEYS
        assert is_timestamp(message["created_at"])
    assert response.header("Link") is None


def test_older_pages_follow_the_link_header(signed_in):
    andrew = signed_in("andrewbrown")
    signed_in("bayko")
    group = andrew.send_to_handle("bayko", "message 0").body["message_group_uuid"]
    for n in range(1, 7):
        andrew.send_to_group(group, f"message {n}")

    newest = andrew.messages(group, limit=3)

    assert [m["message"] for m in newest.body] == ["message 4", "message 5", "message 6"]
    link = newest.header("Link")
    assert re.fullmatch(rf'</api/messages/{group}\?before=[^>]+&limit=3>; rel="next"', link)
    older = andrew.get(newest.next_url)
    assert [m["message"] for m in older.body] == ["message 1", "message 2", "message 3"]
    oldest = andrew.get(older.next_url)
    assert [m["message"] for m in oldest.body] == ["message 0"]
    assert oldest.next_url is None
    # `cursor` is accepted as a synonym of `before`
    cursor = dict(p.split("=", 1) for p in newest.next_url.split("?")[1].split("&"))["before"]
    assert andrew.messages(group, limit=3, cursor=cursor).body == older.body


def test_conversations_list_the_other_party_most_recent_first(signed_in):
    andrew = signed_in("andrewbrown")
    signed_in(
        "bayko",
    )
    signed_in("carol")
    with_bayko = andrew.send_to_handle("bayko", "to bayko").body["message_group_uuid"]
    with_carol = andrew.send_to_handle("carol", "to carol").body["message_group_uuid"]

    response = andrew.conversations()

    assert response.status == 200
    assert [c["uuid"] for c in response.body] == [with_carol, with_bayko]
    first = response.body[0]
    assert MESSAGE_KEYS <= set(first)
    assert (first["handle"], first["display_name"], first["message"]) == (
        "carol",
        "Carol",
        "to carol",
    )
    assert first["kind"] == "direct"
    assert is_timestamp(first["created_at"])


def test_conversations_page_with_a_link_header(signed_in):
    andrew = signed_in("andrewbrown")
    for handle in ("b1", "b2", "b3"):
        signed_in(handle)
        andrew.send_to_handle(handle, f"to {handle}")

    first = andrew.conversations(limit=2)
    second = andrew.get(first.next_url)

    assert [c["handle"] for c in first.body] == ["b3", "b2"]
    assert [c["handle"] for c in second.body] == ["b1"]
    assert second.next_url is None or andrew.get(second.next_url).body == []


def test_a_new_user_has_no_conversations(signed_in):
    response = signed_in("andrewbrown").conversations()

    assert (response.status, response.body) == (200, [])


def test_user_short_answers_uuid_handle_and_display_name(signed_in, register):
    andrew = signed_in("andrewbrown")
    bayko = register("bayko", "Bayko the Brave")

    response = andrew.user_short("bayko")

    assert response.status == 200
    assert response.body == {
        "uuid": bayko.uuid,
        "handle": "bayko",
        "display_name": "Bayko the Brave",
    }


def test_a_named_group_is_created_with_its_members(signed_in):
    andrew = signed_in("andrewbrown")
    bayko = signed_in("bayko")
    signed_in("carol")

    response = andrew.create_group("Launch crew", ["bayko", "@carol"], "Welcome aboard")

    assert response.status == 200
    group = response.body["message_group_uuid"]
    assert response.body["kind"] == "group"
    assert response.body["name"] == "Launch crew"
    assert response.body["members_count"] == 3
    assert response.body["message"]["message"] == "Welcome aboard"
    members = bayko.members(group)
    assert members.status == 200
    assert sorted(m["handle"] for m in members.body) == ["andrewbrown", "bayko", "carol"]
    for member in members.body:
        assert {"handle", "display_name", "joined_at"} <= set(member)
        assert is_timestamp(member["joined_at"])
    listed = bayko.conversations().body
    assert [(c["uuid"], c["display_name"], c["handle"], c["kind"]) for c in listed] == [
        (group, "Launch crew", "andrewbrown", "group")
    ]
    assert [m["message"] for m in bayko.messages(group).body] == ["Welcome aboard"]


def test_a_named_group_without_a_first_message(signed_in):
    andrew = signed_in("andrewbrown")
    signed_in("bayko")

    response = andrew.create_group("Quiet room", ["bayko"])

    assert response.status == 200
    assert response.body["name"] == "Quiet room"
    assert "message" not in response.body
    assert andrew.messages(response.body["message_group_uuid"]).body == []


def test_health_check_answers_when_both_engines_do(api):
    response = api.get("/api/health-check")

    assert response.status == 200
    assert response.body == {
        "status": "ok",
        "checks": {"dynamodb": "ok", "postgresql": "ok"},
        "cache": {"backend": "none"},  # no REDIS_URL: the cache reports itself, it fails nothing
        # the rate limiter of this one process (no REDIS_URL); nothing counted: limits are off
        "rate_limits": {
            "backend": "memory",
            "counters": {"checks": 0, "limited": 0, "fail_open": 0, "outages": 0},
        },
    }


def test_health_check_is_503_when_the_table_is_gone(api, ddb, table_name):
    ddb.delete_table(TableName=table_name)
    try:
        response = api.get("/api/health-check")
    finally:
        from cruddur.messaging import schema

        schema.create_table(ddb, table_name)

    assert response.status == 503
    assert response.errors == ["dynamodb_unavailable"]
    assert response.body["checks"] == {"dynamodb": "unavailable", "postgresql": "ok"}


def test_sign_in_answers_a_bearer_token(api, register):
    register("andrewbrown")

    response = api.sign_in("andrewbrown")

    assert response.status == 200
    assert set(response.body) == {"access_token", "token_type", "expires_in"}
    assert response.body["token_type"] == "Bearer"
    assert response.body["expires_in"] == 3600


def test_jwks_publishes_the_local_key(api):
    response = api.get("/.well-known/jwks.json")

    assert response.status == 200
    [key] = response.body["keys"]
    assert (key["kty"], key["alg"], key["use"]) == ("RSA", "RS256", "sig")
    assert "d" not in key  # public half only


def test_openapi_describes_every_route(app, api):
    response = api.get("/api/openapi.json")

    assert response.status == 200
    documented = set(response.body["paths"])
    for rule in app.url_map.iter_rules():
        # the screens (cruddur.web) are pages for browsers, not the API
        if rule.endpoint == "static" or rule.endpoint.split(".")[0] in ("web", "web_json"):
            continue
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)
        assert path in documented, path


def test_cors_allows_the_frontend_and_exposes_link(api, settings):
    origin = settings.frontend_url

    preflight = api.request(
        "OPTIONS",
        "/api/messages",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type",
        },
    )
    actual = api.request("GET", "/api/message_groups", headers={"Origin": origin})
    stranger = api.request("GET", "/api/health-check", headers={"Origin": "https://evil.example"})

    assert preflight.status == 200
    assert preflight.header("Access-Control-Allow-Origin") == origin
    assert "POST" in preflight.header("Access-Control-Allow-Methods")
    assert "Authorization" in preflight.header("Access-Control-Allow-Headers")
    assert actual.status == 401
    assert actual.header("Access-Control-Allow-Origin") == origin
    assert "Link" in actual.header("Access-Control-Expose-Headers")
    assert stranger.header("Access-Control-Allow-Origin") is None


def test_every_answer_carries_a_request_id(api):
    given = api.request("GET", "/api/health-check", headers={"X-Request-Id": "trace-123"})
    made = api.get("/api/health-check")

    assert given.header("X-Request-Id") == "trace-123"
    assert re.fullmatch(r"[0-9a-f]{32}", made.header("X-Request-Id"))
