"""What a probe from outside found (issue 12), each closed: no redirect built from the Host header,
the headers of every answer, control and invisible characters in messages and group names, and a
non-member's 404 that does not tell a real group from none by the work it does."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from cruddur.hardening.headers import API_CSP

GROUPLESS = str(uuid.uuid4())


# --- no redirect built from the Host header -------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    ["/api/messages//{group}", "//api/message_groups", "/api//health-check", "/messages//{group}"],
)
def test_a_doubled_slash_is_a_plain_404_never_a_redirect_to_the_host_header(andrew, group, path):
    response = andrew.request("GET", path.format(group=group), headers={"Host": "evil.example"})

    assert response.status == 404
    assert response.header("Location") is None
    assert "evil.example" not in str(response.body)


def test_a_doubled_slash_on_the_api_answers_json(andrew, group):
    response = andrew.request("GET", f"/api/messages//{group}", headers={"Host": "evil.example"})

    assert (response.status, response.errors) == (404, ["not_found"])


# --- headers of every answer ----------------------------------------------------------------------


def test_every_api_answer_forbids_sniffing_framing_and_storing(api, andrew, group):
    answers = {
        "authenticated list": andrew.conversations(),
        "authenticated page": andrew.messages(group),
        "a send": andrew.send_to_group(group, "headers?"),
        "404": andrew.messages(GROUPLESS),
        "422": andrew.send_to_group(group, ""),
        "401": api.conversations(),
        "unknown api path": andrew.get("/api/nothing-here"),
        "health check": api.get("/api/health-check"),
    }
    for name, response in answers.items():
        assert response.header("X-Content-Type-Options") == "nosniff", name
        assert response.header("Cache-Control") == "no-store", name
        assert response.header("Content-Security-Policy") == API_CSP, name
        assert "frame-ancestors 'none'" in API_CSP


def test_a_header_a_view_chose_is_kept(api):
    jwks = api.get("/.well-known/jwks.json")

    assert jwks.status == 200
    assert jwks.header("Cache-Control") == "public, max-age=300"  # public keys may be cached
    assert jwks.header("X-Content-Type-Options") == "nosniff"


def test_screens_keep_their_own_policy(api):
    page = api.get("/sign-in")

    policy = page.header("Content-Security-Policy") or ""
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert page.header("X-Content-Type-Options") == "nosniff"


# --- text rules through the API -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("\u0000", "message_invalid_characters"),
        ("\u0000\u0000hello", "message_invalid_characters"),
        ("\u001b[2J\u001b[31mred", "message_invalid_characters"),
        ("\u200b\u200b", "message_blank"),
        (" \ufeff\n\u2060 ", "message_blank"),
    ],
)
def test_control_and_invisible_characters_are_422_on_both_send_paths(andrew, group, text, code):
    by_group = andrew.send_to_group(group, text)
    by_handle = andrew.send_to_handle("bayko", text)

    assert (by_group.status, by_group.errors) == (422, [code])
    assert (by_handle.status, by_handle.errors) == (422, [code])
    assert [m["message"] for m in andrew.all_messages(group)] == ["hello"]


def test_line_breaks_and_tabs_are_kept(andrew, group):
    sent = andrew.send_to_group(group, "one\r\n\ttwo")

    assert sent.status == 200
    assert andrew.all_messages(group)[-1]["message"] == "one\n\ttwo"


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("crew\u0000", "group_name_invalid_characters"),
        ("crew\nship", "group_name_invalid_characters"),
        ("\u200b", "group_name_blank"),
    ],
)
def test_group_names_follow_the_same_rules(andrew, signed_in, name, code):
    signed_in("londo")
    created = andrew.create_group(name, ["londo"])
    named = andrew.create_group("crew", ["londo"])
    renamed = andrew.request(
        "PATCH", f"/api/message_groups/{named.body['message_group_uuid']}", {"name": name}
    )

    assert (created.status, created.errors) == (422, [code])
    assert (renamed.status, renamed.errors) == (422, [code])


# --- existence by timing: the same DynamoDB calls -------------------------------------------------


@contextmanager
def dynamodb_calls(client: Any) -> Iterator[list[tuple[str, tuple[str, ...]]]]:
    """Every DynamoDB call the client makes in the block: its operation and the names of its
    parameters (which says, say, a consistent read with a filter), in order."""
    calls: list[tuple[str, tuple[str, ...]]] = []

    def record(model: Any, params: dict[str, Any], **_: Any) -> None:
        calls.append((model.name, tuple(sorted(params))))

    client.meta.events.register("before-call.dynamodb", record)
    try:
        yield calls
    finally:
        client.meta.events.unregister("before-call.dynamodb", record)


def test_a_non_member_s_404_makes_the_same_calls_for_a_real_group_and_for_none(
    group, signed_in, repo
):
    mallory = signed_in("mallory")
    requests = {
        "read": lambda g: mallory.messages(g),
        "send": lambda g: mallory.send_to_group(g, "let me in"),
        "members": lambda g: mallory.members(g),
    }
    for name, call in requests.items():
        with dynamodb_calls(repo.client) as real_calls:
            real = call(group)
        with dynamodb_calls(repo.client) as none_calls:
            none = call(str(uuid.uuid4()))

        assert (real.status, real.errors) == (404, ["message_group_not_found"]), name
        assert (none.status, none.body) == (real.status, real.body), name
        assert real_calls, name  # the hook saw the calls
        assert real_calls == none_calls, name
