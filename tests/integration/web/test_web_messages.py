"""The conversation screens: the list, a conversation, sending from the page's script (CSRF header)
and without it (the form), older pages, escaping, and the not-found and unavailable states."""

from __future__ import annotations

import html
import re

from cruddur.api import create_app
from cruddur.messaging.errors import StoreUnavailable
from cruddur.messaging.models import MAX_MESSAGE_CHARS
from cruddur.users.models import demo_user_uuid

from .conftest import Browser, text_of

XSS = "<script>alert(1)</script>"


def open_conversation(b: Browser, handle: str, text: str) -> str:
    sent = b.post_json("/web/messages", {"handle": handle, "message": text})
    assert sent.status_code == 200, sent.get_json()
    return sent.get_json()["message_group_uuid"]


def message_texts(page: str) -> list[str]:
    return [html.unescape(t) for t in re.findall(r'<p class="text">(.*?)</p>', page, re.S)]


# --- the list -------------------------------------------------------------------------------------


def test_the_list_shows_the_other_party_the_last_message_and_how_long_ago(member, register):
    andrew = member("andrewbrown")
    register("bayko", "Bayko")
    group = open_conversation(andrew, "bayko", "hello bayko")

    page = text_of(andrew.get("/messages"))

    assert f'data-uuid="{group}"' in page
    assert '<span class="name">Bayko</span>' in page and "@bayko" in page
    assert "hello bayko" in page
    # a relative time, with the exact time on hover
    assert re.search(
        r'<time datetime="[^"]+" title="\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC">now</time>', page
    )


def test_an_empty_list_says_how_to_start(member):
    page = text_of(member("andrewbrown").get("/messages"))

    assert re.search(r'<p class="empty" id="no-conversations">No conversations yet', page)
    assert '<div class="layout">' in page  # at phone width: the list alone


def test_older_conversations_load_on_demand(member, register, app):
    andrew = member("andrewbrown")
    for i in range(22):
        register(f"friend{i:02d}")
        open_conversation(andrew, f"friend{i:02d}", f"hi {i}")

    page = text_of(andrew.get("/messages"))
    cursor = html.unescape(
        re.search(r'id="older-conversations" href="[^"]*"\s+data-cursor="([^"]+)"', page).group(1)
    )
    older = andrew.get(f"/web/conversations?cursor={cursor}").get_json()

    assert page.count('class="conversation"') == 20
    assert [c["handle"] for c in older["items"]] == ["friend01", "friend00"]
    assert older["next_cursor"] is None


# --- a conversation ------------------------------------------------------------------------------


def test_a_conversation_shows_its_messages_oldest_first_beside_the_list(member, register, app):
    andrew = member("andrewbrown")
    register("bayko", "Bayko")
    group = open_conversation(andrew, "bayko", "first")
    andrew.post_json("/web/messages", {"message_group_uuid": group, "message": "second"})

    page = text_of(andrew.get(f"/messages/{group}"))

    assert message_texts(page) == ["first", "second"]
    assert '<h2 id="conversation-title">Bayko <span class="handle">@bayko</span></h2>' in page
    assert 'id="conversation-list"' in page  # the list beside it
    assert '<div class="layout has-pane">' in page  # at phone width: the conversation alone
    assert 'aria-current="page"' in page
    assert (
        f'<output id="remaining" for="message-text" aria-live="off">{MAX_MESSAGE_CHARS}</output>'
        in page
    )
    assert f'data-max="{MAX_MESSAGE_CHARS}"' in page
    assert '<label for="message-text"' in page


def test_message_text_is_escaped_everywhere(member, register):
    andrew = member("andrewbrown")
    register("bayko", XSS)  # a display name is text too
    group = open_conversation(andrew, "bayko", XSS)
    bayko = Browser(andrew.app)
    bayko.sign_in("bayko")

    pages = [text_of(bayko.get("/messages")), text_of(bayko.get(f"/messages/{group}"))]
    pages.append(text_of(andrew.get(f"/messages/{group}")))

    for page in pages:
        assert XSS not in page
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert message_texts(pages[1]) == [XSS]


def test_a_non_member_sees_not_found_like_for_a_group_that_does_not_exist(member, register):
    andrew = member("andrewbrown")
    register("bayko")
    group = open_conversation(andrew, "bayko", "private")
    londo = member("londo")

    answers = {
        "not a member": londo.get(f"/messages/{group}"),
        "no such group": londo.get(f"/messages/{demo_user_uuid('nobody')}"),
        "not a uuid": londo.get("/messages/not-a-uuid"),
    }
    script = londo.post_json("/web/messages", {"message_group_uuid": group, "message": "x"})

    for why, response in answers.items():
        assert response.status_code == 404, why
        assert '<h1 id="error-title">Not found</h1>' in text_of(response), why
        assert "private" not in text_of(response)
    assert script.status_code == 404
    assert londo.get(f"/web/messages/{group}").status_code == 404


def test_older_messages_load_by_cursor(member, register, app):
    andrew = member("andrewbrown")
    register("bayko")
    group = open_conversation(andrew, "bayko", "message 00")
    for i in range(1, 25):
        andrew.post_json(
            "/web/messages", {"message_group_uuid": group, "message": f"message {i:02d}"}
        )

    page = text_of(andrew.get(f"/messages/{group}"))
    cursor = html.unescape(
        re.search(r'id="older-messages" href="[^"]*"\s+data-cursor="([^"]+)"', page).group(1)
    )
    older = andrew.get(f"/web/messages/{group}?before={cursor}").get_json()
    without_script = text_of(andrew.get(f"/messages/{group}?before={cursor}"))

    assert message_texts(page) == [f"message {i:02d}" for i in range(5, 25)]
    assert [m["message"] for m in older["items"]] == [f"message {i:02d}" for i in range(5)]
    assert older["next_cursor"] is None
    assert message_texts(without_script)[0] == "message 00"


# --- sending --------------------------------------------------------------------------------------


def test_the_script_sends_with_the_csrf_header_and_gets_the_message_back(member, register):
    andrew = member("andrewbrown")
    register("bayko")
    group = open_conversation(andrew, "bayko", "hi")

    sent = andrew.post_json("/web/messages", {"message_group_uuid": group, "message": "  more  "})

    body = sent.get_json()
    assert sent.status_code == 200
    assert body["message"] == "more" and body["handle"] == "andrewbrown"
    assert body["message_group_uuid"] == group and body["uuid"] and body["created_at"]
    assert message_texts(text_of(andrew.get(f"/messages/{group}"))) == ["hi", "more"]


def test_the_script_cannot_send_without_the_sessions_token_or_from_another_site(
    member, register, browser
):
    andrew = member("andrewbrown")
    register("bayko")
    group = open_conversation(andrew, "bayko", "hi")
    body = {"message_group_uuid": group, "message": "forged"}

    refused = [
        andrew.post_json("/web/messages", body, csrf=False),
        andrew.post_json("/web/messages", body, csrf=False, headers={"X-CSRF-Token": "forged"}),
        andrew.post_json("/web/messages", body, headers={"Origin": "https://evil.example"}),
    ]
    anonymous = browser().post_json("/web/messages", body)

    assert [r.status_code for r in refused] == [403, 403, 403]
    assert anonymous.status_code == 401
    assert message_texts(text_of(andrew.get(f"/messages/{group}"))) == ["hi"]


def test_an_over_long_message_is_refused(member, register):
    andrew = member("andrewbrown")
    register("bayko")
    group = open_conversation(andrew, "bayko", "hi")
    too_long = "é" * (MAX_MESSAGE_CHARS + 1)

    by_script = andrew.post_json(
        "/web/messages", {"message_group_uuid": group, "message": too_long}
    )
    by_form = andrew.post_form(f"/messages/{group}", {"message": too_long})
    exactly = andrew.post_json(
        "/web/messages", {"message_group_uuid": group, "message": "é" * MAX_MESSAGE_CHARS}
    )

    assert by_script.status_code == 422
    assert by_script.get_json()["errors"] == ["message_exceed_max_chars"]
    assert by_form.status_code == 422
    assert "A message has at most 1024 characters." in text_of(by_form)
    assert too_long in text_of(by_form)  # the draft is kept
    assert exactly.status_code == 200


def test_the_form_sends_without_the_script(member, register):
    andrew = member("andrewbrown")
    register("bayko")
    group = open_conversation(andrew, "bayko", "hi")

    sent = andrew.post_form(f"/messages/{group}", {"message": "line one\nline two"})
    forged = andrew.post_form(f"/messages/{group}", {"message": "x", "csrf_token": "forged"})

    assert sent.status_code == 303 and sent.headers["Location"] == f"/messages/{group}"
    assert forged.status_code == 403
    assert message_texts(text_of(andrew.get(f"/messages/{group}"))) == ["hi", "line one\nline two"]


# --- unavailable ------------------------------------------------------------------------------------


class _Down:
    """A messages repository whose engine does not answer."""

    def __getattr__(self, name: str):
        def fail(*args, **kwargs):
            raise StoreUnavailable("http://127.0.0.1:9", True)

        return fail


def test_an_unavailable_store_gives_a_retry_page_not_a_stack_trace(
    settings, users, register, signing_key
):
    register("andrewbrown")
    app = create_app(settings, messages=_Down(), users=users)
    b = Browser(app)
    b.sign_in("andrewbrown")

    page = b.get("/messages")
    script = b.post_json(
        "/web/messages", {"message_group_uuid": demo_user_uuid("x"), "message": "x"}
    )

    assert page.status_code == 503
    assert re.search(
        r'<a class="button" id="retry" href="/messages\??">Try again</a>', text_of(page)
    )
    assert "Traceback" not in text_of(page)
    assert script.status_code == 503
    assert script.get_json()["errors"] == ["service_unavailable"]
