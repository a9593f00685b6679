"""Starting a conversation by handle, the search box, and GET /api/users/search (PostgreSQL)."""

from __future__ import annotations

import re

from .conftest import text_of


def found_handles(page: str) -> list[str]:
    return re.findall(r'<a href="/messages/new/([^"]+)">', page)


# --- /messages/new/<handle> ---------------------------------------------------------------------


def test_a_new_conversation_shows_who_it_is_with_and_sends_by_handle(member, register):
    andrew = member("andrewbrown")
    register("bayko", "Bayko the Brave")

    page = andrew.get("/messages/new/bayko")
    sent = andrew.post_json("/web/messages", {"handle": "bayko", "message": "first contact"})
    reopened = andrew.get("/messages/new/bayko")

    assert page.status_code == 200
    assert (
        '<h2 id="conversation-title">Bayko the Brave <span class="handle">@bayko</span></h2>'
        in text_of(page)
    )
    assert 'data-handle="bayko"' in text_of(page)
    group = sent.get_json()["message_group_uuid"]
    assert reopened.status_code == 302 and reopened.headers["Location"] == f"/messages/{group}"


def test_the_new_conversation_form_works_without_the_script(member, register):
    andrew = member("andrewbrown")
    register("bayko")
    andrew.get("/messages/new/bayko")

    sent = andrew.post_form("/messages/new/bayko", {"message": "by form"})
    blank = andrew.post_form("/messages/new/bayko", {"message": "   "})

    assert sent.status_code == 303
    group = sent.headers["Location"].rsplit("/", 1)[1]
    assert "by form" in text_of(andrew.get(f"/messages/{group}"))
    assert blank.status_code == 422 and "Write a message first." in text_of(blank)


def test_an_unknown_handle_is_not_found_and_oneself_is_no_one_to_write_to(member):
    andrew = member("andrewbrown")

    unknown = andrew.get("/messages/new/nobody")
    myself = andrew.get("/messages/new/andrewbrown")

    assert unknown.status_code == 404
    assert "There is no user with this handle." in text_of(unknown)
    assert myself.status_code == 200
    assert "This is you." in text_of(myself) and 'id="message-form"' not in text_of(myself)


# --- the search box ---------------------------------------------------------------------------------


def test_the_search_box_finds_people_by_handle_or_name_prefix(member, register):
    andrew = member("andrewbrown")
    register("bayko", "Bayko")
    register("londo", "Londo Mollari")
    register("delenn", "Delenn of Minbar")

    by_handle = text_of(andrew.get("/messages/new?q=ba"))
    by_name = text_of(andrew.get("/messages/new?q=DELENN%20o"))
    nobody = text_of(andrew.get("/messages/new?q=%3Cb%3Ezz"))

    assert found_handles(by_handle) == ["bayko"]
    assert found_handles(by_name) == ["delenn"]
    assert found_handles(nobody) == []
    assert "No one found for &ldquo;&lt;b&gt;zz&rdquo;." in nobody
    assert '<label for="search-q">Find people</label>' in by_handle


# --- GET /api/users/search ----------------------------------------------------------------------


def test_user_search_needs_a_signed_in_caller(api, register):
    register("bayko")

    assert api.get("/api/users/search", q="ba").status == 401


def test_user_search_matches_handle_or_display_name_prefixes_case_insensitively(
    signed_in, register
):
    client = signed_in("andrewbrown")
    register("bayko", "Bayko")
    register("babylon5", "Station")
    register("sheridan", "John Sheridan")
    register("jsinclair", "Jeffrey Sinclair")

    def handles(q: str) -> list[str]:
        response = client.get("/api/users/search", q=q)
        assert response.status == 200, response
        return [u["handle"] for u in response.body]

    assert handles("BA") == ["babylon5", "bayko"]
    assert handles("@bay") == ["bayko"]
    assert handles("john") == ["sheridan"]
    assert handles("j") == ["jsinclair", "sheridan"]  # handle matches first
    assert handles("sinclair") == []  # a prefix, not a word inside the name
    assert handles("andrew") == []  # never the caller
    assert handles("") == []
    first = client.get("/api/users/search", q="bayko").body[0]
    assert set(first) == {"uuid", "handle", "display_name"}


def test_user_search_answers_at_most_ten(signed_in, register):
    client = signed_in("andrewbrown")
    for i in range(12):
        register(f"member{i:02d}")

    found = client.get("/api/users/search", q="member").body

    assert [u["handle"] for u in found] == [f"member{i:02d}" for i in range(10)]


def test_user_search_text_is_only_ever_a_parameter(signed_in, register, users):
    client = signed_in("andrewbrown")
    register("a_b", "Under Score")
    register("axb", "Ex")

    def handles(q: str) -> list[str]:
        response = client.get("/api/users/search", q=q)
        assert response.status == 200, response
        return [u["handle"] for u in response.body]

    assert handles("%") == []  # wildcards match themselves
    assert handles("a_") == ["a_b"]
    assert handles("'; DROP TABLE users; --") == []
    assert handles("\\") == []
    assert handles("x" * 5000) == []
    assert users.find_by_handle("axb") is not None  # the table is still there
