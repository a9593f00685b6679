"""The forms that work without the script carry an idempotency key of their own (a fresh one each
time a form is shown): a double click, a reload that posts again, or "back" and submit once more
stores nothing twice and answers what the first submission did."""

from __future__ import annotations

import re

from .conftest import text_of

FORM_KEY = re.compile(r'name="idempotency_key" value="([^"]+)"')


def form_keys(page) -> list[str]:
    return FORM_KEY.findall(text_of(page))


def test_every_form_that_changes_something_carries_a_fresh_key(member, register):
    register("bayko"), register("londo")
    andrew = member("andrewbrown")
    new_group = andrew.get("/messages/new-group")
    created = andrew.post_form(
        "/messages/new-group",
        {"name": "crew", "handles": "bayko londo", "idempotency_key": form_keys(new_group)[0]},
    )
    group = created.headers["Location"].rsplit("/", 1)[-1]

    pages = {
        "new group": new_group,
        "new conversation": andrew.get("/messages/new/londo"),
        "conversation": andrew.get(f"/messages/{group}"),
        "members": andrew.get(f"/messages/{group}/members"),
    }
    for name, page in pages.items():
        assert page.status_code == 200, name
        assert form_keys(page), name
    members_forms = form_keys(pages["members"])  # leave/remove for each, add, rename
    assert len(members_forms) >= 3
    every_key = [key for page in pages.values() for key in form_keys(page)]
    assert len(set(every_key)) == len(every_key)  # never twice
    assert form_keys(andrew.get(f"/messages/{group}")) != form_keys(pages["conversation"])


def test_a_send_form_posted_twice_stores_one_message(member, register):
    register("bayko")
    andrew = member("andrewbrown")
    group = andrew.post_json("/web/messages", {"handle": "bayko", "message": "hi"}).get_json()[
        "message_group_uuid"
    ]
    page = andrew.get(f"/messages/{group}")
    form = {"message": "sent once", "idempotency_key": form_keys(page)[0]}

    first = andrew.post_form(f"/messages/{group}", form)
    again = andrew.post_form(f"/messages/{group}", form)
    edited = andrew.post_form(f"/messages/{group}", {**form, "message": "edited after back"})

    assert first.status_code == again.status_code == edited.status_code == 303
    assert again.headers["Location"] == first.headers["Location"]
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in edited.headers  # other text: a submission of its own
    texts = [m["message"] for m in andrew.get(f"/web/messages/{group}").get_json()["items"]]
    assert texts == ["hi", "sent once", "edited after back"]


def test_the_first_contact_form_posted_twice_opens_one_conversation(member, register):
    register("bayko")
    andrew = member("andrewbrown")
    page = andrew.get("/messages/new/bayko")
    form = {"message": "hello bayko", "idempotency_key": form_keys(page)[0]}

    first = andrew.post_form("/messages/new/bayko", form)
    again = andrew.post_form("/messages/new/bayko", form)

    assert first.status_code == again.status_code == 303
    assert again.headers["Location"] == first.headers["Location"]
    group = first.headers["Location"].rsplit("/", 1)[-1]
    texts = [m["message"] for m in andrew.get(f"/web/messages/{group}").get_json()["items"]]
    assert texts == ["hello bayko"]


def test_the_new_group_form_posted_twice_creates_one_group(member, register):
    register("bayko")
    andrew = member("andrewbrown")
    page = andrew.get("/messages/new-group")
    form = {
        "name": "twice",
        "handles": "bayko",
        "message": "welcome",
        "idempotency_key": form_keys(page)[0],
    }

    first = andrew.post_form("/messages/new-group", form)
    again = andrew.post_form("/messages/new-group", form)

    assert first.status_code == again.status_code == 303
    assert again.headers["Location"] == first.headers["Location"]
    listed = andrew.get("/web/conversations").get_json()["items"]
    assert [c["display_name"] for c in listed] == ["twice"]


def test_a_refused_form_is_shown_again_with_a_new_key(member, register):
    register("bayko")
    andrew = member("andrewbrown")
    page = andrew.get("/messages/new-group")
    key = form_keys(page)[0]

    refused = andrew.post_form(
        "/messages/new-group", {"name": "\u200b", "handles": "bayko", "idempotency_key": key}
    )

    assert refused.status_code == 422
    assert "Give the group a name." in text_of(refused)
    assert form_keys(refused) and key not in form_keys(refused)
