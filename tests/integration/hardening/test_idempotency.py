"""Idempotency-Key on sends, through the Flask test client, keys in the real Redis."""

from __future__ import annotations

import json

from cruddur.api import idempotency as http_side
from cruddur.hardening.idempotency import ClaimOutcome, RedisIdempotencyStore, StoredAnswer


def key(k: str) -> dict[str, str]:
    return {"Idempotency-Key": k}


def test_the_same_key_stores_one_message_and_answers_the_same(hardened, register):
    api = hardened()
    register("andrewbrown"), register("bayko")
    andrew = api.as_user("andrewbrown")
    body = {"message": "hello once", "handle": "bayko"}

    first = andrew.post("/api/messages", body, headers=key("send-1"))
    again = andrew.post("/api/messages", body, headers=key("send-1"))

    assert first.status == again.status == 200
    assert again.body == first.body
    assert again.header("Idempotent-Replayed") == "true"
    assert first.header("Idempotent-Replayed") is None
    group = first.body["message_group_uuid"]
    assert [m["message"] for m in andrew.messages(group).body] == ["hello once"]


def test_into_a_group_and_a_new_group_too(hardened, register):
    api = hardened()
    for handle in ("andrewbrown", "bayko", "londo"):
        register(handle)
    andrew = api.as_user("andrewbrown")
    made = andrew.create_group("Council", ["bayko", "londo"])
    group = made.body["message_group_uuid"]

    for _ in range(3):
        sent = andrew.post(
            "/api/messages", {"message": "x", "message_group_uuid": group}, headers=key("g-1")
        )
        assert sent.status == 200
    created = [
        andrew.post(
            "/api/message_groups", {"name": "Once", "handles": ["bayko"]}, headers=key("new-group")
        )
        for _ in range(3)
    ]

    assert len(andrew.messages(group).body) == 1
    assert {c.body["message_group_uuid"] for c in created} == {
        created[0].body["message_group_uuid"]
    }
    names = [c["display_name"] for c in andrew.conversations().body]
    assert names.count("Once") <= 1


def test_a_reused_key_with_another_body_is_422(hardened, register):
    api = hardened()
    register("andrewbrown"), register("bayko")
    andrew = api.as_user("andrewbrown")
    assert (
        andrew.post("/api/messages", {"message": "a", "handle": "bayko"}, headers=key("k")).status
        == 200
    )

    other = andrew.post("/api/messages", {"message": "b", "handle": "bayko"}, headers=key("k"))
    elsewhere = andrew.post(
        "/api/message_groups", {"name": "n", "handles": ["bayko"]}, headers=key("k")
    )

    assert (other.status, other.errors) == (422, ["idempotency_key_reused"])
    assert (elsewhere.status, elsewhere.errors) == (422, ["idempotency_key_reused"])


def test_keys_belong_to_their_user(hardened, register):
    api = hardened()
    for handle in ("andrewbrown", "bayko", "londo"):
        register(handle)
    andrew, londo = api.as_user("andrewbrown"), api.as_user("londo")
    body = {"message": "same words", "handle": "bayko"}

    a = andrew.post("/api/messages", body, headers=key("shared"))
    b = londo.post("/api/messages", body, headers=key("shared"))

    assert a.status == b.status == 200
    assert a.body["message_group_uuid"] != b.body["message_group_uuid"]


def test_invalid_keys_are_400(hardened, register):
    api = hardened()
    register("andrewbrown"), register("bayko")
    andrew = api.as_user("andrewbrown")
    for bad in ("", "x" * 256, "tab\tkey"):
        sent = andrew.post("/api/messages", {"message": "a", "handle": "bayko"}, headers=key(bad))
        assert (sent.status, sent.errors) == (400, ["idempotency_key_invalid"]), bad
    assert andrew.conversations().body == []


def test_a_refused_send_is_answered_the_same_again(hardened, register):
    api = hardened()
    register("andrewbrown"), register("bayko")
    andrew = api.as_user("andrewbrown")
    body = {"message": "   ", "handle": "bayko"}

    first = andrew.post("/api/messages", body, headers=key("blank"))
    again = andrew.post("/api/messages", body, headers=key("blank"))

    assert (first.status, first.errors) == (422, ["message_blank"])
    assert (again.status, again.body) == (first.status, first.body)


def test_a_request_in_progress_elsewhere_is_409_when_the_wait_runs_out(
    hardened, register, keys, monkeypatch
):
    api = hardened()
    user = register("andrewbrown")
    register("bayko")
    andrew = api.as_user("andrewbrown")
    body = {"message": "slow", "handle": "bayko"}
    request_fp = _fp("/api/messages", body)
    assert keys.claim(user.uuid, "busy", request_fp).outcome is ClaimOutcome.NEW  # "running"
    monkeypatch.setattr(http_side, "WAIT_SECONDS", 0.0)

    sent = andrew.post("/api/messages", body, headers=key("busy"))

    assert (sent.status, sent.errors) == (409, ["request_in_progress"])
    assert sent.header("Retry-After") == "1"
    assert andrew.conversations().body == []


def test_a_request_in_progress_elsewhere_is_waited_for(hardened, register, keys):
    """The first request finishes while the second polls: the second answers the first's answer
    (the store completes the first claim on the second's first poll: no timing involved)."""
    user = register("andrewbrown")
    register("bayko")
    body = {"message": "racing", "handle": "bayko"}
    request_fp = _fp("/api/messages", body)
    held = keys.claim(user.uuid, "raced", request_fp)
    answer = StoredAnswer(200, json.dumps({"from": "the first request"}), "application/json")

    class FinishingOnPoll:
        name = "redis"

        def __init__(self, inner: RedisIdempotencyStore) -> None:
            self.inner = inner
            self.polls = 0

        def claim(self, *args):
            found = self.inner.claim(*args)
            if found.outcome is ClaimOutcome.RUNNING:
                self.polls += 1
                self.inner.complete(user.uuid, "raced", request_fp, held.token, answer)
            return found

        def __getattr__(self, name):
            return getattr(self.inner, name)

    store = FinishingOnPoll(keys)
    andrew = hardened(idempotency=store).as_user("andrewbrown")

    sent = andrew.post("/api/messages", body, headers=key("raced"))

    assert (sent.status, sent.body) == (200, {"from": "the first request"})
    assert store.polls == 1
    assert andrew.conversations().body == []  # the second request stored nothing


def test_sends_without_a_key_never_touch_the_store(hardened, register, keys):
    class Unreachable:
        name = "redis"

        def claim(self, *args):
            raise AssertionError("the store was asked")

    api = hardened(idempotency=Unreachable())
    register("andrewbrown"), register("bayko")
    andrew = api.as_user("andrewbrown")
    assert andrew.send_to_handle("bayko", "no key").status == 200


def _fp(path: str, body: dict) -> str:
    from cruddur.hardening.idempotency import fingerprint

    return fingerprint("POST", path, json.dumps(body).encode())
