"""Unauthenticated endpoints: health, the local identity provider, the API's own description."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify

from cruddur.api.context import api, json_object, typed_fields
from cruddur.api.errors import error_response
from cruddur.api.limits import enforce_sign_in, hardening
from cruddur.api.logs import api_logger
from cruddur.api.openapi import openapi_document
from cruddur.auth.errors import InvalidCredentials

bp = Blueprint("system", __name__)


def _check(name: str, probe) -> str:
    try:
        probe()
    except Exception as exc:  # noqa: BLE001 - any failure of a dependency is "unavailable"
        api_logger().warning("health check failed", extra={"dependency": name, "error": str(exc)})
        return "unavailable"
    return "ok"


def _probe_dynamodb() -> None:
    api().messages.describe()


def _probe_postgresql() -> None:
    users: Any = api().users
    users.ping()


def _cache_report() -> dict[str, Any]:
    """The cache's state and this process's counters (each gunicorn worker counts its own). A
    cache that does not answer degrades nothing but speed, so it never fails the check."""
    cache = api().cache
    if cache is None:
        return {"backend": "none"}
    return {
        "backend": cache.name,
        "status": "ok" if cache.available() else "unavailable",
        "counters": cache.stats.snapshot(),
    }


def _rate_limit_report() -> dict[str, Any]:
    """The rate limiter's back end and this process's counters: `fail_open` counts the requests
    let through unchecked while Redis was unreachable, `outages` how many outages began."""
    limiter = hardening().limiter
    return {"backend": limiter.name, "counters": limiter.stats.snapshot()}


@bp.get("/api/health-check")
def health_check():
    """200 when DynamoDB (the messages table) and PostgreSQL both answer, else 503; the cache's
    state and counters beside them."""
    checks = {"dynamodb": _check("dynamodb", _probe_dynamodb)}
    checks["postgresql"] = _check("postgresql", _probe_postgresql)
    cache = _cache_report()
    limits = _rate_limit_report()
    failed = [f"{name}_unavailable" for name, state in checks.items() if state != "ok"]
    if failed:
        return error_response(
            503, *failed, status="unavailable", checks=checks, cache=cache, rate_limits=limits
        )
    return jsonify({"status": "ok", "checks": checks, "cache": cache, "rate_limits": limits})


@bp.post("/api/auth/token")
def issue_token():
    """The local identity provider's sign-in: `{handle, password}` -> an access token. Absent
    when Cognito is configured (the client signs in with Cognito then)."""
    provider = api().identity.local
    if provider is None:
        return error_response(404, "not_found")
    fields = typed_fields(json_object(), handle=str, password=str)
    enforce_sign_in(fields["handle"] or "")
    if not fields["handle"] or not fields["password"]:
        raise InvalidCredentials()
    issued = provider.sign_in(fields["handle"], fields["password"])
    return jsonify(
        {
            "access_token": issued.access_token,
            "token_type": issued.token_type,
            "expires_in": issued.expires_in,
        }
    )


@bp.get("/.well-known/jwks.json")
def jwks():
    keys = api().identity.local_keys
    if keys is None:
        return error_response(404, "not_found")
    response = jsonify(keys.document())
    response.headers["Cache-Control"] = "public, max-age=300"
    return response


@bp.get("/api/openapi.json")
def openapi():
    return jsonify(openapi_document())
