"""The README's screenshot of the conversation screen: two demo users sign in, talk, and the
conversation is photographed at a desktop width. `make screenshot` runs this test with
CRUDDUR_SCREENSHOT=docs/screenshot-conversation.png; in `make test` it writes to tmp_path."""

from __future__ import annotations

import os
import struct
from pathlib import Path

from playwright.sync_api import expect

from fixtures_api import ApiClient, HttpTransport

EXCHANGE = [
    ("bayko", "Hey Andrew, are the new message screens live yet?"),
    ("andrewbrown", "They are! Messages arrive without a reload now."),
    ("bayko", "Nice. And the list on the left reorders by itself?"),
    ("andrewbrown", "Yes: whoever wrote last goes to the top."),
]


def png_size(path: Path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    return struct.unpack(">II", header[16:24])


def test_screenshot_of_the_conversation_screen(serve, register, people, worker, tmp_path):
    target = Path(os.environ.get("CRUDDUR_SCREENSHOT") or tmp_path / "conversation.png")
    register("andrewbrown", "Andrew Brown")
    register("bayko", "Andrew Bayko")
    register("londo", "Londo Mollari")
    with serve("a") as server:
        londo = ApiClient(HttpTransport(server)).as_user("londo")
        londo.send_to_handle("andrewbrown", "Have you seen the new screens?")
        andrew = people("andrewbrown", server)
        bayko = people("bayko", server)

        andrew.goto("/messages/new/bayko")
        andrew.send("Hi Bayko!")
        andrew.page.wait_for_url("**/messages/*")
        group = andrew.page.url.rsplit("/", 1)[1]
        bayko.goto(f"/messages/{group}")
        for person in (andrew, bayko):
            person.page.wait_for_function("() => window.__live.opened >= 1")
        speakers = {"andrewbrown": andrew, "bayko": bayko}
        for handle, text in EXCHANGE:
            speakers[handle].send(text)
            expect(andrew.messages_with(text)).to_have_count(1)
        last = EXCHANGE[-1][1]
        rows = andrew.page.locator("#conversation-list li.conversation")
        expect(rows).to_have_count(2)
        expect(rows.first.locator(".last")).to_have_text(last)

        andrew.page.locator("#message-text").blur()
        target.parent.mkdir(parents=True, exist_ok=True)
        andrew.page.screenshot(path=str(target))
        viewport = andrew.page.viewport_size
    assert viewport is not None and viewport["width"] >= 1200  # a desktop width: both panes
    assert png_size(target) == (viewport["width"], viewport["height"])
