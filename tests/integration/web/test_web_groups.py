"""The group screens through the Flask test client: create a group with a name and handles, see
its members, add someone, rename, remove (owner), leave; the list shows the group's name and each
message its sender."""

from __future__ import annotations

import re

from .conftest import text_of


def create(browser, name: str, handles: str, message: str = ""):
    browser.get("/messages/new-group")
    return browser.post_form(
        "/messages/new-group", {"name": name, "handles": handles, "message": message}
    )


def group_of(response) -> str:
    assert response.status_code == 303, text_of(response)
    found = re.fullmatch(r"/messages/([0-9a-f-]{36})", response.headers["Location"])
    assert found, response.headers["Location"]
    return found.group(1)


def member_handles(page: str) -> list[str]:
    return re.findall(r'<li data-handle="([^"]+)">', page)


def test_a_group_is_created_and_every_member_sees_its_name_and_the_sender(member):
    andrew, bayko, londo = member("andrewbrown"), member("bayko"), member("londo")

    group = group_of(create(andrew, "Babylon 5", "@bayko, londo", "Welcome aboard"))

    for who in (andrew, bayko, londo):
        listing = text_of(who.get("/messages"))
        assert "Babylon 5" in listing
        page = text_of(who.get(f"/messages/{group}"))
        assert "Welcome aboard" in page
        assert '<span class="name">Andrewbrown</span>' in page
        assert 'id="members-link"' in page


def test_bad_group_forms_say_what_is_wrong(member):
    andrew = member("andrewbrown")
    member("bayko")

    blank = create(andrew, "  ", "bayko")
    unknown = create(andrew, "Club", "bayko nobody")
    crowd = create(andrew, "Crowd", " ".join(f"user{n}" for n in range(40)))  # 41 with andrew

    assert blank.status_code == 422 and "Give the group a name." in text_of(blank)
    assert unknown.status_code == 404 and "@nobody" in text_of(unknown)
    assert crowd.status_code == 422 and "A group has at most 40 members." in text_of(crowd)


def test_members_are_shown_added_renamed_removed_and_one_leaves(member):
    andrew, bayko, londo = member("andrewbrown"), member("bayko"), member("londo")
    member("gkar")
    group = group_of(create(andrew, "Club", "bayko londo"))

    page = text_of(bayko.get(f"/messages/{group}/members"))
    assert sorted(member_handles(page)) == ["andrewbrown", "bayko", "londo"]

    added = bayko.post_form(f"/messages/{group}/members", {"handles": "@gkar"})
    assert added.status_code == 303
    assert "gkar" in member_handles(text_of(bayko.get(f"/messages/{group}/members")))

    renamed = londo.post_form(f"/messages/{group}/name", {"name": "The Club"})
    assert renamed.status_code == 303
    assert "The Club" in text_of(andrew.get("/messages"))

    refused = bayko.post_form(f"/messages/{group}/members/londo/remove", {})
    assert refused.status_code == 403
    andrew.get(f"/messages/{group}/members")
    removed = andrew.post_form(f"/messages/{group}/members/londo/remove", {})
    assert removed.status_code == 303
    assert londo.get(f"/messages/{group}").status_code == 404

    bayko.get(f"/messages/{group}/members")
    left = bayko.post_form(f"/messages/{group}/members/bayko/remove", {})
    assert left.status_code == 303 and left.headers["Location"] == "/messages"
    assert bayko.get(f"/messages/{group}/members").status_code == 404
    assert "The Club" not in text_of(bayko.get("/messages"))


def test_a_direct_conversation_shows_no_group_forms(member):
    andrew = member("andrewbrown")
    member("bayko")
    sent = andrew.post_json("/web/messages", {"handle": "bayko", "message": "hi"})
    group = sent.get_json()["message_group_uuid"]

    page = text_of(andrew.get(f"/messages/{group}/members"))

    assert 'id="add-members-form"' not in page and 'id="rename-form"' not in page
    assert 'id="members-link"' not in text_of(andrew.get(f"/messages/{group}"))


def test_forms_without_the_csrf_token_are_refused(member):
    andrew = member("andrewbrown")
    member("bayko")
    group = group_of(create(andrew, "Club", "bayko"))

    refused = andrew.post_form(f"/messages/{group}/name", {"name": "x"}, csrf=False)

    assert refused.status_code == 403
