"""HTTP API fixtures: the app on the session's engines, a tiny api client that hides URLs and JSON,
signed-in users, and the API served for real (werkzeug in a thread, gunicorn via `cruddur serve`)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from werkzeug.serving import make_server

from cruddur.api import create_app
from cruddur.auth.keys import (
    ensure_signing_key,
    generate_private_key,
    load_private_key,
    public_jwk,
)
from cruddur.auth.local_idp import LOCAL_CLIENT_ID, LOCAL_ISSUER
from cruddur.config import Settings
from cruddur.local.processes import free_port
from cruddur.local.serving import ServeFailed, served_api
from cruddur.users.models import User, demo_user_uuid

PASSWORD = "correct horse battery staple"


@dataclass
class ApiResponse:
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def errors(self) -> list[str]:
        return self.body.get("errors", []) if isinstance(self.body, dict) else []

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers.items() if k.lower() == name.lower()), None)

    @property
    def next_url(self) -> str | None:
        """The target of the `Link: <...>; rel="next"` header, if any."""
        link = self.header("Link")
        if not link:
            return None
        target, _, params = link.partition(";")
        assert 'rel="next"' in params, link
        return target.strip().strip("<>")


def _decode(raw: bytes) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode(errors="replace")


class FlaskTransport:
    def __init__(self, app) -> None:
        self.app = app

    def request(
        self, method: str, path: str, data: bytes | None, headers: dict[str, str]
    ) -> ApiResponse:
        # A fresh test client per call: the transport is shared by threads in concurrency tests.
        response = self.app.test_client().open(path, method=method, data=data, headers=headers)
        return ApiResponse(
            response.status_code, _decode(response.get_data()), dict(response.headers)
        )


class HttpTransport:
    def __init__(self, base_url: str) -> None:
        self.base_url = base_url.rstrip("/")

    def request(
        self, method: str, path: str, data: bytes | None, headers: dict[str, str]
    ) -> ApiResponse:
        request = urllib.request.Request(
            self.base_url + path, data=data, method=method, headers=headers
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
                return ApiResponse(
                    response.status, _decode(response.read()), dict(response.headers)
                )
        except urllib.error.HTTPError as error:
            return ApiResponse(error.code, _decode(error.read()), dict(error.headers))


class ApiClient:
    """The API as a test speaks to it: sign in, then call endpoints by what they mean."""

    def __init__(self, transport, token: str | None = None) -> None:
        self.transport = transport
        self.token = token

    # --- plumbing ---------------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        raw: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> ApiResponse:
        sent = dict(headers or {})
        if self.token and "Authorization" not in sent:
            sent["Authorization"] = f"Bearer {self.token}"
        data = raw
        if body is not None:
            data = json.dumps(body).encode()
        if data is not None:
            sent.setdefault("Content-Type", "application/json")
        return self.transport.request(method, path, data, sent)

    def get(self, path: str, **params: Any) -> ApiResponse:
        query = urllib.parse.urlencode({k: v for k, v in params.items() if v is not None})
        return self.request("GET", f"{path}?{query}" if query else path)

    def post(self, path: str, body: Any = None, **kwargs: Any) -> ApiResponse:
        return self.request("POST", path, body, **kwargs)

    def with_token(self, token: str | None) -> ApiClient:
        return ApiClient(self.transport, token)

    # --- sign-in ----------------------------------------------------------------------------

    def sign_in(self, handle: str, password: str = PASSWORD) -> ApiResponse:
        return self.post("/api/auth/token", {"handle": handle, "password": password})

    def as_user(self, handle: str, password: str = PASSWORD) -> ApiClient:
        response = self.sign_in(handle, password)
        assert response.status == 200, response
        return self.with_token(response.body["access_token"])

    # --- the contract -----------------------------------------------------------------------

    def conversations(self, **params: Any) -> ApiResponse:
        return self.get("/api/message_groups", **params)

    def messages(self, group_uuid: str, **params: Any) -> ApiResponse:
        return self.get(f"/api/messages/{group_uuid}", **params)

    def all_messages(self, group_uuid: str, limit: int = 100) -> list[dict[str, Any]]:
        """Every message of the group by following `Link: rel="next"`, oldest first."""
        pages: list[list[dict[str, Any]]] = []
        response = self.messages(group_uuid, limit=limit)
        while True:
            assert response.status == 200, response
            pages.append(response.body)
            if response.next_url is None:
                break
            response = self.get(response.next_url)
        return [message for page in reversed(pages) for message in page]

    def send_to_handle(self, handle: str, text: str) -> ApiResponse:
        return self.post("/api/messages", {"message": text, "handle": handle})

    def send_to_group(self, group_uuid: str, text: str) -> ApiResponse:
        return self.post("/api/messages", {"message": text, "message_group_uuid": group_uuid})

    def user_short(self, handle: str) -> ApiResponse:
        return self.get(f"/api/users/@{handle}/short")

    def create_group(self, name: Any, handles: Any, message: Any = None) -> ApiResponse:
        body: dict[str, Any] = {"name": name, "handles": handles}
        if message is not None:
            body["message"] = message
        return self.post("/api/message_groups", body)

    def members(self, group_uuid: str) -> ApiResponse:
        return self.get(f"/api/message_groups/{group_uuid}/members")


# --- tokens ---------------------------------------------------------------------------------


class TokenMint:
    """Signs Cognito-shaped access tokens with a key of its own, and serves that key as a JWKS:
    the tests' stand-in for a Cognito user pool (no network)."""

    def __init__(self, issuer: str, client_id: str, private_key: Any = None) -> None:
        self.issuer = issuer
        self.client_id = client_id
        self.private_key = private_key or generate_private_key()
        self.jwk = public_jwk(self.private_key.public_key())
        self.kid = self.jwk["kid"]

    def jwks(self) -> dict[str, Any]:
        return {"keys": [self.jwk]}

    def claims(self, sub: str, /, **overrides: Any) -> dict[str, Any]:
        now = int(time.time())
        claims = {
            "sub": sub,
            "iss": self.issuer,
            "client_id": self.client_id,
            "token_use": "access",
            "scope": "aws.cognito.signin.user.admin",
            "auth_time": now,
            "iat": now,
            "exp": now + 3600,
            "jti": str(uuid.uuid4()),
            "username": sub,
        }
        claims.update(overrides)
        return {k: v for k, v in claims.items() if v is not None}

    def token(self, sub: str, /, *, headers: dict[str, Any] | None = None, **overrides: Any) -> str:
        """A signed token; a claim or header given as None is left out."""
        header = {k: v for k, v in {"kid": self.kid, **(headers or {})}.items() if v is not None}
        return jwt.encode(
            self.claims(sub, **overrides), self.private_key, algorithm="RS256", headers=header
        )

    def unsigned(self, sub: str, /, **overrides: Any) -> str:
        """`alg: none`: the classic forgery."""
        return jwt.encode(
            self.claims(sub, **overrides), None, algorithm="none", headers={"kid": self.kid}
        )

    def hs256_with_public_key(self, sub: str, /, **overrides: Any) -> str:
        """HMAC keyed with the public key: the algorithm-confusion forgery."""
        public_pem = self.private_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        header = {"alg": "HS256", "typ": "JWT", "kid": self.kid}
        signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(self.claims(sub, **overrides)).encode())}"
        signature = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
        return f"{signing_input}.{_b64(signature)}"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


@pytest.fixture(scope="session")
def jwks_server() -> Iterator[JwksServer]:
    """A loopback HTTP server answering GET with whatever JWKS document a test sets."""
    server = JwksServer()
    yield server
    server.close()


class JwksServer:
    def __init__(self) -> None:
        self.document: Any = {"keys": []}
        self.requests = 0
        self.failing = False
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
                owner.requests += 1
                if owner.failing:
                    self.send_response(500)
                    self.end_headers()
                    return
                body = json.dumps(owner.document).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        self.url = f"http://127.0.0.1:{self._server.server_port}/pool/.well-known/jwks.json"

    def serve(self, document: Any) -> None:
        self.document = document
        self.requests = 0
        self.failing = False

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


# --- fixtures ---------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def signing_key(base_settings: Settings) -> Path:
    """The local identity provider's key, made once as `cruddur serve` would before its workers."""
    return ensure_signing_key(base_settings.data_dir)


@pytest.fixture
def local_mint(signing_key: Path) -> TokenMint:
    """Tokens signed with the local identity provider's own key, any claims a test wants."""
    return TokenMint(LOCAL_ISSUER, LOCAL_CLIENT_ID, load_private_key(signing_key))


@pytest.fixture
def app(settings: Settings, repo, users, signing_key: Path):
    return create_app(settings, messages=repo, users=users)


@pytest.fixture
def api(app) -> ApiClient:
    """An anonymous client of the app (Flask's test client underneath)."""
    return ApiClient(FlaskTransport(app))


@pytest.fixture
def register(users) -> Callable[..., User]:
    """Create a user of the users store with PASSWORD (demo-style uuid from the handle)."""

    def create(handle: str, display_name: str | None = None, password: str = PASSWORD) -> User:
        user = users.create(
            handle,
            display_name or handle.title(),
            f"{handle}@example.com",
            uuid=demo_user_uuid(handle),
        )
        users.set_password(user.uuid, password)
        return user

    return create


@pytest.fixture
def signed_in(api: ApiClient, register) -> Callable[[str], ApiClient]:
    """A client signed in as a new user with this handle."""

    def sign_in(handle: str) -> ApiClient:
        register(handle)
        return api.as_user(handle)

    return sign_in


@pytest.fixture
def live_server(app) -> Iterator[str]:
    """The app served over real HTTP on a free loopback port (werkzeug, threaded)."""
    server = make_server("127.0.0.1", free_port(), app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)


@contextmanager
def serving(
    settings: Settings, postgres_url: str, data_dir: Path, **extra_env: str
) -> Iterator[str]:
    """`cruddur serve` (gunicorn, 2 workers x 8 threads) on a free loopback port, on `settings`'
    table and the given users database, with a data directory of its own (serve makes its signing
    key there), rate limits off; `extra_env` adds to its environment (REDIS_URL, say: it is not
    taken from `settings`). Yields the base URL. The one way to serve: cruddur.local.serving."""
    try:
        with served_api(
            replace(settings, redis_url=None),
            postgres_url,
            data_dir,
            workers=2,
            threads=8,
            **extra_env,
        ) as served:
            yield served.base_url
    except ServeFailed as failed:
        pytest.fail(str(failed))


@pytest.fixture
def gunicorn_server(settings: Settings, postgres_url: str, users, tmp_path: Path) -> Iterator[str]:
    """`cruddur serve` on this test's table and the session's users database."""
    with serving(settings, postgres_url, tmp_path / "data") as url:
        yield url
