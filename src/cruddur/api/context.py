"""What every view needs, built once by create_app: the settings, the engines' repositories, the
identity provider; and the helpers that read a request's body and paging parameters."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from flask import current_app, g, request
from werkzeug.exceptions import RequestEntityTooLarge

from cruddur.api.errors import BadRequest
from cruddur.auth.identity import Identity
from cruddur.cache.backend import CacheBackend
from cruddur.config import Settings
from cruddur.messaging.errors import InvalidInput
from cruddur.messaging.models import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE
from cruddur.messaging.ports import MessageRepository
from cruddur.messaging.services import MessagingService
from cruddur.users.models import User

EXTENSION = "cruddur"


@dataclass(frozen=True)
class ApiContext:
    settings: Settings
    messages: MessageRepository
    messaging: MessagingService
    users: Any  # cruddur.users.repository.UserRepository, or a test double with its methods
    identity: Identity
    cache: CacheBackend | None = None


def api() -> ApiContext:
    return current_app.extensions[EXTENSION]


def current_user() -> User:
    """The caller, as the verified token says; set by the blueprint's authentication hook."""
    return g.user


def json_object() -> dict[str, Any]:
    """The request body as a JSON object, else BadRequest. Bodies over MAX_CONTENT_LENGTH never
    get here: reading them raises 413."""
    raw = request.get_data(cache=False)
    limit = current_app.config.get("MAX_CONTENT_LENGTH")
    # A chunked body (no Content-Length) is cut at the limit without an error: reaching the limit
    # means there was more.
    if request.content_length is None and limit is not None and len(raw) >= limit:
        raise RequestEntityTooLarge()
    if not raw.strip():
        raise BadRequest("body_missing")
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError):
        raise BadRequest("json_malformed") from None
    if not isinstance(body, dict):
        raise BadRequest("body_not_object")
    return body


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates, e.g. from "\ud800" in the JSON
        return False
    return True


def typed_fields(body: dict[str, Any], **types: type) -> dict[str, Any]:
    """The named fields of `body`, None when absent or null; BadRequest("<name>_type_invalid")
    for a value of another type. Type errors are 400; what the value says is the services' to
    judge (422)."""
    found: dict[str, Any] = {}
    wrong: list[str] = []
    for name, expected in types.items():
        value = body.get(name)
        ok = value is None or (isinstance(value, expected) and not isinstance(value, bool))
        if ok and isinstance(value, str):
            ok = _encodable(value)
        if ok and isinstance(value, list):
            ok = all(isinstance(v, str) and _encodable(v) for v in value)
        if not ok:
            wrong.append(f"{name}_type_invalid")
        found[name] = value
    if wrong:
        raise BadRequest(*wrong)
    return found


def page_request(cursor_names: tuple[str, ...]) -> tuple[int, str | None]:
    """`limit` (1..MAX_PAGE_SIZE) and the cursor, read from the first of `cursor_names` present."""
    raw_limit = request.args.get("limit")
    limit = DEFAULT_PAGE_SIZE
    if raw_limit is not None:
        if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= MAX_PAGE_SIZE:
            raise InvalidInput("limit_invalid")
        limit = int(raw_limit)
    cursor = next((request.args[n] for n in cursor_names if n in request.args), None)
    return limit, cursor or None


def next_link(cursor_name: str, next_cursor: str | None) -> dict[str, str]:
    """The RFC 8288 `Link` header of the next page (relative to this request), if there is one."""
    if not next_cursor:
        return {}
    params = {cursor_name: next_cursor}
    if "limit" in request.args:
        params["limit"] = request.args["limit"]
    return {"Link": f'<{request.path}?{urlencode(params)}>; rel="next"'}
