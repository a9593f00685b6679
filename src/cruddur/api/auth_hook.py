"""The authentication hook of the protected blueprints: identity comes from the verified bearer
token and nowhere else."""

from __future__ import annotations

from flask import Blueprint, g, request

from cruddur.api.context import api


def authenticate() -> None:
    # A CORS preflight carries no credentials by design; it reaches no view.
    if request.method == "OPTIONS":
        return
    g.user = api().identity.authenticator.authenticate(request.headers.get("Authorization"))


def protected(blueprint: Blueprint) -> Blueprint:
    blueprint.before_request(authenticate)
    return blueprint


def authenticate_if_presented() -> None:
    """For public reads: no Authorization header is fine, but one that is sent must verify."""
    if request.method == "OPTIONS" or "Authorization" not in request.headers:
        g.user = None
        return
    authenticate()


def public(blueprint: Blueprint) -> Blueprint:
    blueprint.before_request(authenticate_if_presented)
    return blueprint
