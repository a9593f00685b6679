"""The one place that turns failures into HTTP answers: a status code and `{"errors": [codes]}`.

Anything a client can send ends in a 4xx; a 500 means a bug here, and is logged with its traceback.
"""

from __future__ import annotations

from flask import Flask, Response, jsonify
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from cruddur.api.logs import api_logger
from cruddur.auth.errors import InvalidCredentials, KeySetUnavailable, Unauthenticated
from cruddur.hardening.idempotency import IdempotencyUnavailable
from cruddur.hardening.rate_limits import RateLimited
from cruddur.messaging import errors as messaging
from cruddur.messaging.keys import InvalidKey
from cruddur.users import errors as users

# Codes of the errors a plain HTTP failure (routing, body size, parsing) stands for.
_HTTP_CODES = {
    400: "request_malformed",
    404: "not_found",
    405: "method_not_allowed",
    413: "request_too_large",
    415: "unsupported_media_type",
}


class BadRequest(Exception):
    """The body is not JSON, not an object, or a field has the wrong type (400)."""

    def __init__(self, *codes: str) -> None:
        super().__init__(", ".join(codes))
        self.codes = list(codes)


def error_response(http_status: int, *codes: str, **extra: object) -> Response:
    """`{"errors": [codes]}` (plus `extra` members) with `status`."""
    response = jsonify({"errors": list(codes), **extra})
    response.status_code = http_status
    return response


def _answer(exc: Exception) -> Response:
    if isinstance(exc, BadRequest):
        return error_response(400, *exc.codes)
    if isinstance(exc, messaging.InvalidInput):
        return error_response(422, *exc.codes)
    if isinstance(exc, InvalidKey):
        return error_response(422, "input_invalid")
    if isinstance(exc, users.InvalidUserInput):
        return error_response(422, exc.code)
    if isinstance(exc, messaging.GroupNotFound):
        return error_response(404, "message_group_not_found")
    if isinstance(exc, messaging.UserNotFound) and exc.handles:
        return error_response(404, "user_not_found", handles=exc.handles)
    if isinstance(exc, messaging.UserNotFound | users.UserNotFound):
        return error_response(404, "user_not_found")
    if isinstance(exc, messaging.MemberNotFound):
        return error_response(404, "member_not_found")
    if isinstance(exc, messaging.NotGroupOwner):
        return error_response(403, "group_owner_only")
    if isinstance(exc, Unauthenticated):
        response = error_response(401, exc.code)
        response.headers["WWW-Authenticate"] = 'Bearer error="invalid_token"'
        return response
    if isinstance(exc, InvalidCredentials):
        response = error_response(401, "invalid_credentials")
        response.headers["WWW-Authenticate"] = 'Bearer error="invalid_grant"'
        return response
    if isinstance(exc, RateLimited):
        response = error_response(429, "rate_limited")
        decision = exc.decision
        response.headers["Retry-After"] = str(decision.reset)
        response.headers["RateLimit-Limit"] = str(decision.limit)
        response.headers["RateLimit-Remaining"] = str(decision.remaining)
        response.headers["RateLimit-Reset"] = str(decision.reset)
        return response
    if isinstance(exc, IdempotencyUnavailable):
        response = error_response(503, "idempotency_unavailable")
        response.headers["Retry-After"] = "1"
        return response
    if isinstance(exc, messaging.ContentionExhausted):
        response = error_response(503, "try_again")
        response.headers["Retry-After"] = "1"
        return response
    if isinstance(
        exc,
        messaging.StoreUnavailable
        | messaging.StoreRefused
        | messaging.TableMissing
        | users.UsersUnavailable
        | users.UsersRefused
        | users.UsersNotConfigured
        | KeySetUnavailable,
    ):
        api_logger().warning("dependency unavailable: %s", exc, extra={"error": type(exc).__name__})
        response = error_response(503, "service_unavailable")
        # an engine that is down fails fast: without a pause, clients would retry in a tight loop
        response.headers["Retry-After"] = "1"
        return response
    if isinstance(exc, HTTPException):
        status = exc.code or 500
        response = error_response(status, _HTTP_CODES.get(status, f"http_{status}"))
        if isinstance(exc, MethodNotAllowed) and exc.valid_methods:
            response.headers["Allow"] = ", ".join(sorted(exc.valid_methods))
        return response
    api_logger().error("unhandled error", exc_info=exc)
    return error_response(500, "internal_error")


def register_error_handler(app: Flask) -> None:
    app.register_error_handler(Exception, _answer)
