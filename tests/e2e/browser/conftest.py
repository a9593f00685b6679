"""Fixtures of the browser tests: the machine's Chromium driven by Playwright's Python package (one
browser for the session, a fresh context per user), `cruddur serve` on the shared Redis with the
stream worker in a thread, and signed-in pages.

Chromium is Debian's (`/usr/bin/chromium`, installed by scripts/bootstrap): Playwright's own
browser download does not work here. Every wait has a deadline (`DEADLINE`), none sleeps.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import struct
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from fixtures_api import PASSWORD, serving

CHROMIUM = os.environ.get("CRUDDUR_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
# the longest any single wait of a browser test may take (milliseconds, Playwright's unit)
DEADLINE_MS = 20_000
DESKTOP = {"width": 1280, "height": 800}

# Wraps EventSource before the page's script runs (an init script is not subject to the page's
# CSP): the test can see when the page's stream opened, failed and reopened.
TRACK_EVENT_SOURCES = """
(() => {
  const Native = window.EventSource;
  window.__live = { opened: 0, errors: 0 };
  window.EventSource = function (url, init) {
    const source = new Native(url, init);
    source.addEventListener("open", () => { window.__live.opened += 1; });
    source.addEventListener("error", () => { window.__live.errors += 1; });
    return source;
  };
  window.EventSource.prototype = Native.prototype;
  for (const k of ["CONNECTING", "OPEN", "CLOSED"]) window.EventSource[k] = Native[k];
})();
"""


def _chromium_or_skip() -> str:
    if Path(CHROMIUM).exists() or shutil.which(CHROMIUM):
        return CHROMIUM
    reason = (
        f"no Chromium at {CHROMIUM}: scripts/bootstrap (make test) installs Debian's `chromium` "
        "with apt-get, which needs root or sudo"
    )
    if os.environ.get("CRUDDUR_SCREENSHOT"):
        pytest.fail(reason)  # `make screenshot` must not pass without taking the picture
    pytest.skip(reason)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """The session's one headless Chromium (Playwright's sync API)."""
    executable = _chromium_or_skip()
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="playwright is a dev extra: scripts/bootstrap installs it"
    )
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=executable, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def serve(live_settings, postgres_url, tmp_path) -> Callable[[str], Any]:
    """`serve(name)`: a `cruddur serve` process on the shared Redis (a context manager yielding
    its base URL); `name` keeps each server's data directory apart."""

    def start(name: str):
        return serving(
            live_settings,
            postgres_url,
            tmp_path / f"server-{name}",
            REDIS_URL=live_settings.redis_url or "",
        )

    return start


@dataclass
class Person:
    """A user in a browser context of their own, signed in through the sign-in form."""

    handle: str
    base_url: str
    context: Any
    page: Any
    dialogs: list[str]
    event_requests: list[Any]  # Playwright's requests of the page's event streams

    def goto(self, path: str) -> Any:
        response = self.page.goto(self.base_url + path)
        self.page.wait_for_load_state("domcontentloaded")
        return response

    # --- what the screens show ---------------------------------------------------------------

    def conversation_order(self) -> list[str]:
        return self.page.eval_on_selector_all(
            "#conversation-list li.conversation", "items => items.map(i => i.dataset.uuid)"
        )

    def messages_with(self, text: str) -> Any:
        return self.page.locator("#message-list li.message p.text").filter(
            has_text=re.compile("^" + re.escape(text) + "$")
        )

    def mark_page(self) -> None:
        """Put a marker in the page's window: it survives only as long as no reload happens."""
        self.page.evaluate("window.__notReloaded = true")

    def still_same_page(self) -> bool:
        return bool(self.page.evaluate("window.__notReloaded === true"))

    def send(self, text: str) -> None:
        """Type into the form and press Enter (as a person would)."""
        box = self.page.locator("#message-text")
        box.fill(text)
        box.press("Enter")


class TcpProxy:
    """A loopback TCP forwarder in front of a server: `drop()` cuts every open connection (the
    browser sees its event stream end, as on a network failure) and refuses new ones until
    `restore()`. Chromium's offline emulation does not end an open EventSource, this does."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._sockets: set[socket.socket] = set()
        self._refusing = False
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return  # closed
            if self._refusing:
                _reset(client)
                continue
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=5)
            except OSError:
                _reset(client)
                continue
            upstream.settimeout(None)
            with self._lock:
                self._sockets.update((client, upstream))
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for s in (source, sink):
                with self._lock:
                    self._sockets.discard(s)
                _reset(s)

    def drop(self) -> None:
        self._refusing = True
        with self._lock:
            open_sockets = list(self._sockets)
            self._sockets.clear()
        for s in open_sockets:
            _reset(s)

    def restore(self) -> None:
        self._refusing = False

    def close(self) -> None:
        self._closed = True
        self.drop()
        self._listener.close()


def _reset(s: socket.socket) -> None:
    """End the connection at once (SO_LINGER 0: no lingering in FIN_WAIT)."""
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    try:  # shutdown first: a close alone leaves a socket another thread is reading from open
        s.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    s.close()


@pytest.fixture
def proxy() -> Iterator[Callable[[str], TcpProxy]]:
    """`proxy(base_url)`: a TcpProxy in front of that server, closed after the test."""
    made: list[TcpProxy] = []

    def start(base_url: str) -> TcpProxy:
        made.append(TcpProxy(int(base_url.rsplit(":", 1)[1])))
        return made[-1]

    yield start
    for p in made:
        p.close()


@pytest.fixture
def people(browser, tmp_path) -> Iterator[Callable[..., Person]]:
    """`people(handle, base_url)`: a fresh browser context (desktop width), the sign-in form filled
    in and submitted; the page is on /messages afterwards. Contexts are closed after the test."""
    opened: list[Any] = []

    def sign_in(handle: str, base_url: str, viewport: dict[str, int] = DESKTOP) -> Person:
        context = browser.new_context(viewport=viewport, base_url=base_url)
        context.set_default_timeout(DEADLINE_MS)
        context.add_init_script(TRACK_EVENT_SOURCES)
        opened.append(context)
        page = context.new_page()
        dialogs: list[str] = []
        page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
        event_requests: list[Any] = []
        page.on(
            "request",
            lambda request: (
                event_requests.append(request) if "/web/events" in request.url else None
            ),
        )
        person = Person(handle, base_url, context, page, dialogs, event_requests)
        person.goto("/sign-in")
        page.fill("#handle", handle)
        page.fill("#password", PASSWORD)
        page.click("#sign-in-form button[type=submit]")
        page.wait_for_url(re.compile(r"/messages$"))
        return person

    yield sign_in
    for context in opened:
        context.close()
