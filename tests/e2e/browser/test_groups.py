"""A named group in a real browser: three people in three browser contexts, signed in through the
sign-in form; one creates the group through the "New group" screen, all three open it and talk,
each message arriving live for the others. Every wait has a deadline (conftest.DEADLINE_MS);
none sleeps."""

from __future__ import annotations

import re

from playwright.sync_api import expect

GROUP_NAME = "Babylon 5 crew"
GROUP_URL = re.compile(r"/messages/[0-9a-f-]{36}$")


def stream_opened(person, times: int = 1) -> None:
    """Wait until the page's EventSource has opened `times` times."""
    person.page.wait_for_function(f"() => window.__live.opened >= {times}")


def group_row(person, group: str):
    return person.page.locator(f'#conversation-list li.conversation[data-uuid="{group}"]')


def message_item(person, text: str):
    """The message's list item (its sender's name and its text)."""
    text_of = person.page.locator("p.text").filter(has_text=re.compile(f"^{re.escape(text)}$"))
    return person.page.locator("#message-list li.message").filter(has=text_of)


def message_texts(person) -> list[str]:
    return person.page.locator("#message-list li.message p.text").all_inner_texts()


def test_three_people_make_a_group_and_talk_live(serve, register, people, worker):
    for handle in ("alice", "bob", "carol"):
        register(handle)
    with serve("a") as server:
        alice = people("alice", server)
        bob = people("bob", server)
        carol = people("carol", server)

        # bob and carol have their lists open (live) before the group exists
        for person in (bob, carol):
            stream_opened(person)
            person.mark_page()

        # alice makes the group through the screens: the "New group" link, then the form
        alice.page.click("#new-group-link")
        alice.page.wait_for_url(re.compile(r"/messages/new-group$"))
        alice.page.get_by_label("Name", exact=True).fill(GROUP_NAME)
        alice.page.get_by_label(re.compile("^Members")).fill("@bob, @carol")
        alice.page.click("#create-group")
        alice.page.wait_for_url(GROUP_URL)
        group = alice.page.url.rsplit("/", 1)[1]
        expect(alice.page.locator("#conversation-title")).to_have_text(GROUP_NAME)
        expect(alice.page.locator("#no-messages")).to_be_visible()

        # the group, created without a message, appears live on bob's and carol's open lists
        # under its name; they open it from there
        for person in (bob, carol):
            expect(group_row(person, group).locator(".name")).to_have_text(GROUP_NAME)
            assert person.still_same_page(), f"{person.handle}'s list was reloaded"
            group_row(person, group).locator("a").click()
            person.page.wait_for_url(re.compile(f"/messages/{group}$"))
            expect(person.page.locator("#conversation-title")).to_have_text(GROUP_NAME)

        # its members, as each sees them
        bob.page.click("#members-link")
        bob.page.wait_for_url(re.compile(f"/messages/{group}/members$"))
        expect(bob.page.locator("#member-list li")).to_have_count(3)
        expect(bob.page.locator('#member-list li[data-handle="alice"] .role')).to_have_text("owner")
        group_row(bob, group).locator("a").click()  # back to the conversation (desktop)
        bob.page.wait_for_url(re.compile(f"/messages/{group}$"))

        for person in (alice, bob, carol):
            stream_opened(person)
            person.mark_page()

        # alice writes: at once for her, live for bob and carol, her name on it
        alice.send("hello, both of you")
        expect(alice.messages_with("hello, both of you")).to_have_count(1)
        for person in (bob, carol):
            expect(message_item(person, "hello, both of you").locator(".name")).to_have_text(
                "Alice"
            )
            expect(group_row(person, group).locator(".name")).to_have_text(GROUP_NAME)
            expect(group_row(person, group).locator(".last")).to_have_text("hello, both of you")

        # bob replies: live for alice and carol, with his name
        bob.send("hi alice, hi carol")
        expect(bob.messages_with("hi alice, hi carol")).to_have_count(1)
        for person in (alice, carol):
            expect(message_item(person, "hi alice, hi carol").locator(".name")).to_have_text("Bob")
            expect(group_row(person, group).locator(".name")).to_have_text(GROUP_NAME)
            expect(group_row(person, group).locator(".last")).to_have_text("hi alice, hi carol")

        for person in (alice, bob, carol):
            assert message_texts(person) == ["hello, both of you", "hi alice, hi carol"]
            assert person.still_same_page(), f"{person.handle}'s page was reloaded"
        mine = alice.page.locator("#message-list li.message.mine p.text").all_inner_texts()
        assert mine == ["hello, both of you"]

        # carol back on her list; alice renames the group on its members page: bob's open page
        # shows the new name in its list, live
        carol.goto("/messages")
        stream_opened(carol)
        carol.mark_page()
        alice.goto(f"/messages/{group}/members")
        alice.page.fill("#rename-name", "Renamed crew")
        alice.page.click("#rename")
        expect(alice.page.locator("#group-title")).to_contain_text("Renamed crew")
        expect(group_row(bob, group).locator(".name")).to_have_text("Renamed crew")
        expect(group_row(carol, group).locator(".name")).to_have_text("Renamed crew")

        # alice removes carol: the group leaves carol's open list, live
        alice.page.locator('#member-list li[data-handle="carol"] button.remove').click()
        expect(alice.page.locator("#member-list li")).to_have_count(2)
        expect(group_row(carol, group)).to_have_count(0)
        for person in (bob, carol):
            assert person.still_same_page(), f"{person.handle}'s page was reloaded"
