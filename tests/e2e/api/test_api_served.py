"""The API served for real: `cruddur serve` (gunicorn, several worker processes) and werkzeug on a
loopback port. Concurrency here is real: many connections, several processes, one table."""

from __future__ import annotations

import http.client
import json
import threading
import urllib.parse
from concurrent.futures import ThreadPoolExecutor

from fixtures_api import ApiClient, HttpTransport

SENDS = 400


def test_400_concurrent_sends_from_two_users_all_land_once(gunicorn_server, register):
    register("andrewbrown")
    register("bayko")
    anonymous = ApiClient(HttpTransport(gunicorn_server))
    andrew, bayko = anonymous.as_user("andrewbrown"), anonymous.as_user("bayko")
    opened = andrew.send_to_handle("bayko", "opening line")
    assert opened.status == 200, opened
    group = opened.body["message_group_uuid"]

    def send(n: int):
        sender = andrew if n % 2 else bayko
        return sender.send_to_group(group, f"message {n}")

    with ThreadPoolExecutor(max_workers=32) as pool:
        answers = list(pool.map(send, range(SENDS)))

    assert [a.status for a in answers] == [200] * SENDS, [a for a in answers if a.status != 200][:3]
    sent = {a.body["uuid"] for a in answers} | {opened.body["uuid"]}
    assert len(sent) == SENDS + 1
    for limit in (100, 20, 7):
        paged = bayko.all_messages(group, limit=limit)
        uuids = [m["uuid"] for m in paged]
        assert len(uuids) == len(set(uuids)) == SENDS + 1, limit
        assert set(uuids) == sent
        assert [(m["created_at"], m["uuid"]) for m in paged] == sorted(
            (m["created_at"], m["uuid"]) for m in paged
        )
    assert paged[0]["message"] == "opening line"


def test_both_users_opening_one_pair_at_once_share_one_group(gunicorn_server, register):
    anonymous = ApiClient(HttpTransport(gunicorn_server))
    pairs = []
    for n in range(8):
        register(f"left{n}")
        register(f"right{n}")
        pairs.append((anonymous.as_user(f"left{n}"), anonymous.as_user(f"right{n}"), n))

    def race(pair):
        left, right, n = pair
        barrier = threading.Barrier(2)

        def open_from(client, handle):
            barrier.wait()
            return client.send_to_handle(handle, f"hi {handle}")

        with ThreadPoolExecutor(max_workers=2) as pool:
            a = pool.submit(open_from, left, f"right{n}")
            b = pool.submit(open_from, right, f"left{n}")
            return left, right, a.result(), b.result()

    with ThreadPoolExecutor(max_workers=8) as pool:
        outcomes = list(pool.map(race, pairs))

    for left, right, a, b in outcomes:
        assert (a.status, b.status) == (200, 200)
        group = a.body["message_group_uuid"]
        assert b.body["message_group_uuid"] == group
        assert [c["uuid"] for c in left.conversations().body] == [group]
        assert [c["uuid"] for c in right.conversations().body] == [group]
        assert {m["uuid"] for m in left.all_messages(group)} == {a.body["uuid"], b.body["uuid"]}


def test_gunicorn_serves_the_contract_and_its_own_key(gunicorn_server, register):
    register("andrewbrown")
    anonymous = ApiClient(HttpTransport(gunicorn_server))

    health = anonymous.get("/api/health-check")
    jwks = anonymous.get("/.well-known/jwks.json")
    andrew = anonymous.as_user("andrewbrown")

    assert (health.status, health.body["status"]) == (200, "ok")
    assert jwks.status == 200 and len(jwks.body["keys"]) == 1
    # every worker verifies with the one key `cruddur serve` made before starting them
    assert all(andrew.conversations().status == 200 for _ in range(20))
    assert anonymous.conversations().status == 401


def _raw_post(base_url: str, path: str, body: bytes, headers: dict[str, str], chunked=False):
    parts = urllib.parse.urlsplit(base_url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        if chunked:  # no Content-Length: the limit must hold while reading
            pieces = (body[i : i + 1024] for i in range(0, len(body), 1024))
            connection.request("POST", path, body=pieces, headers=headers, encode_chunked=True)
        else:
            connection.request("POST", path, body=body, headers=headers)
        response = connection.getresponse()
        return response.status, json.loads(response.read() or b"null")
    finally:
        connection.close()


def test_oversized_bodies_are_413_over_real_http(live_server, gunicorn_server, signed_in):
    token = signed_in("andrewbrown").token
    body = json.dumps({"message": "x" * 20_000, "handle": "bayko"}).encode()
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    status, answer = _raw_post(live_server, "/api/messages", body, headers)
    assert (status, answer) == (413, {"errors": ["request_too_large"]})

    served = ApiClient(HttpTransport(gunicorn_server)).as_user("andrewbrown")
    headers["Authorization"] = f"Bearer {served.token}"
    status, answer = _raw_post(gunicorn_server, "/api/messages", body, headers)
    assert (status, answer) == (413, {"errors": ["request_too_large"]})
    status, answer = _raw_post(gunicorn_server, "/api/messages", body, headers, chunked=True)
    assert (status, answer) == (413, {"errors": ["request_too_large"]})


def test_the_werkzeug_server_speaks_the_contract(live_server, register):
    register("andrewbrown")
    register("bayko")
    client = ApiClient(HttpTransport(live_server))
    andrew = client.as_user("andrewbrown")

    opened = andrew.send_to_handle("bayko", "over the wire")
    listed = andrew.conversations()
    unauthenticated = client.get("/api/message_groups")

    assert opened.status == 200 and "message_group_uuid" in opened.body
    assert [c["message"] for c in listed.body] == ["over the wire"]
    assert (unauthenticated.status, unauthenticated.errors) == (401, ["token_missing"])
