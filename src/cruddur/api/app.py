"""The Flask application factory. Nothing happens at import time; `create_app` builds the engines'
repositories from the settings unless a test hands in its own."""

from __future__ import annotations

import re
import time
import uuid
from typing import Any

from flask import Flask, Response, g, request

from cruddur.api import events as event_views
from cruddur.api import messages as message_views
from cruddur.api import system
from cruddur.api import users as user_views
from cruddur.api.context import EXTENSION, ApiContext
from cruddur.api.errors import register_error_handler
from cruddur.api.limits import EXTENSION as HARDENING_EXTENSION
from cruddur.api.limits import add_rate_limit_headers, hardening_for
from cruddur.api.logs import api_logger
from cruddur.auth.identity import identity_for
from cruddur.auth.jwks import KeySet
from cruddur.bootstrap import (
    cache_backend,
    cached_messages,
    cached_users,
    event_bus,
    idempotency_store,
    message_repository,
    messaging_service,
    rate_limiter,
    user_repository,
)
from cruddur.cache.backend import CacheBackend
from cruddur.config import Settings
from cruddur.hardening.idempotency import IdempotencyStore
from cruddur.hardening.rate_limits import RateLimiter
from cruddur.live.bus import EventBus
from cruddur.messaging.ports import MessageRepository
from cruddur.web import register_web

# A valid message (1024 code points, each escaped as a \uXXXX surrogate pair at worst: 12 KiB) always
# fits; anything larger is refused before it is parsed.
MAX_BODY_BYTES = 16 * 1024
REQUEST_ID_HEADER = "X-Request-Id"
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
CORS_METHODS = "GET, POST, PATCH, DELETE, OPTIONS"
CORS_HEADERS = "Authorization, Content-Type, X-Request-Id, Idempotency-Key"
CORS_EXPOSED = (
    "Link, X-Request-Id, Retry-After, RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset, "
    "Idempotent-Replayed"
)


def create_app(
    settings: Settings | None = None,
    *,
    messages: MessageRepository | None = None,
    users: Any = None,
    key_set: KeySet | None = None,
    cache: CacheBackend | None = None,
    events: EventBus | None = None,
    idempotency: IdempotencyStore | None = None,
    limiter: RateLimiter | None = None,
) -> Flask:
    """The API. `messages` and `users` replace the repositories built from `settings`; `key_set`
    replaces the JWKS source (tests serve their own instead of Cognito's); `cache` the one REDIS_URL
    names (both repositories are read through it); `events` the live event bus it names;
    `idempotency` and `limiter` the key store and the rate limiter it names."""
    settings = settings or Settings.from_env()
    messages = messages if messages is not None else message_repository(settings)
    users = users if users is not None else user_repository(settings)
    cache = cache if cache is not None else cache_backend(settings)
    if cache is not None:
        messages, users = cached_messages(messages, cache), cached_users(users, cache)
    identity = identity_for(settings, users, key_set)
    if identity.local_keys is not None and key_set is None and not identity.local_keys.exists():
        api_logger().warning(
            "the local signing key is missing: sign-in and every authenticated call answer 503",
            extra={"path": str(identity.local_keys.path), "fix": "start with `cruddur serve`"},
        )

    app = Flask(__name__)
    # `//` in a path is a 404 like any unknown path, never a redirect: Werkzeug's merged-slashes
    # redirect names the request's Host header, so `Host: evil.example` made us point clients
    # there. Set before any route is added (each rule copies it when it is bound).
    app.url_map.merge_slashes = False
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    app.json.sort_keys = False  # type: ignore[attr-defined]
    # live delivery: the bus REDIS_URL names (None: GET /api/events answers 503)
    events = events if events is not None else event_bus(settings)
    app.extensions[event_views.LIVE_EXTENSION] = events
    app.extensions[EXTENSION] = ApiContext(
        settings, messages, messaging_service(messages, users, bus=events), users, identity, cache
    )
    # idempotency keys and rate limits (api/idempotency.py, api/limits.py)
    app.extensions[HARDENING_EXTENSION] = hardening_for(
        settings,
        idempotency if idempotency is not None else idempotency_store(settings),
        limiter if limiter is not None else rate_limiter(settings),
    )
    app.before_request(_start_request)
    app.after_request(add_rate_limit_headers)
    app.after_request(_cors(settings.frontend_url.rstrip("/")))
    app.after_request(_finish_request)
    register_error_handler(app)
    for blueprint in (message_views.bp, user_views.bp, system.bp, event_views.bp):
        app.register_blueprint(blueprint)
    register_web(app, settings)  # the screens (src/cruddur/web/)
    return app


def _start_request() -> None:
    given = request.headers.get(REQUEST_ID_HEADER, "")
    g.request_id = given if _REQUEST_ID.match(given) else uuid.uuid4().hex
    g.started = time.perf_counter()


def _cors(origin_allowed: str):
    def add_cors_headers(response: Response) -> Response:
        origin = request.headers.get("Origin")
        response.vary.add("Origin")
        if origin and origin.rstrip("/") == origin_allowed:
            response.headers["Access-Control-Allow-Origin"] = origin
            response.headers["Access-Control-Expose-Headers"] = CORS_EXPOSED
            if request.method == "OPTIONS":
                response.headers["Access-Control-Allow-Methods"] = CORS_METHODS
                response.headers["Access-Control-Allow-Headers"] = CORS_HEADERS
                response.headers["Access-Control-Max-Age"] = "600"
        return response

    return add_cors_headers


def _finish_request(response: Response) -> Response:
    request_id = g.get("request_id") or uuid.uuid4().hex
    response.headers[REQUEST_ID_HEADER] = request_id
    user = g.get("user")
    started = g.get("started")
    api_logger().info(
        "request",
        extra={
            "method": request.method,
            "path": request.path,
            "status": response.status_code,
            "duration_ms": round((time.perf_counter() - started) * 1000, 1) if started else None,
            "user_uuid": user.uuid if user is not None else None,
        },
    )
    return response
