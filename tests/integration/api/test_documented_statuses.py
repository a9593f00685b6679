"""Every status code the OpenAPI document lists for an operation is reached here: one case per
(method, path, status), made against the app on the real engines, and checked for its status,
its content type as documented and, for an error, the `{"errors": [codes]}` shape. A status the
document lists without a case here (or a case for a status it does not list) fails
`test_every_documented_status_has_a_case`: add the case with the status. The statuses the server
answers before the app (SERVER_LIMITS: 414, 431) are reached on gunicorn by
tests/e2e/api/test_server_limits.py."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import replace
from functools import cached_property, partial
from typing import Any

import pytest

from cruddur.api import create_app
from cruddur.api import idempotency as http_idempotency
from cruddur.api.openapi import SERVER_LIMITS, openapi_document
from cruddur.auth import RemoteKeySet
from cruddur.hardening.idempotency import (
    ClaimOutcome,
    InProcessIdempotencyStore,
    RedisIdempotencyStore,
    fingerprint,
)
from cruddur.live.bus import InProcessEventBus
from cruddur.local.processes import free_port
from cruddur.users.db import create_pool
from cruddur.users.repository import UserRepository
from fixtures_api import ApiClient, ApiResponse, FlaskTransport
from fixtures_postgres import TEST_PASSWORD_HASHER

UNKNOWN_GROUP = "00000000-0000-4000-8000-000000000000"
# a JSON body over the 16 KiB the app reads
TOO_LARGE = json.dumps({"message": "x" * 17 * 1024, "name": "n", "handles": []}).encode()
HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


class World:
    """The apps and users one case needs, built on first use: the app on this test's table and
    users database, and its variants (limits on, Cognito configured, a missing table, a users
    database without its schema, a live event bus, an unreachable key store)."""

    def __init__(self, request: pytest.FixtureRequest, stack: ExitStack) -> None:
        self.request = request
        self.stack = stack
        self.settings = request.getfixturevalue("settings")
        self.repo = request.getfixturevalue("repo")
        self.users = request.getfixturevalue("users")
        request.getfixturevalue("signing_key")
        self.keys = InProcessIdempotencyStore()

    def app(self, settings: Any = None, **kwargs: Any):
        kwargs.setdefault("messages", self.repo)
        kwargs.setdefault("users", self.users)
        return create_app(settings or self.settings, **kwargs)

    def client(self, settings: Any = None, **kwargs: Any) -> ApiClient:
        return ApiClient(FlaskTransport(self.app(settings, **kwargs)))

    # --- the app and its users -------------------------------------------------------------

    @cached_property
    def api(self) -> ApiClient:
        """An anonymous client; andrewbrown, bayko and londo exist."""
        self.registered  # noqa: B018 - registers them
        return self.client(idempotency=self.keys)

    @cached_property
    def registered(self) -> dict[str, Any]:
        register = self.request.getfixturevalue("register")
        return {handle: register(handle) for handle in ("andrewbrown", "bayko", "londo")}

    def signed_in(self, handle: str, via: ApiClient | None = None) -> ApiClient:
        assert handle in self.registered
        return (via or self.api).as_user(handle)

    @cached_property
    def andrew(self) -> ApiClient:
        return self.signed_in("andrewbrown")

    @cached_property
    def bayko(self) -> ApiClient:
        return self.signed_in("bayko")

    @cached_property
    def direct(self) -> str:
        """andrewbrown and bayko's direct conversation."""
        return self.andrew.send_to_handle("bayko", "hello").body["message_group_uuid"]

    @cached_property
    def named(self) -> str:
        """A named group of andrewbrown (its owner), bayko and londo."""
        created = self.andrew.create_group("crew", ["bayko", "londo"])
        assert created.status == 200, created
        return created.body["message_group_uuid"]

    # --- variants ------------------------------------------------------------------------------

    def limited(self, **limits: int) -> ApiClient:
        """The app with these rate limits on (its own counters, in this process)."""
        self.registered  # noqa: B018 - the users must exist before signing in
        return self.client(replace(self.settings, **limits))

    @cached_property
    def table_missing(self) -> ApiClient:
        """andrewbrown signed in to the app on a table that does not exist: DynamoDB refuses."""
        client = self.client(
            replace(self.settings, table_name=f"cruddur-missing-{uuid.uuid4().hex[:8]}"),
            messages=None,
        )
        return self.signed_in("andrewbrown", client)

    @cached_property
    def users_refused(self) -> ApiClient:
        """The app on a users database whose schema was never loaded: PostgreSQL refuses every
        query; a valid token for andrewbrown (the verifier looks the user up: 503)."""
        url = self.request.getfixturevalue("fresh_database_url")
        pool = create_pool(url, min_size=1, max_size=2)
        self.stack.callback(pool.close)
        client = self.client(users=UserRepository(pool, hasher=TEST_PASSWORD_HASHER))
        mint = self.request.getfixturevalue("local_mint")
        return client.with_token(mint.token(self.registered["andrewbrown"].uuid))

    @cached_property
    def cognito(self) -> ApiClient:
        """The app with a Cognito user pool configured: no local identity provider."""
        settings = replace(
            self.settings,
            cognito_user_pool_id="us-east-1_TestPool1",
            cognito_client_id="5example0client0id0abcdefg",
        )
        jwks = self.request.getfixturevalue("jwks_server")
        return self.client(settings, key_set=RemoteKeySet(jwks.url))

    @cached_property
    def keys_unreachable(self) -> ApiClient:
        """andrewbrown on the app whose idempotency keys live in a Redis that does not answer."""
        store = RedisIdempotencyStore(f"redis://127.0.0.1:{free_port()}/0", prefix="nowhere:")
        return self.signed_in("andrewbrown", self.client(idempotency=store))

    def events(self, *, live: bool, token: str | None, query: str = "") -> ApiResponse:
        """GET /api/events with or without a bus; a stream is closed once its head is read."""
        app = self.app(events=InProcessEventBus() if live else None)
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        response = app.test_client().get(f"/api/events{query}", headers=headers, buffered=False)
        try:
            body: Any = None
            if response.mimetype == "application/json":
                body = response.get_json()
            return ApiResponse(response.status_code, body, dict(response.headers))
        finally:
            response.close()

    def in_progress(self, path: str, body: dict[str, Any]) -> ApiResponse:
        """The same keyed request as one still running elsewhere, once the wait runs out."""
        user = self.registered["andrewbrown"].uuid
        request_fp = fingerprint("POST", path, json.dumps(body).encode())
        assert self.keys.claim(user, "running", request_fp).outcome is ClaimOutcome.NEW
        self.request.getfixturevalue("monkeypatch").setattr(http_idempotency, "WAIT_SECONDS", 0.0)
        return self.andrew.post(path, body, headers={"Idempotency-Key": "running"})


def second(call: Callable[[], ApiResponse]) -> ApiResponse:
    """The second of two identical calls (the first uses up a limit of one)."""
    first = call()
    assert first.status in (200, 401), first
    return call()


# (method, path as documented, status) -> the request that must answer it
Case = Callable[[World], ApiResponse]
CASES: dict[tuple[str, str, str], Case] = {
    # --- conversations -----------------------------------------------------------------------
    ("get", "/api/message_groups", "200"): lambda w: w.andrew.conversations(),
    ("get", "/api/message_groups", "401"): lambda w: w.api.conversations(),
    ("get", "/api/message_groups", "422"): lambda w: w.andrew.conversations(limit=0),
    ("get", "/api/message_groups", "503"): lambda w: w.table_missing.conversations(),
    ("post", "/api/message_groups", "200"): lambda w: w.andrew.create_group("crew", ["bayko"]),
    ("post", "/api/message_groups", "400"): lambda w: w.andrew.create_group(5, ["bayko"]),
    ("post", "/api/message_groups", "401"): lambda w: w.api.create_group("crew", ["bayko"]),
    ("post", "/api/message_groups", "404"): lambda w: w.andrew.create_group("crew", ["nobody"]),
    ("post", "/api/message_groups", "409"): lambda w: w.in_progress(
        "/api/message_groups", {"name": "crew", "handles": ["bayko"]}
    ),
    ("post", "/api/message_groups", "413"): lambda w: w.andrew.post(
        "/api/message_groups", raw=TOO_LARGE
    ),
    ("post", "/api/message_groups", "422"): lambda w: w.andrew.create_group("   ", ["bayko"]),
    ("post", "/api/message_groups", "429"): lambda w: second(
        partial(
            w.signed_in(
                "andrewbrown", w.limited(rate_limit_new_conversations_per_hour=1)
            ).create_group,
            "crew",
            ["bayko"],
        )
    ),
    ("post", "/api/message_groups", "503"): lambda w: w.keys_unreachable.post(
        "/api/message_groups",
        {"name": "crew", "handles": ["bayko"]},
        headers={"Idempotency-Key": "k"},
    ),
    # --- messages ----------------------------------------------------------------------------
    ("get", "/api/messages/{group_uuid}", "200"): lambda w: w.andrew.messages(w.direct),
    ("get", "/api/messages/{group_uuid}", "401"): lambda w: w.api.messages(UNKNOWN_GROUP),
    ("get", "/api/messages/{group_uuid}", "404"): lambda w: w.andrew.messages(UNKNOWN_GROUP),
    ("get", "/api/messages/{group_uuid}", "422"): lambda w: w.andrew.messages("not-a-uuid"),
    ("get", "/api/messages/{group_uuid}", "503"): lambda w: w.table_missing.messages(UNKNOWN_GROUP),
    ("post", "/api/messages", "200"): lambda w: w.andrew.send_to_handle("bayko", "hi"),
    ("post", "/api/messages", "400"): lambda w: w.andrew.post(
        "/api/messages", {"message": 5, "handle": "bayko"}
    ),
    ("post", "/api/messages", "401"): lambda w: w.api.send_to_handle("bayko", "hi"),
    ("post", "/api/messages", "404"): lambda w: w.andrew.send_to_handle("nobody", "hi"),
    ("post", "/api/messages", "409"): lambda w: w.in_progress(
        "/api/messages", {"message": "hi", "handle": "bayko"}
    ),
    ("post", "/api/messages", "413"): lambda w: w.andrew.post("/api/messages", raw=TOO_LARGE),
    ("post", "/api/messages", "422"): lambda w: w.andrew.send_to_handle("bayko", "   "),
    ("post", "/api/messages", "429"): lambda w: second(
        partial(
            w.signed_in("andrewbrown", w.limited(rate_limit_sends_per_minute=1)).send_to_handle,
            "bayko",
            "hi",
        )
    ),
    ("post", "/api/messages", "503"): lambda w: w.table_missing.send_to_handle("bayko", "hi"),
    # --- group changes -----------------------------------------------------------------------
    ("patch", "/api/message_groups/{group_uuid}", "200"): lambda w: w.andrew.request(
        "PATCH", f"/api/message_groups/{w.named}", {"name": "renamed"}
    ),
    ("patch", "/api/message_groups/{group_uuid}", "400"): lambda w: w.andrew.request(
        "PATCH", f"/api/message_groups/{w.named}", {"name": 5}
    ),
    ("patch", "/api/message_groups/{group_uuid}", "401"): lambda w: w.api.request(
        "PATCH", f"/api/message_groups/{UNKNOWN_GROUP}", {"name": "renamed"}
    ),
    ("patch", "/api/message_groups/{group_uuid}", "404"): lambda w: w.andrew.request(
        "PATCH", f"/api/message_groups/{UNKNOWN_GROUP}", {"name": "renamed"}
    ),
    ("patch", "/api/message_groups/{group_uuid}", "413"): lambda w: w.andrew.request(
        "PATCH", f"/api/message_groups/{UNKNOWN_GROUP}", raw=TOO_LARGE
    ),
    ("patch", "/api/message_groups/{group_uuid}", "422"): lambda w: w.andrew.request(
        "PATCH", f"/api/message_groups/{w.direct}", {"name": "renamed"}
    ),
    ("patch", "/api/message_groups/{group_uuid}", "503"): lambda w: w.table_missing.request(
        "PATCH", f"/api/message_groups/{UNKNOWN_GROUP}", {"name": "renamed"}
    ),
    ("get", "/api/message_groups/{group_uuid}/members", "200"): lambda w: w.andrew.members(w.named),
    ("get", "/api/message_groups/{group_uuid}/members", "401"): lambda w: w.api.members(
        UNKNOWN_GROUP
    ),
    ("get", "/api/message_groups/{group_uuid}/members", "404"): lambda w: w.andrew.members(
        UNKNOWN_GROUP
    ),
    ("get", "/api/message_groups/{group_uuid}/members", "422"): lambda w: w.andrew.members(
        "not-a-uuid"
    ),
    ("get", "/api/message_groups/{group_uuid}/members", "503"): lambda w: w.table_missing.members(
        UNKNOWN_GROUP
    ),
    ("post", "/api/message_groups/{group_uuid}/members", "200"): lambda w: w.andrew.post(
        f"/api/message_groups/{w.named}/members", {"handles": ["bayko"]}
    ),
    ("post", "/api/message_groups/{group_uuid}/members", "400"): lambda w: w.andrew.post(
        f"/api/message_groups/{w.named}/members", {"handles": "bayko"}
    ),
    ("post", "/api/message_groups/{group_uuid}/members", "401"): lambda w: w.api.post(
        f"/api/message_groups/{UNKNOWN_GROUP}/members", {"handles": ["bayko"]}
    ),
    ("post", "/api/message_groups/{group_uuid}/members", "404"): lambda w: w.andrew.post(
        f"/api/message_groups/{UNKNOWN_GROUP}/members", {"handles": ["bayko"]}
    ),
    ("post", "/api/message_groups/{group_uuid}/members", "413"): lambda w: w.andrew.post(
        f"/api/message_groups/{UNKNOWN_GROUP}/members", raw=TOO_LARGE
    ),
    ("post", "/api/message_groups/{group_uuid}/members", "422"): lambda w: w.andrew.post(
        f"/api/message_groups/{w.direct}/members", {"handles": ["londo"]}
    ),
    ("post", "/api/message_groups/{group_uuid}/members", "503"): lambda w: w.table_missing.post(
        f"/api/message_groups/{UNKNOWN_GROUP}/members", {"handles": ["bayko"]}
    ),
    ("delete", "/api/message_groups/{group_uuid}/members/@{handle}", "200"): lambda w: (
        w.andrew.request("DELETE", f"/api/message_groups/{w.named}/members/@londo")
    ),
    ("delete", "/api/message_groups/{group_uuid}/members/@{handle}", "401"): lambda w: (
        w.api.request("DELETE", f"/api/message_groups/{UNKNOWN_GROUP}/members/@londo")
    ),
    ("delete", "/api/message_groups/{group_uuid}/members/@{handle}", "403"): lambda w: (
        w.bayko.request("DELETE", f"/api/message_groups/{w.named}/members/@londo")
    ),
    ("delete", "/api/message_groups/{group_uuid}/members/@{handle}", "404"): lambda w: (
        w.andrew.request("DELETE", f"/api/message_groups/{UNKNOWN_GROUP}/members/@londo")
    ),
    ("delete", "/api/message_groups/{group_uuid}/members/@{handle}", "422"): lambda w: (
        w.andrew.request("DELETE", f"/api/message_groups/{w.direct}/members/@bayko")
    ),
    ("delete", "/api/message_groups/{group_uuid}/members/@{handle}", "503"): lambda w: (
        w.table_missing.request("DELETE", f"/api/message_groups/{UNKNOWN_GROUP}/members/@londo")
    ),
    # --- users -------------------------------------------------------------------------------
    ("get", "/api/users/@{handle}/short", "200"): lambda w: w.api.user_short("bayko"),
    ("get", "/api/users/@{handle}/short", "401"): lambda w: w.api.with_token(
        "not.a.token"
    ).user_short("bayko"),
    ("get", "/api/users/@{handle}/short", "404"): lambda w: w.api.user_short("nobody"),
    ("get", "/api/users/@{handle}/short", "503"): lambda w: w.users_refused.user_short("bayko"),
    ("get", "/api/users/search", "200"): lambda w: w.andrew.get("/api/users/search", q="ba"),
    ("get", "/api/users/search", "401"): lambda w: w.api.get("/api/users/search", q="ba"),
    ("get", "/api/users/search", "503"): lambda w: w.users_refused.get("/api/users/search", q="ba"),
    # --- live events -------------------------------------------------------------------------
    ("get", "/api/events", "200"): lambda w: w.events(live=True, token=w.andrew.token),
    ("get", "/api/events", "401"): lambda w: w.events(live=True, token=None),
    ("get", "/api/events", "404"): lambda w: w.events(
        live=True, token=w.andrew.token, query=f"?group={UNKNOWN_GROUP}"
    ),
    ("get", "/api/events", "422"): lambda w: w.events(
        live=True, token=w.andrew.token, query="?group=not-a-uuid"
    ),
    ("get", "/api/events", "503"): lambda w: w.events(live=False, token=w.andrew.token),
    # --- system ------------------------------------------------------------------------------
    ("get", "/api/health-check", "200"): lambda w: w.api.get("/api/health-check"),
    ("get", "/api/health-check", "503"): lambda w: w.table_missing.get("/api/health-check"),
    ("post", "/api/auth/token", "200"): lambda w: w.api.sign_in("bayko"),
    ("post", "/api/auth/token", "400"): lambda w: w.api.post(
        "/api/auth/token", {"handle": 5, "password": "x"}
    ),
    ("post", "/api/auth/token", "401"): lambda w: w.api.sign_in("bayko", "no"),
    ("post", "/api/auth/token", "404"): lambda w: w.cognito.sign_in("bayko"),
    ("post", "/api/auth/token", "413"): lambda w: w.api.post("/api/auth/token", raw=TOO_LARGE),
    ("post", "/api/auth/token", "429"): lambda w: second(
        partial(w.limited(rate_limit_signin_per_minute=1).sign_in, "bayko", "no")
    ),
    ("post", "/api/auth/token", "503"): lambda w: w.users_refused.sign_in("bayko"),
    ("get", "/.well-known/jwks.json", "200"): lambda w: w.api.get("/.well-known/jwks.json"),
    ("get", "/.well-known/jwks.json", "404"): lambda w: w.cognito.get("/.well-known/jwks.json"),
    ("get", "/api/openapi.json", "200"): lambda w: w.api.get("/api/openapi.json"),
}


def documented_statuses() -> set[tuple[str, str, str]]:
    document = openapi_document()
    return {
        (method, path, status)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in HTTP_METHODS
        for status in operation["responses"]
    }


def test_every_documented_status_has_a_case() -> None:
    documented = documented_statuses()
    # the server's own answers (no Flask test client reaches them): tests/e2e/api/test_server_limits.py
    by_the_server = {(m, p, s) for m, p, s in documented if s in SERVER_LIMITS}
    assert sorted(documented - by_the_server - CASES.keys()) == [], "documented, no case reaches it"
    assert sorted(CASES.keys() - documented) == [], "a case for a status the document lacks"


@pytest.fixture
def world(request: pytest.FixtureRequest) -> Iterator[World]:
    with ExitStack() as stack:
        yield World(request, stack)


@pytest.mark.parametrize(("method", "path", "status"), sorted(CASES))
def test_the_documented_status_is_reached(world: World, method, path, status) -> None:
    response = CASES[(method, path, status)](world)

    assert response.status == int(status), response
    documented = openapi_document()["paths"][path][method]["responses"][status]
    content_types = set(documented.get("content", {}))
    answered = (response.header("Content-Type") or "").split(";")[0].strip()
    assert answered in content_types, (answered, content_types)
    if status == "429":  # the limit's headers say when to come back
        assert all(response.header(name) for name in documented["headers"]), response
    if response.status >= 400:
        assert isinstance(response.body, dict), response
        errors = response.body.get("errors")
        assert isinstance(errors, list) and errors, response
        assert all(isinstance(code, str) and code for code in errors), response
