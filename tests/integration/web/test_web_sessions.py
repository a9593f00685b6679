"""Sign-in, sign-out and the session: an opaque cookie, sessions kept server-side (in-process or
Redis) that end with their token or at sign-out, CSRF on every form, and the security headers."""

from __future__ import annotations

import re
import time

import redis

from cruddur.local.processes import free_port
from cruddur.web.security import CSRF_COOKIE, EXTENSION, SESSION_COOKIE
from cruddur.web.sessions import InProcessSessionStore, RedisSessionStore
from fixtures_api import PASSWORD

from .conftest import Browser, text_of


def set_cookie_header(response, name: str) -> str:
    found = [v for v in response.headers.getlist("Set-Cookie") if v.startswith(f"{name}=")]
    assert found, response.headers
    return found[-1]


# --- the front door -----------------------------------------------------------------------------


def test_the_root_sends_visitors_to_sign_in_and_members_to_their_messages(browser, member):
    assert browser().get("/").headers["Location"] == "/sign-in"
    assert member("andrewbrown").get("/").headers["Location"] == "/messages"


def test_a_page_for_members_sends_a_visitor_to_sign_in_and_back_afterwards(browser, register):
    register("andrewbrown")
    b = browser()

    away = b.get("/messages/new?q=ba")
    b.get(away.headers["Location"])
    signed_in = b.post_form(
        "/sign-in", {"handle": "andrewbrown", "password": PASSWORD, "next": "/messages/new?q=ba"}
    )

    assert away.status_code == 302
    assert away.headers["Location"].startswith("/sign-in?next=")
    assert signed_in.status_code == 303
    assert signed_in.headers["Location"] == "/messages/new?q=ba"


def test_sign_in_never_sends_anyone_to_another_site(browser, register):
    register("andrewbrown")
    targets = ("https://evil.example/", "//evil.example/x", "/\\evil.example", "/\t/evil.example")
    for target in targets + ("/\r\nSet-Cookie: x=1",):
        b = browser()
        b.get("/sign-in")
        answer = b.post_form(
            "/sign-in", {"handle": "andrewbrown", "password": PASSWORD, "next": target}
        )
        assert answer.headers["Location"] == "/messages", target


# --- signing in -----------------------------------------------------------------------------------


def test_signing_in_sets_an_opaque_http_only_lax_cookie_that_lives_no_longer_than_the_token(
    browser, register
):
    register("andrewbrown")
    b = browser()

    response = b.sign_in("andrewbrown")

    cookie = set_cookie_header(response, SESSION_COOKIE)
    value = b.cookie(SESSION_COOKIE)
    max_age = int(re.search(r"Max-Age=(\d+)", cookie).group(1))
    assert response.headers["Location"] == "/messages"
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # plain HTTP here; see the HTTPS test
    assert 0 < max_age <= 3600  # the local identity provider's token lives an hour
    assert PASSWORD not in value and "." not in value  # neither the password nor a JWT
    page = text_of(b.get("/messages"))
    assert "@andrewbrown" in page


def test_the_cookie_is_secure_over_https(browser, register):
    register("andrewbrown")
    b = browser()
    b.get("/sign-in", base_url="https://localhost")
    response = b.post_form(
        "/sign-in",
        {"handle": "andrewbrown", "password": PASSWORD},
        base_url="https://localhost",
        headers={"Origin": "https://localhost"},
    )

    assert response.status_code == 303
    assert "Secure" in set_cookie_header(response, SESSION_COOKIE)


def test_a_wrong_password_or_unknown_handle_is_refused_alike_and_sets_no_session(browser, register):
    register("andrewbrown")
    answers = []
    for handle, password in (("andrewbrown", "wrong"), ("nobody", PASSWORD)):
        b = browser()
        response = b.sign_in(handle, password)
        answers.append(response)
        assert b.cookie(SESSION_COOKIE) is None

    for response in answers:
        assert response.status_code == 401
        assert "Wrong handle or password." in text_of(response)
    assert 'value="andrewbrown"' in text_of(answers[0])  # the handle stays typed in


def test_the_sign_in_form_needs_its_csrf_token(browser, register):
    register("andrewbrown")
    b = browser()
    b.get("/sign-in")
    form = {"handle": "andrewbrown", "password": PASSWORD}

    missing = b.post_form("/sign-in", form, csrf=False)
    wrong = b.post_form("/sign-in", {**form, "csrf_token": "forged"})
    not_ascii = b.post_form("/sign-in", {**form, "csrf_token": "forgé"})
    cross_site = b.post_form("/sign-in", form, headers={"Origin": "https://evil.example"})
    fresh_browser = browser().post_form("/sign-in", {**form, "csrf_token": b.csrf})

    for refused in (missing, wrong, not_ascii, cross_site, fresh_browser):
        assert refused.status_code == 403
        assert "Reload the page" in text_of(refused)
    assert b.cookie(SESSION_COOKIE) is None
    assert "HttpOnly" in set_cookie_header(browser().get("/sign-in"), CSRF_COOKIE)


def test_signing_in_again_starts_a_new_session_id(member):
    b = member("andrewbrown")
    first = b.cookie(SESSION_COOKIE)

    b.sign_in("andrewbrown")

    assert b.cookie(SESSION_COOKIE) not in (None, first)
    assert b.app.extensions[EXTENSION].sessions.get(first) is None


# --- signing out ------------------------------------------------------------------------------------


def test_sign_out_ends_the_session_on_the_server_too(member, browser):
    b = member("andrewbrown")
    stolen = b.cookie(SESSION_COOKIE)

    out = b.post_form("/sign-out", {})
    replay = browser()
    replay.client.set_cookie(SESSION_COOKIE, stolen)
    after = replay.get("/messages")

    assert out.status_code == 303 and out.headers["Location"] == "/sign-in"
    assert b.cookie(SESSION_COOKIE) is None
    assert after.status_code == 302 and after.headers["Location"].startswith("/sign-in")
    assert b.app.extensions[EXTENSION].sessions.get(stolen) is None


def test_sign_out_needs_the_sessions_csrf_token(member):
    b = member("andrewbrown")

    refused = b.post_form("/sign-out", {"csrf_token": "forged"})

    assert refused.status_code == 403
    assert b.get("/messages").status_code == 200


# --- the session's life -------------------------------------------------------------------------


def test_a_session_whose_token_expired_is_over(browser, register, app, local_mint):
    user = register("andrewbrown")
    store = app.extensions[EXTENSION].sessions
    expired_token = local_mint.token(user.uuid, exp=int(time.time()) - 60)
    session = store.create(expired_token, int(time.time()) + 600)
    b = browser()
    b.client.set_cookie(SESSION_COOKIE, session.id)

    response = b.get("/messages")

    assert response.status_code == 302 and response.headers["Location"].startswith("/sign-in")
    assert store.get(session.id) is None
    assert f"{SESSION_COOKIE}=;" in set_cookie_header(response, SESSION_COOKIE)


def test_the_in_process_store_forgets_a_session_when_its_token_expires():
    now = [1_000_000.0]
    store = InProcessSessionStore(clock=lambda: now[0])
    session = store.create("token", int(now[0]) + 60)

    kept = store.get(session.id)
    now[0] += 61

    assert kept == session
    assert store.get(session.id) is None
    assert store.get("not-a-session") is None


def test_redis_sessions_are_shared_by_processes_and_expire_with_the_token(
    app, settings, repo, users, register, redis_url, redis_prefix
):
    from cruddur.api import create_app

    register("andrewbrown")
    store = RedisSessionStore(redis_url, prefix=redis_prefix)
    other_app = create_app(settings, messages=repo, users=users)
    for each in (app, other_app):
        each.extensions[EXTENSION].sessions = store
    here = Browser(app)
    here.sign_in("andrewbrown")
    session_id = here.cookie(SESSION_COOKIE)

    there = Browser(other_app)
    there.client.set_cookie(SESSION_COOKIE, session_id)
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    [key] = client.keys(f"{redis_prefix}*")

    assert there.get("/messages").status_code == 200
    assert session_id not in key  # stored under a hash of the cookie's value
    assert 0 < client.ttl(key) <= 3600
    here.post_form("/sign-out", {})
    assert client.keys(f"{redis_prefix}*") == []
    assert there.get("/messages").status_code == 302


def test_a_session_store_that_does_not_answer_gives_a_retry_page(app, register, browser):
    register("andrewbrown")
    app.extensions[EXTENSION].sessions = RedisSessionStore(f"redis://127.0.0.1:{free_port()}/0")
    b = browser()
    b.client.set_cookie(SESSION_COOKIE, "some-session")

    page = b.get("/messages")
    anonymous = browser().get("/sign-in")

    assert page.status_code == 503
    assert 'id="retry"' in text_of(page) and "Traceback" not in text_of(page)
    assert anonymous.status_code == 200  # no cookie: the store is not needed


# --- headers ------------------------------------------------------------------------------------


def test_every_screen_forbids_inline_scripts_and_sniffing(member):
    b = member("andrewbrown")
    for path in ("/sign-in", "/messages", "/messages/new?q=x", "/web/static/app.js", "/nope"):
        response = b.get(path)
        csp = response.headers.get("Content-Security-Policy", "")
        assert "script-src 'self'" in csp, path
        assert "unsafe-inline" not in csp
        assert "frame-ancestors 'none'" in csp
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        if response.mimetype == "text/html":
            page = text_of(response)
            assert not re.search(r"<script(?![^>]*\bsrc=)", page), path  # no inline script
            assert " style=" not in page and " on" + "click=" not in page
            assert response.headers["Cache-Control"] == "no-store"
