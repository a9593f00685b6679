"""`Idempotency-Key` on sends (POST /api/messages, POST /api/message_groups, the web UI's
POST /web/messages): the same key from the same user within 24 hours runs the request once and
answers the same status and body every time, on any worker or host.

- a key that is not 1-255 printable ASCII characters: 400 `idempotency_key_invalid`;
- the same key with another request (method, path or body): 422 `idempotency_key_reused`;
- the same request while the first is still running: it waits (polling the store, at most
  WAIT_SECONDS) and answers the first one's answer; still running then: 409 `request_in_progress`
  with `Retry-After: 1`;
- the key store unreachable: 503 `idempotency_unavailable` (never run a keyed send without knowing
  whether it ran before); a send without a key does not touch the store.

What is kept: answers below 500 except 409 and 429 (a rate-limited or conflicting request did
nothing; its retry must run). An answer of 500 or more also did nothing that a retry could double
(the engines' failures are answered before anything is stored), so its claim is released."""

from __future__ import annotations

import functools
import hashlib
import time
import urllib.parse
import uuid
from collections.abc import Callable
from typing import Any

from flask import Response, current_app, g, make_response, request
from werkzeug.exceptions import Conflict

from cruddur.api.errors import error_response
from cruddur.api.limits import hardening
from cruddur.api.logs import api_logger
from cruddur.hardening.idempotency import (
    ClaimOutcome,
    IdempotencyUnavailable,
    StoredAnswer,
    fingerprint,
    valid_key,
)

HEADER = "Idempotency-Key"
FORM_FIELD = "idempotency_key"
REPLAYED_HEADER = "Idempotent-Replayed"
WAIT_SECONDS = 10.0
POLL_SECONDS = 0.05
_NOT_KEPT = {409, 429}


def _kept(status: int) -> bool:
    return status < 500 and status not in _NOT_KEPT


def _replay(answer: StoredAnswer) -> Response:
    response = current_app.response_class(
        answer.body, status=answer.status, content_type=answer.content_type
    )
    if answer.location is not None:
        response.headers["Location"] = answer.location
    response.headers[REPLAYED_HEADER] = "true"
    return response


def _run(view: Callable[..., Any], args: Any, kwargs: Any) -> Response:
    try:
        return make_response(view(*args, **kwargs))
    except Exception as exc:  # noqa: BLE001 - answered as the app's error handler would
        return make_response(current_app.handle_user_exception(exc))


def idempotent(view: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap a send view (inside authentication and CSRF checks: `g.user` is the caller); the key
    comes in the `Idempotency-Key` header."""

    @functools.wraps(view)
    def keyed(*args: Any, **kwargs: Any) -> Any:
        key = request.headers.get(HEADER)
        if key is None:
            return view(*args, **kwargs)
        if not valid_key(key):
            return error_response(400, "idempotency_key_invalid")
        body = request.get_data(cache=True)
        return _once(key, body, view, args, kwargs, _still_running_json)

    return keyed


def idempotent_form(view: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap a web form's view (no script): every rendered form carries a fresh key in the hidden
    field `idempotency_key` (`new_form_key`), so a double click, a reload that posts again or
    "back" and submit once more stores nothing twice and answers what the first submission did.

    A form's key stands for the form as it was filled in: the body is part of the key, so the same
    rendered form sent again with other text (the person edited it after going back) runs as a
    request of its own, never 422 `idempotency_key_reused`, which a page cannot explain."""

    @functools.wraps(view)
    def keyed(*args: Any, **kwargs: Any) -> Any:
        form_key = request.form.get(FORM_FIELD, "")
        if not form_key or not valid_key(form_key):
            return view(*args, **kwargs)  # a page rendered before forms had keys
        # the form as parsed (the CSRF check read the body already: it is no longer there)
        fields = urllib.parse.urlencode(sorted(request.form.items(multi=True))).encode()
        digest = hashlib.sha256(fields).hexdigest()[:32]
        key = f"form:{form_key[:200]}:{digest}"
        return _once(key, fields, view, args, kwargs, _still_running_page)

    return keyed


def new_form_key() -> str:
    """The key of one rendered form."""
    return uuid.uuid4().hex


def _still_running_json() -> Response:
    response = error_response(409, "request_in_progress")
    response.headers["Retry-After"] = "1"
    return response


def _still_running_page() -> Response:
    # the page's error handler renders it (web/pages.py)
    raise Conflict("This form was sent twice and the first one is still running.")


def _once(
    key: str,
    body: bytes,
    view: Callable[..., Any],
    args: Any,
    kwargs: Any,
    still_running: Callable[[], Response],
) -> Response:
    """Run the view once for this user and key; replay its kept answer to every repeat."""
    user = g.user.uuid
    fp = fingerprint(request.method, request.path, body)
    store = hardening().idempotency
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        claim = store.claim(user, key, fp)  # IdempotencyUnavailable: 503 (errors.py)
        if claim.outcome is ClaimOutcome.REPLAY:
            assert claim.answer is not None
            return _replay(claim.answer)
        if claim.outcome is ClaimOutcome.MISMATCH:
            return error_response(422, "idempotency_key_reused")
        if claim.outcome is ClaimOutcome.NEW:
            break
        if time.monotonic() >= deadline:
            return still_running()
        time.sleep(POLL_SECONDS)
    response = _run(view, args, kwargs)
    try:
        if _kept(response.status_code):
            answer = StoredAnswer(
                response.status_code,
                response.get_data(as_text=True),
                response.content_type or "application/json",
                response.headers.get("Location"),
            )
            store.complete(user, key, fp, claim.token, answer)
        else:
            store.release(user, key, claim.token)
    except IdempotencyUnavailable:
        # Done, but not recorded: a retry within the lease waits and gets 409; after it, the
        # retry runs again. Logged: the one way a keyed send can be stored twice.
        api_logger().error(
            "idempotency answer not recorded", extra={"status": response.status_code}
        )
    return response
