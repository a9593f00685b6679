"""The web UI in a real browser (the machine's Chromium through Playwright): two people in two
browser contexts, signed in through the sign-in form, served by `cruddur serve` on a shared Redis
with the stream worker running. Every wait has a deadline (conftest.DEADLINE_MS); none sleeps."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from fixtures_api import ApiClient, HttpTransport
from fixtures_streams import poll_until

CONVERSATION_URL = re.compile(r"/messages/[0-9a-f-]{36}$")
XSS = "<script>alert(1)</script>"


def api_as(base_url: str, handle: str) -> ApiClient:
    return ApiClient(HttpTransport(base_url)).as_user(handle)


def listed(client: ApiClient) -> list[str]:
    return [row["uuid"] for row in client.conversations().body]


def stream_opened(person, times: int = 1) -> None:
    """Wait until the page's EventSource has opened `times` times."""
    person.page.wait_for_function(f"() => window.__live.opened >= {times}")


def top_row(person):
    return person.page.locator("#conversation-list li.conversation").first


def message_texts(person) -> list[str]:
    return person.page.locator("#message-list li.message p.text").all_inner_texts()


def test_two_people_talk_live_and_both_lists_reorder(serve, register, people, worker):
    for handle in ("alice", "bob", "carol"):
        register(handle)
    with serve("a") as server:
        carol = api_as(server, "carol")
        # a third conversation on each list, so the order of the lists means something
        carol_alice = carol.send_to_handle("alice", "carol to alice").body["message_group_uuid"]
        carol_bob = carol.send_to_handle("bob", "carol to bob").body["message_group_uuid"]
        assert poll_until(lambda: listed(api_as(server, "alice")) == [carol_alice])
        assert poll_until(lambda: listed(api_as(server, "bob")) == [carol_bob])

        alice = people("alice", server)
        bob = people("bob", server)
        assert bob.conversation_order() == [carol_bob]
        stream_opened(bob)
        bob.mark_page()

        # alice opens a conversation by handle and sends (Enter)
        alice.goto("/messages/new/bob")
        expect(alice.page.locator("#conversation-title")).to_have_text("Bob @bob")
        alice.send("hello bob")
        alice.page.wait_for_url(CONVERSATION_URL)
        group = alice.page.url.rsplit("/", 1)[1]
        expect(alice.messages_with("hello bob")).to_have_count(1)

        # bob's list, without a reload: the new conversation on top, with alice's message
        expect(top_row(bob)).to_have_attribute("data-uuid", group)
        expect(top_row(bob).locator(".last")).to_have_text("hello bob")
        expect(top_row(bob).locator(".handle")).to_have_text("@alice")
        assert bob.conversation_order() == [group, carol_bob]
        assert bob.still_same_page()

        # bob opens it; both have the conversation open and their streams running
        bob.page.click(f'#conversation-list li[data-uuid="{group}"] a')
        bob.page.wait_for_url(re.compile(f"/messages/{group}$"))
        expect(bob.messages_with("hello bob")).to_have_count(1)
        stream_opened(alice)
        stream_opened(bob)
        alice.mark_page()
        bob.mark_page()

        # carol writes to both: her conversation goes to the top of each list, live
        assert carol.send_to_group(carol_alice, "carol again").status == 200
        assert carol.send_to_group(carol_bob, "carol again").status == 200
        expect(top_row(alice)).to_have_attribute("data-uuid", carol_alice)
        expect(top_row(bob)).to_have_attribute("data-uuid", carol_bob)

        # bob replies: it shows at once for him, live for alice, and both lists put it on top
        bob.send("hi alice")
        expect(bob.messages_with("hi alice")).to_have_count(1)
        expect(alice.messages_with("hi alice")).to_have_count(1)
        for person, other in ((alice, carol_alice), (bob, carol_bob)):
            expect(top_row(person)).to_have_attribute("data-uuid", group)
            expect(top_row(person).locator(".last")).to_have_text("hi alice")
            assert person.conversation_order() == [group, other]
            assert message_texts(person) == ["hello bob", "hi alice"]
            assert person.still_same_page(), f"{person.handle}'s page was reloaded"
        assert (
            alice.page.locator("#message-list li.message.mine")
            .all_inner_texts()[0]
            .endswith("hello bob")
        )


def test_the_counter_and_the_1024_character_limit(serve, register, people, worker):
    register("alice")
    register("bob")
    with serve("a") as server:
        alice_api = api_as(server, "alice")
        group = alice_api.send_to_handle("bob", "hello").body["message_group_uuid"]
        alice = people("alice", server)
        posts: list[str] = []
        alice.page.on(
            "request",
            lambda r: (
                posts.append(r.url) if r.method == "POST" and "/web/messages" in r.url else None
            ),
        )
        alice.goto(f"/messages/{group}")
        box = alice.page.locator("#message-text")
        remaining = alice.page.locator("#remaining")
        button = alice.page.locator("#send-button")
        error = alice.page.locator("#message-error")

        expect(remaining).to_have_text("1024")
        expect(button).to_be_disabled()  # nothing to send yet
        box.fill("hello")
        expect(remaining).to_have_text("1019")
        expect(button).to_be_enabled()

        box.fill("x" * 1025)
        expect(remaining).to_have_text("-1")
        expect(button).to_be_disabled()
        expect(error).to_be_visible()
        expect(error).to_have_text("A message has at most 1024 characters.")
        expect(box).to_have_attribute("aria-invalid", "true")
        box.press("Enter")  # blocked too

        box.fill("y" * 1024)
        expect(remaining).to_have_text("0")
        expect(button).to_be_enabled()
        expect(error).to_be_hidden()
        button.click()
        expect(alice.messages_with("y" * 1024)).to_have_count(1)
        expect(box).to_have_value("")
        expect(remaining).to_have_text("1024")

        # Shift+Enter breaks the line, Enter sends
        box.fill("line one")
        box.press("Shift+Enter")
        box.press_sequentially("line two")
        expect(box).to_have_value("line one\nline two")
        box.press("Enter")
        expect(alice.page.locator("#message-list li.message")).to_have_count(3)

        assert len(posts) == 2, posts  # the over-long message never left the page
        texts = [m["message"] for m in alice_api.all_messages(group)]
        assert texts == ["hello", "y" * 1024, "line one\nline two"]


def test_a_script_in_a_message_shows_as_text_and_runs_nothing(serve, register, people, worker):
    register("alice")
    register("bob")
    image = '<img src="x" onerror="alert(2)">'
    with serve("a") as server:
        group = api_as(server, "alice").send_to_handle("bob", "hello").body["message_group_uuid"]
        alice = people("alice", server)
        bob = people("bob", server)
        alice.goto(f"/messages/{group}")
        bob.goto(f"/messages/{group}")
        stream_opened(bob)

        alice.send(XSS)
        expect(alice.messages_with(XSS)).to_have_count(1)  # inserted by the script at once
        expect(bob.messages_with(XSS)).to_have_count(1)  # arrived live
        alice.send(image)
        expect(bob.messages_with(image)).to_have_count(1)
        expect(top_row(bob).locator(".last")).to_have_text(image)

        bob.page.reload()  # and rendered by the server
        expect(bob.messages_with(XSS)).to_have_count(1)
        expect(bob.messages_with(image)).to_have_count(1)
        for person in (alice, bob):
            assert person.page.locator("#message-list script, #message-list img").count() == 0
            assert (
                person.page.locator("#conversation-list script, #conversation-list img").count()
                == 0
            )
            assert person.dialogs == [], f"a dialog opened for {person.handle}"


def test_a_non_member_opening_a_group_sees_not_found(serve, register, people):
    for handle in ("alice", "bob", "carol"):
        register(handle)
    with serve("a") as server:
        group = api_as(server, "alice").send_to_handle("bob", "secret").body["message_group_uuid"]
        carol = people("carol", server)

        response = carol.goto(f"/messages/{group}")
        assert response.status == 404
        expect(carol.page.locator("#error-title")).to_have_text("Not found")
        shown = carol.page.locator("main").inner_text()
        assert "secret" not in carol.page.content()

        # the same as a group that does not exist
        response = carol.goto("/messages/00000000-0000-4000-8000-000000000000")
        assert response.status == 404
        assert carol.page.locator("main").inner_text() == shown


def test_two_servers_sharing_redis_deliver_live(serve, register, people, worker):
    register("alice")
    register("bob")
    with serve("a") as server_a, serve("b") as server_b:
        group = api_as(server_a, "alice").send_to_handle("bob", "hello").body["message_group_uuid"]
        alice = people("alice", server_a)
        bob = people("bob", server_b)
        alice.goto(f"/messages/{group}")
        bob.goto(f"/messages/{group}")
        stream_opened(alice)
        stream_opened(bob)
        alice.mark_page()
        bob.mark_page()

        alice.send("from server a")
        expect(bob.messages_with("from server a")).to_have_count(1)
        expect(top_row(bob).locator(".last")).to_have_text("from server a")
        bob.send("from server b")
        expect(alice.messages_with("from server b")).to_have_count(1)
        expect(top_row(alice).locator(".last")).to_have_text("from server b")
        for person in (alice, bob):
            assert message_texts(person) == ["hello", "from server a", "from server b"]
            assert person.still_same_page()


def test_a_stream_dropped_while_a_message_is_sent_shows_it_once_after_reconnecting(
    serve, register, people, proxy
):
    register("alice")
    register("bob")
    with serve("a") as server:
        alice = api_as(server, "alice")
        group = alice.send_to_handle("bob", "hello").body["message_group_uuid"]
        network = proxy(server)  # bob's browser reaches the server through it
        bob = people("bob", network.url)
        bob.goto(f"/messages/{group}")
        stream_opened(bob)
        bob.mark_page()
        assert alice.send_to_group(group, "before the drop").status == 200
        expect(bob.messages_with("before the drop")).to_have_count(1)

        network.drop()  # the connection dies; reconnecting fails until the network is back
        bob.page.wait_for_function("() => window.__live.errors >= 1")
        assert alice.send_to_group(group, "while away").status == 200
        assert bob.messages_with("while away").count() == 0

        network.restore()
        stream_opened(bob, 2)  # the browser reconnected by itself
        expect(bob.messages_with("while away")).to_have_count(1)
        assert alice.send_to_group(group, "after the return").status == 200
        expect(bob.messages_with("after the return")).to_have_count(1)

        assert message_texts(bob) == ["hello", "before the drop", "while away", "after the return"]
        assert bob.still_same_page()
        resumed = [r for r in bob.event_requests if r.header_value("last-event-id")]
        assert resumed, "the reconnecting EventSource sent no Last-Event-ID"
