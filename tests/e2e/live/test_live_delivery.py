"""Live delivery end to end: `cruddur serve` processes sharing one Redis, the stream worker, and
GET /api/events read over real connections."""

from __future__ import annotations

import time

from cruddur.auth.keys import load_private_key, signing_key_path
from cruddur.auth.local_idp import LOCAL_CLIENT_ID, LOCAL_ISSUER
from fixtures_api import ApiClient, HttpTransport, TokenMint, serving
from sse_client import EventStream

DEADLINE = 20.0


def is_message(text: str):
    return lambda e: e.type == "message" and e.data["message"] == text


def is_row(text: str):
    return lambda e: e.type == "conversation" and e.data["message"] == text


def test_a_sent_message_and_the_moved_rows_arrive_on_the_members_streams(
    live_settings, postgres_url, register, tmp_path, worker
):
    register("alice")
    register("bob")
    redis_env = {"REDIS_URL": live_settings.redis_url or ""}
    with serving(live_settings, postgres_url, tmp_path / "a", **redis_env) as server:
        client = ApiClient(HttpTransport(server))
        alice, bob = client.as_user("alice"), client.as_user("bob")
        group = alice.send_to_handle("bob", "hello").body["message_group_uuid"]

        with (
            EventStream(server, bob.token, group=group) as bob_open,
            EventStream(server, alice.token) as alice_list,
        ):
            assert bob_open.status == 200 and alice_list.status == 200
            sent = alice.send_to_group(group, "hi, live")
            assert sent.status == 200

            message, _ = bob_open.wait_for(is_message("hi, live"), DEADLINE)
            assert message.data == {**sent.body, "message_group_uuid": group}
            # the stream processor moved both rows: each member's list event, as the list shows it
            row, _ = bob_open.wait_for(is_row("hi, live"), DEADLINE)
            assert row.data["uuid"] == group and row.data["handle"] == "alice"
            assert row.data == bob.conversations().body[0]
            own_row, _ = alice_list.wait_for(is_row("hi, live"), DEADLINE)
            assert own_row.data["handle"] == "bob" and own_row.data["uuid"] == group


def test_two_servers_sharing_redis_deliver_across(
    live_settings, postgres_url, register, tmp_path, worker
):
    register("alice")
    register("bob")
    redis_env = {"REDIS_URL": live_settings.redis_url or ""}
    with (
        serving(live_settings, postgres_url, tmp_path / "a", **redis_env) as server_a,
        serving(live_settings, postgres_url, tmp_path / "b", **redis_env) as server_b,
    ):
        alice_a = ApiClient(HttpTransport(server_a)).as_user("alice")
        bob_b = ApiClient(HttpTransport(server_b)).as_user("bob")
        group = alice_a.send_to_handle("bob", "hello").body["message_group_uuid"]
        with EventStream(server_b, bob_b.token, group=group) as bob_stream:
            assert alice_a.send_to_group(group, "from server a").status == 200
            bob_stream.wait_for(is_message("from server a"), DEADLINE)
            bob_stream.wait_for(is_row("from server a"), DEADLINE)
            # and back: bob sends through b, alice reads through a
            with EventStream(server_a, alice_a.token, group=group) as alice_stream:
                assert bob_b.send_to_group(group, "from server b").status == 200
                alice_stream.wait_for(is_message("from server b"), DEADLINE)


def test_a_stream_dropped_while_a_message_is_sent_resumes_with_it_exactly_once(
    live_settings, postgres_url, register, tmp_path
):
    register("alice")
    register("bob")
    redis_env = {"REDIS_URL": live_settings.redis_url or ""}
    with serving(live_settings, postgres_url, tmp_path / "a", **redis_env) as server:
        client = ApiClient(HttpTransport(server))
        alice, bob = client.as_user("alice"), client.as_user("bob")
        group = alice.send_to_handle("bob", "hello").body["message_group_uuid"]

        first = EventStream(server, bob.token, group=group)
        assert alice.send_to_group(group, "before the drop").status == 200
        seen, _ = first.wait_for(is_message("before the drop"), DEADLINE)
        last_id = first.last_id
        assert last_id == seen.id
        first.close()  # the connection drops

        assert alice.send_to_group(group, "while away").status == 200

        with EventStream(server, bob.token, group=group, last_event_id=last_id) as again:
            assert again.status == 200
            assert alice.send_to_group(group, "after the return").status == 200
            last, before = again.wait_for(is_message("after the return"), DEADLINE)
            texts = [e.data["message"] for e in [*before, last] if e.type == "message"]
            assert texts == ["while away", "after the return"]
            assert all(e.type != "reset" for e in before)


def test_the_stream_closes_when_its_token_expires(live_settings, postgres_url, register, tmp_path):
    bob = register("bob")
    redis_env = {"REDIS_URL": live_settings.redis_url or ""}
    data_dir = tmp_path / "a"
    with serving(live_settings, postgres_url, data_dir, **redis_env) as server:
        # a token of the server's own identity provider, three seconds to live
        mint = TokenMint(
            LOCAL_ISSUER, LOCAL_CLIENT_ID, load_private_key(signing_key_path(data_dir))
        )
        token = mint.token(bob.uuid, exp=int(time.time()) + 3)
        with EventStream(server, token) as stream:
            assert stream.status == 200
            expired, _ = stream.wait_for(lambda e: e.type == "token_expired", DEADLINE)
            assert stream.next_event(DEADLINE) is None  # the server ended the stream
        again = EventStream(server, token)  # reconnecting needs a fresh token
        assert again.status == 401 and again.body()["errors"] == ["token_expired"]
