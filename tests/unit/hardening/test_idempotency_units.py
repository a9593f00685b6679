"""The pure parts of idempotency keys: which keys are valid, what counts as the same request, and
what a stored record means; the in-process store's rules (the Redis store runs the same rules in
Lua: tests/integration/hardening)."""

from __future__ import annotations

import json

import pytest

from cruddur.hardening.idempotency import (
    KEY_TTL_SECONDS,
    LEASE_SECONDS,
    ClaimOutcome,
    InProcessIdempotencyStore,
    StoredAnswer,
    claim_from_record,
    fingerprint,
    valid_key,
)


@pytest.mark.parametrize("key", ["a", "x" * 255, "9f1c-2b", "with space", "~!@#$%^&*()"])
def test_keys_of_1_to_255_printable_ascii_characters_are_valid(key):
    assert valid_key(key)


@pytest.mark.parametrize("key", ["", "x" * 256, "tab\there", "new\nline", "é", "\x7f", "nul\x00"])
def test_other_keys_are_invalid(key):
    assert not valid_key(key)


def test_the_same_json_in_another_order_or_spacing_is_the_same_request():
    a = fingerprint("POST", "/api/messages", b'{"message": "hi", "handle": "bayko"}')
    b = fingerprint("POST", "/api/messages", b'{"handle":"bayko","message":"hi"}')
    assert a == b


def test_another_body_path_or_method_is_another_request():
    base = fingerprint("POST", "/api/messages", b'{"message": "hi"}')
    assert fingerprint("POST", "/api/messages", b'{"message": "hi!"}') != base
    assert fingerprint("POST", "/api/message_groups", b'{"message": "hi"}') != base
    assert fingerprint("PUT", "/api/messages", b'{"message": "hi"}') != base


def test_bodies_that_are_not_json_count_byte_for_byte():
    assert fingerprint("POST", "/p", b"{not json") == fingerprint("POST", "/p", b"{not json")
    assert fingerprint("POST", "/p", b"{not json") != fingerprint("POST", "/p", b"{not json ")


def test_what_a_stored_record_means():
    assert claim_from_record(None, "fp", "t").outcome is ClaimOutcome.NEW
    running = json.dumps({"state": "running", "fp": "fp", "token": "other"})
    assert claim_from_record(running, "fp", "t").outcome is ClaimOutcome.RUNNING
    assert claim_from_record(running, "fp2", "t").outcome is ClaimOutcome.MISMATCH
    done = json.dumps({"state": "done", "fp": "fp", "status": 200, "body": "{}", "ct": "a/b"})
    replay = claim_from_record(done, "fp", "t")
    assert replay.outcome is ClaimOutcome.REPLAY
    assert replay.answer == StoredAnswer(200, "{}", "a/b")
    assert claim_from_record("garbage", "fp", "t").outcome is ClaimOutcome.RUNNING


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_in_process_store_claims_once_then_replays_the_answer():
    store = InProcessIdempotencyStore()
    first = store.claim("u", "k", "fp")
    assert first.outcome is ClaimOutcome.NEW
    assert store.claim("u", "k", "fp").outcome is ClaimOutcome.RUNNING
    assert store.claim("other-user", "k", "fp").outcome is ClaimOutcome.NEW  # keys are per user
    store.complete("u", "k", "fp", first.token, StoredAnswer(200, '{"a": 1}', "application/json"))
    again = store.claim("u", "k", "fp")
    assert again.outcome is ClaimOutcome.REPLAY
    assert again.answer == StoredAnswer(200, '{"a": 1}', "application/json")
    assert store.claim("u", "k", "fp-other").outcome is ClaimOutcome.MISMATCH


def test_a_released_claim_lets_the_next_request_run():
    store = InProcessIdempotencyStore()
    first = store.claim("u", "k", "fp")
    store.release("u", "k", first.token)
    assert store.claim("u", "k", "fp").outcome is ClaimOutcome.NEW


def test_a_lease_expires_and_only_its_holder_completes():
    clock = Clock()
    store = InProcessIdempotencyStore(monotonic=clock)
    first = store.claim("u", "k", "fp")
    clock.now += LEASE_SECONDS + 1  # the first request's process died
    second = store.claim("u", "k", "fp")
    assert second.outcome is ClaimOutcome.NEW
    store.complete("u", "k", "fp", first.token, StoredAnswer(200, "late", "text/plain"))
    assert store.claim("u", "k", "fp").outcome is ClaimOutcome.RUNNING  # still the second's
    store.complete("u", "k", "fp", second.token, StoredAnswer(201, "second", "text/plain"))
    assert store.claim("u", "k", "fp").answer == StoredAnswer(201, "second", "text/plain")
    clock.now += KEY_TTL_SECONDS + 1
    assert store.claim("u", "k", "fp").outcome is ClaimOutcome.NEW  # 24 hours later: forgotten
