"""Web UI fixtures: a browser-like Flask test client (it keeps cookies) that signs in through the
sign-in form, and helpers that read what a page says."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from typing import Any

import pytest

from fixtures_api import PASSWORD

CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')
CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]*)">')


def text_of(response: Any) -> str:
    return response.get_data(as_text=True)


def csrf_of(page: str) -> str:
    found = CSRF_FIELD.search(page) or CSRF_META.search(page)
    assert found, "no CSRF token on the page"
    return html.unescape(found.group(1))


class Browser:
    """One browser: the app's test client with its cookie jar, and the last page's CSRF token."""

    def __init__(self, app) -> None:
        self.app = app
        self.client = app.test_client()
        self.csrf = ""

    def get(self, path: str, **kwargs: Any):
        response = self.client.get(path, **kwargs)
        if response.mimetype == "text/html":
            page = text_of(response)
            if CSRF_FIELD.search(page) or CSRF_META.search(page):
                self.csrf = csrf_of(page)
        return response

    def post_form(self, path: str, data: dict[str, str], csrf: bool = True, **kwargs: Any):
        sent = dict(data)
        if csrf:
            sent.setdefault("csrf_token", self.csrf)
        return self.client.post(path, data=sent, **kwargs)

    def post_json(
        self, path: str, body: Any, csrf: bool = True, headers: dict[str, str] | None = None
    ):
        sent = {"X-CSRF-Token": self.csrf} if csrf else {}
        sent.update(headers or {})
        return self.client.post(path, json=body, headers=sent)

    def sign_in(self, handle: str, password: str = PASSWORD, next_path: str | None = None):
        self.get("/sign-in")
        data = {"handle": handle, "password": password}
        if next_path is not None:
            data["next"] = next_path
        response = self.post_form("/sign-in", data)
        if response.status_code == 303:
            self.get("/messages")  # the signed-in session's CSRF token
        return response

    def cookie(self, name: str) -> str | None:
        found = self.client.get_cookie(name)
        return found.value if found is not None else None


@pytest.fixture
def browser(app) -> Callable[[], Browser]:
    """A new browser of the app (each call: an empty cookie jar)."""
    return lambda: Browser(app)


@pytest.fixture
def member(browser, register) -> Callable[[str], Browser]:
    """A browser signed in as a new user with this handle."""

    def sign_in(handle: str) -> Browser:
        register(handle)
        b = browser()
        response = b.sign_in(handle)
        assert response.status_code == 303, text_of(response)
        return b

    return sign_in
