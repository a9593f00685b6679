"""Every bad input gets its 4xx with `{"errors": [codes]}`; nothing a client sends ends in a 500."""

from __future__ import annotations

import json
import uuid

import pytest

GROUPLESS = str(uuid.uuid4())


def test_a_non_member_gets_404_on_read_send_and_members(group, signed_in):
    mallory = signed_in("mallory")

    for response in (
        mallory.messages(group),
        mallory.send_to_group(group, "let me in"),
        mallory.members(group),
    ):
        assert response.status == 404
        assert response.errors == ["message_group_not_found"]


def test_an_unknown_group_answers_like_a_foreign_one(andrew):
    for response in (
        andrew.messages(GROUPLESS),
        andrew.send_to_group(GROUPLESS, "anyone?"),
        andrew.members(GROUPLESS),
    ):
        assert (response.status, response.errors) == (404, ["message_group_not_found"])


def test_a_non_member_never_sees_the_group_in_the_list(group, signed_in):
    assert signed_in("mallory").conversations().body == []


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("", "message_blank"),
        ("   \n\t ", "message_blank"),
        (None, "message_blank"),
        ("x" * 1025, "message_exceed_max_chars"),
        ("😀" * 1025, "message_exceed_max_chars"),
    ],
)
def test_bad_messages_are_422_on_both_paths(andrew, group, text, code):
    by_group = andrew.post("/api/messages", {"message": text, "message_group_uuid": group})
    by_handle = andrew.post("/api/messages", {"message": text, "handle": "bayko"})

    assert (by_group.status, by_group.errors) == (422, [code])
    assert (by_handle.status, by_handle.errors) == (422, [code])


def test_the_longest_message_is_accepted_however_escaped(andrew, group):
    text = "😀" * 1024
    raw = json.dumps({"message": "  " + text + "  ", "message_group_uuid": group}).encode()
    assert len(raw) > 12_000  # every emoji as a \\ud83d\\ude00 pair

    response = andrew.post("/api/messages", raw=raw)

    assert response.status == 200
    assert response.body["message"] == text


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"message": "hi"}, 422, "user_receiver_handle_blank"),
        ({"message": "hi", "handle": "  "}, 422, "user_receiver_handle_blank"),
        ({"message": "hi", "handle": "andrewbrown"}, 422, "cannot_message_self"),
        ({"message": "hi", "handle": "nobody_here"}, 404, "user_not_found"),
        ({"message": "hi", "handle": "bad\u0000handle"}, 404, "user_not_found"),
        ({"message": "hi", "message_group_uuid": "not-a-uuid"}, 422, "message_group_uuid_invalid"),
        ({"message": "hi", "message_group_uuid": ""}, 422, "message_group_uuid_invalid"),
        ({"message": 42, "handle": "bayko"}, 400, "message_type_invalid"),
        ({"message": ["hi"], "handle": "bayko"}, 400, "message_type_invalid"),
        ({"message": True, "handle": "bayko"}, 400, "message_type_invalid"),
        ({"message": "hi", "handle": {"h": 1}}, 400, "handle_type_invalid"),
        ({"message": "hi", "message_group_uuid": 7}, 400, "message_group_uuid_type_invalid"),
        ({"message": "\ud800", "handle": "bayko"}, 400, "message_type_invalid"),
    ],
)
def test_bad_sends_get_their_4xx(andrew, group, body, status, code):
    response = andrew.post("/api/messages", body)

    assert (response.status, response.errors) == (status, [code])


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        (b"{not json", "json_malformed"),
        (b"", "body_missing"),
        (b"[1, 2]", "body_not_object"),
        (b'"a string"', "body_not_object"),
        (b"\xff\xfe\x00garbage", "json_malformed"),
        (b"[" * 10_000, "json_malformed"),
        (b'{"message": 1' + b"0" * 5000 + b"}", "json_malformed"),
    ],
)
def test_malformed_bodies_are_400(andrew, raw, code):
    for path in ("/api/messages", "/api/message_groups", "/api/auth/token"):
        response = andrew.post(path, raw=raw)
        assert (response.status, response.errors) == (400, [code]), path


def test_bodies_over_16_kib_are_413(andrew, group):
    raw = json.dumps({"message": "x" * 17_000, "message_group_uuid": group}).encode()

    response = andrew.post("/api/messages", raw=raw)

    assert (response.status, response.errors) == (413, ["request_too_large"])


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"limit": "0"}, "limit_invalid"),
        ({"limit": "101"}, "limit_invalid"),
        ({"limit": "ten"}, "limit_invalid"),
        ({"limit": "-1"}, "limit_invalid"),
        ({"before": "%%%"}, "cursor_invalid"),
        ({"before": "eyJub3QiOiJhIGN1cnNvciJ9"}, "cursor_invalid"),
        ({"cursor": "W10"}, "cursor_invalid"),
    ],
)
def test_bad_paging_parameters_are_422(andrew, group, params, code):
    for response in (andrew.messages(group, **params), andrew.conversations(**params)):
        assert (response.status, response.errors) == (422, [code])


def test_a_forged_cursor_stays_inside_the_group(andrew, group):
    from cruddur.messaging.keys import encode_cursor

    for sk in ("~", "0", "MSG#x", "9" * 200):
        response = andrew.messages(group, before=encode_cursor(sk))
        assert response.status == 200


def test_a_malformed_group_uuid_in_the_path_is_422(andrew):
    for response in (andrew.messages("nope"), andrew.members("nope")):
        assert (response.status, response.errors) == (422, ["message_group_uuid_invalid"])


@pytest.mark.parametrize("handle", ["nobody", "a%00b", "x" * 300, "%F0%9F%98%80"])
def test_an_unknown_handle_is_404(andrew, handle):
    response = andrew.user_short(handle)

    assert (response.status, response.errors) == (404, ["user_not_found"])


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"name": "", "handles": ["bayko"]}, 422, "group_name_blank"),
        ({"name": "x" * 101, "handles": ["bayko"]}, 422, "group_name_exceed_max_chars"),
        ({"name": "crew", "handles": []}, 422, "group_members_too_few"),
        ({"name": "crew", "handles": ["andrewbrown"]}, 422, "group_members_too_few"),
        (
            {"name": "crew", "handles": [f"user{n}" for n in range(40)]},
            422,
            "group_too_large",
        ),
        ({"name": "crew", "handles": ["bayko", "ghost"]}, 404, "user_not_found"),
        ({"name": "crew", "handles": "bayko"}, 400, "handles_type_invalid"),
        ({"name": "crew", "handles": ["bayko", 3]}, 400, "handles_type_invalid"),
        ({"name": 5, "handles": ["bayko"]}, 400, "name_type_invalid"),
        ({"name": "crew", "handles": ["bayko"], "message": ""}, 422, "message_blank"),
        ({"name": "crew", "handles": ["bayko"], "message": 1}, 400, "message_type_invalid"),
        ({"name": "crew", "handles": ["bayko", "nul\u0000"]}, 404, "user_not_found"),
    ],
)
def test_bad_groups_get_their_4xx(andrew, group, body, status, code):
    response = andrew.post("/api/message_groups", body)

    assert (response.status, response.errors) == (status, [code])


def test_unknown_routes_and_methods_answer_json(andrew):
    missing = andrew.get("/api/nothing-here")
    wrong_method = andrew.request("DELETE", "/api/messages")
    trailing = andrew.get("/api/message_groups/")

    assert (missing.status, missing.errors) == (404, ["not_found"])
    assert (wrong_method.status, wrong_method.errors) == (405, ["method_not_allowed"])
    assert "POST" in wrong_method.header("Allow")
    assert trailing.status == 404


def test_sign_in_gives_one_answer_for_wrong_password_and_unknown_handle(api, register):
    register("andrewbrown")

    wrong = api.sign_in("andrewbrown", "not the password")
    unknown = api.sign_in("nobody", "whatever")
    blank = api.post("/api/auth/token", {"handle": "andrewbrown", "password": ""})

    for response in (wrong, unknown, blank):
        assert (response.status, response.body) == (401, {"errors": ["invalid_credentials"]})
    typed = api.post("/api/auth/token", {"handle": "andrewbrown", "password": 12345})
    assert (typed.status, typed.errors) == (400, ["password_type_invalid"])
