"""What every web request goes through: the session cookie (who is signed in), CSRF checks, and the
security headers of every answer.

- The session cookie `cruddur_session` holds an opaque id (sessions.py); HttpOnly, SameSite=Lax,
  Secure over HTTPS (or when CRUDDUR_SECURE_COOKIES says so), Max-Age = the token's remaining life.
  Each request re-verifies the session's access token (signature, `exp`, issuer, client) and looks
  its user up, exactly as the API does for a bearer token: an expired token ends the session.
- CSRF: a signed-in session has its own random token (kept server-side); every form carries it in
  `csrf_token` and every script call in the `X-CSRF-Token` header. Before sign-in, the sign-in
  form's token is a double-submit cookie (`cruddur_csrf`). A cross-site `Origin` is refused too.
- Headers (`baseline_headers`, for the API's answers too): a Content-Security-Policy without
  inline scripts (`script-src 'self'`; `default-src 'none'` on the API), nosniff, frame-ancestors
  'none', no referrer across origins, and `no-store` on pages and API answers.
"""

from __future__ import annotations

import functools
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import Response, current_app, g, request
from werkzeug.exceptions import Forbidden

from cruddur.api.context import api
from cruddur.auth.errors import Unauthenticated
from cruddur.config import Settings
from cruddur.hardening.headers import API_HEADERS
from cruddur.users.models import User
from cruddur.web.hosted_ui import HostedUi
from cruddur.web.sessions import CSRF_TOKEN_BYTES, SessionStore, WebSession, new_secret

EXTENSION = "cruddur.web"
SESSION_COOKIE = "cruddur_session"
CSRF_COOKIE = "cruddur_csrf"
LOGIN_COOKIE = "cruddur_login"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"


@dataclass
class WebContext:
    settings: Settings
    sessions: SessionStore
    hosted_ui: HostedUi | None

    def csp(self) -> str:
        form_action = "'self'"
        if self.hosted_ui is not None:  # sign-out continues to Cognito's /logout
            form_action += f" {self.hosted_ui.origin}"
        return "; ".join(
            [
                "default-src 'self'",
                "script-src 'self'",
                "style-src 'self'",
                "img-src 'self' data:",
                "connect-src 'self'",
                "object-src 'none'",
                "base-uri 'none'",
                "frame-ancestors 'none'",
                f"form-action {form_action}",
            ]
        )


def web() -> WebContext:
    return current_app.extensions[EXTENSION]


# --- cookies ------------------------------------------------------------------------------------


def secure_cookies() -> bool:
    configured = web().settings.secure_cookies
    return request.is_secure if configured is None else configured


def set_cookie(response: Response, name: str, value: str, max_age: int) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max(0, max_age),
        path="/",
        secure=secure_cookies(),
        httponly=True,
        samesite="Lax",
    )


def clear_cookie(response: Response, name: str) -> None:
    response.delete_cookie(name, path="/", secure=secure_cookies(), httponly=True, samesite="Lax")


# --- the session --------------------------------------------------------------------------------


def load_session() -> None:
    """Before every web request: `g.user` and `g.web_session` from the cookie, or None. A session
    whose token no longer verifies (expired, key rotated, user gone) is deleted."""
    g.user = None
    g.web_session = None
    g.clear_session_cookie = False
    session_id = request.cookies.get(SESSION_COOKIE)
    if not session_id:
        return
    store = web().sessions
    session = store.get(session_id)
    if session is None:
        g.clear_session_cookie = True
        return
    try:
        user = api().identity.authenticator.authenticate(f"Bearer {session.access_token}")
    except Unauthenticated:
        store.delete(session_id)
        g.clear_session_cookie = True
        return
    g.user = user
    g.web_session = session


def signed_in_user() -> User | None:
    return g.get("user")


def current_session() -> WebSession | None:
    return g.get("web_session")


def start_session(response: Response, access_token: str, expires_at: int) -> WebSession:
    """A new session (a new id: never the one the browser had before sign-in) for this token."""
    previous = request.cookies.get(SESSION_COOKIE)
    store = web().sessions
    if previous:
        store.delete(previous)
    session = store.create(access_token, expires_at)
    set_cookie(
        response,
        SESSION_COOKIE,
        session.id,
        max_age=session.expires_at - int(time.time()),
    )
    clear_cookie(response, CSRF_COOKIE)
    g.clear_session_cookie = False
    return session


def end_session(response: Response) -> None:
    session_id = request.cookies.get(SESSION_COOKIE)
    if session_id:
        web().sessions.delete(session_id)
    clear_cookie(response, SESSION_COOKIE)


# --- CSRF ---------------------------------------------------------------------------------------


def anonymous_csrf_token() -> str:
    """The sign-in form's token: the double-submit cookie's value (made when missing; the answer
    sets the cookie in `finish`)."""
    token = request.cookies.get(CSRF_COOKIE) or g.get("new_csrf_cookie")
    if not token:
        token = new_secret(CSRF_TOKEN_BYTES)
        g.new_csrf_cookie = token
    return token


def csrf_token() -> str:
    session = current_session()
    return session.csrf_token if session is not None else anonymous_csrf_token()


def _same_origin(origin: str) -> bool:
    return origin.rstrip("/") == request.host_url.rstrip("/")


def require_csrf() -> None:
    """Refuse (403) a state-changing request without the right token or from another origin."""
    origin = request.headers.get("Origin")
    if origin is not None and origin != "null" and not _same_origin(origin):
        raise Forbidden("cross-origin request")
    sent = request.headers.get(CSRF_HEADER) or request.form.get(CSRF_FIELD) or ""
    session = current_session()
    expected = session.csrf_token if session is not None else request.cookies.get(CSRF_COOKIE)
    if not expected or not sent or not secrets.compare_digest(sent.encode(), expected.encode()):
        raise Forbidden("csrf token missing or wrong")


def csrf_protected(view: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(view)
    def checked(*args: Any, **kwargs: Any) -> Any:
        require_csrf()
        return view(*args, **kwargs)

    return checked


# --- every answer ---------------------------------------------------------------------------------


API_PATH_PREFIXES = ("/api/", "/.well-known/")


def baseline_headers(response: Response) -> Response:
    """After every request of the app (the API's too, and paths no route serves): the headers
    that never hurt. The one place that sets them for API and screens alike; a header a view set
    itself is kept (the JWKS's public max-age, the event stream's no-cache).

    API answers get a policy that allows nothing but still forbids framing, and `no-store`: an
    answer for a bearer token must never sit in a shared or browser cache."""
    headers = response.headers
    if request.path.startswith(API_PATH_PREFIXES):
        for name, value in API_HEADERS.items():
            headers.setdefault(name, value)
    else:
        headers.setdefault("Content-Security-Policy", web().csp())
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Referrer-Policy", "same-origin")
    return response


def finish(response: Response) -> Response:
    """After every web request: security headers, and the cookies this request decided on."""
    headers = response.headers
    baseline_headers(response)
    headers["Cross-Origin-Opener-Policy"] = "same-origin"
    if not request.path.startswith("/web/static/"):
        headers["Cache-Control"] = "no-store"
    if g.get("clear_session_cookie"):
        clear_cookie(response, SESSION_COOKIE)
    new_csrf = g.get("new_csrf_cookie")
    if new_csrf and current_session() is None and SESSION_COOKIE not in _set_cookie_names(response):
        set_cookie(response, CSRF_COOKIE, new_csrf, max_age=86_400)
    return response


def _set_cookie_names(response: Response) -> set[str]:
    return {value.split("=", 1)[0].strip() for value in response.headers.getlist("Set-Cookie")}
