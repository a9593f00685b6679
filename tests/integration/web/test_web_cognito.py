"""Sign-in through the Cognito Hosted UI (authorization code + PKCE), against a stand-in of the
Hosted UI's token endpoint on loopback: the test plays the Hosted UI's part (it reads the
authorize redirect and hands back a code), the stand-in checks the PKCE verifier against the
challenge and answers with an access token signed by the test's stand-in user pool."""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import urllib.parse
from collections.abc import Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from cruddur.api import create_app
from cruddur.auth import RemoteKeySet, cognito_issuer
from cruddur.config import Settings
from cruddur.web.hosted_ui import hosted_ui_for
from cruddur.web.security import LOGIN_COOKIE, SESSION_COOKIE
from fixtures_api import TokenMint

from .conftest import Browser, text_of

POOL = "us-east-1_WebPool1"
CLIENT = "7webclient0id0abcdefghijk"
SUB = "6d1e9a34-2222-4b4b-8c8c-5d5d5d5d5d5d"
REDIRECT_URI = "https://cruddur.example/auth/callback"


class TokenEndpoint:
    """`POST /oauth2/token` as Cognito answers it, for codes the test issued."""

    def __init__(self, mint: TokenMint) -> None:
        self.mint = mint
        self.codes: dict[str, tuple[str, str]] = {}  # code -> (code_challenge, sub)
        self.requests: list[dict[str, str]] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
                length = int(self.headers.get("Content-Length", "0"))
                form = dict(urllib.parse.parse_qsl(self.rfile.read(length).decode()))
                owner.requests.append(form)
                status, body = owner.answer(self.path, self.headers.get("Content-Type", ""), form)
                raw = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        self.base_url = f"http://127.0.0.1:{self._server.server_port}"

    def answer(self, path: str, content_type: str, form: dict[str, str]) -> tuple[int, Any]:
        if path != "/oauth2/token" or content_type != "application/x-www-form-urlencoded":
            return 400, {"error": "invalid_request"}
        issued = self.codes.pop(form.get("code", ""), None)  # a code is good once
        if issued is None or form.get("grant_type") != "authorization_code":
            return 400, {"error": "invalid_grant"}
        challenge, sub = issued
        verifier = form.get("code_verifier", "")
        digest = hashlib.sha256(verifier.encode()).digest()
        if base64.urlsafe_b64encode(digest).decode().rstrip("=") != challenge:
            return 400, {"error": "invalid_grant"}
        if form.get("client_id") != CLIENT or form.get("redirect_uri") != REDIRECT_URI:
            return 400, {"error": "invalid_client"}
        token = self.mint.token(sub, username=sub)
        return 200, {
            "access_token": token,
            "id_token": "not-used",
            "refresh_token": "not-used",
            "token_type": "Bearer",
            "expires_in": 3600,
        }

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def mint(settings) -> TokenMint:
    return TokenMint(cognito_issuer(settings.region, POOL), CLIENT)


@pytest.fixture
def token_endpoint(mint) -> Iterator[TokenEndpoint]:
    endpoint = TokenEndpoint(mint)
    yield endpoint
    endpoint.close()


@pytest.fixture
def cognito_app(settings, repo, users, mint, jwks_server, token_endpoint):
    jwks_server.serve(mint.jwks())
    configured = replace(
        settings,
        cognito_user_pool_id=POOL,
        cognito_client_id=CLIENT,
        cognito_hosted_ui_domain=token_endpoint.base_url,
        cognito_redirect_uri=REDIRECT_URI,
    )
    return create_app(configured, messages=repo, users=users, key_set=RemoteKeySet(jwks_server.url))


@pytest.fixture
def andrew(register, users):
    user = register("andrewbrown")
    users.set_cognito_user_id(user.uuid, SUB)
    return user


def start(b: Browser, token_endpoint: TokenEndpoint, sub: str = SUB) -> dict[str, str]:
    """The Hosted UI's part: read the authorize redirect, issue a code for its challenge."""
    redirect = b.client.get("/auth/cognito?next=/messages/new")
    assert redirect.status_code == 302
    location = redirect.headers["Location"]
    assert location.startswith(f"{token_endpoint.base_url}/oauth2/authorize?")
    query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(location).query))
    token_endpoint.codes["code-123"] = (query["code_challenge"], sub)
    return query


def test_signing_in_through_the_hosted_ui_exchanges_the_code_with_the_pkce_verifier(
    cognito_app, token_endpoint, andrew
):
    b = Browser(cognito_app)

    sign_in_page = text_of(b.get("/sign-in"))
    query = start(b, token_endpoint)
    back = b.client.get(f"/auth/callback?code=code-123&state={query['state']}")
    page = b.get("/messages")

    assert 'id="sign-in-cognito"' in sign_in_page and 'id="sign-in-form"' not in sign_in_page
    assert query["response_type"] == "code" and query["client_id"] == CLIENT
    assert query["redirect_uri"] == REDIRECT_URI and query["code_challenge_method"] == "S256"
    assert len(query["state"]) >= 32
    assert back.status_code == 303 and back.headers["Location"] == "/messages/new"
    assert b.cookie(SESSION_COOKIE) and b.cookie(LOGIN_COOKIE) is None
    [exchange] = token_endpoint.requests
    assert exchange["grant_type"] == "authorization_code" and len(exchange["code_verifier"]) >= 43
    assert "client_secret" not in exchange
    assert page.status_code == 200 and "@andrewbrown" in text_of(page)


def test_a_callback_with_another_state_or_replayed_makes_no_session(
    cognito_app, token_endpoint, andrew
):
    b = Browser(cognito_app)
    query = start(b, token_endpoint)

    forged = b.client.get("/auth/callback?code=code-123&state=forged")
    replayed = b.client.get(f"/auth/callback?code=code-123&state={query['state']}")
    other_browser = Browser(cognito_app).client.get(
        f"/auth/callback?code=code-123&state={query['state']}"
    )

    assert forged.status_code == 400  # and the attempt is used up
    assert replayed.status_code == 400
    assert other_browser.status_code == 400
    assert b.cookie(SESSION_COOKIE) is None
    assert token_endpoint.requests == []  # no code was ever exchanged


def test_a_code_the_token_endpoint_refuses_makes_no_session(cognito_app, token_endpoint, andrew):
    b = Browser(cognito_app)
    query = start(b, token_endpoint)
    token_endpoint.codes["code-123"] = ("another-challenge", SUB)  # the verifier will not match

    back = b.client.get(f"/auth/callback?code=code-123&state={query['state']}")

    assert back.status_code == 401
    assert "sign in again" in text_of(back)
    assert b.cookie(SESSION_COOKIE) is None


def test_a_cognito_user_without_a_cruddur_profile_is_told_so(cognito_app, token_endpoint):
    b = Browser(cognito_app)
    query = start(b, token_endpoint, sub="00000000-0000-4000-8000-000000000000")

    back = b.client.get(f"/auth/callback?code=code-123&state={query['state']}")

    assert back.status_code == 401
    assert "no Cruddur profile" in text_of(back)
    assert b.cookie(SESSION_COOKIE) is None


def test_sign_out_ends_the_cognito_session_too(cognito_app, token_endpoint, andrew):
    b = Browser(cognito_app)
    query = start(b, token_endpoint)
    b.client.get(f"/auth/callback?code=code-123&state={query['state']}")
    b.get("/messages")

    out = b.post_form("/sign-out", {})

    location = urllib.parse.urlsplit(out.headers["Location"])
    assert out.status_code == 303
    assert f"{location.scheme}://{location.netloc}{location.path}" == (
        f"{token_endpoint.base_url}/logout"
    )
    assert dict(urllib.parse.parse_qsl(location.query)) == {
        "client_id": CLIENT,
        "logout_uri": "https://cruddur.example/sign-in",
    }
    assert token_endpoint.base_url in out.headers["Content-Security-Policy"]
    assert b.cookie(SESSION_COOKIE) is None


def test_the_password_form_is_gone_with_cognito(cognito_app, andrew):
    b = Browser(cognito_app)
    b.get("/sign-in")

    answer = b.post_form("/sign-in", {"handle": "andrewbrown", "password": "x"})

    assert answer.status_code == 404


def test_the_hosted_ui_needs_https_except_on_loopback():
    base = Settings(
        cognito_user_pool_id=POOL, cognito_client_id=CLIENT, cognito_redirect_uri=REDIRECT_URI
    )

    assert hosted_ui_for(base) is None  # no domain: no Hosted UI
    domain = hosted_ui_for(replace(base, cognito_hosted_ui_domain="cruddur.auth.example.com"))
    assert domain is not None and domain.base_url == "https://cruddur.auth.example.com"
    with pytest.raises(ValueError):
        hosted_ui_for(replace(base, cognito_hosted_ui_domain="http://auth.example.com"))
