"""Users as the messaging client needs them."""

from __future__ import annotations

from flask import Blueprint, jsonify, request

from cruddur.api.auth_hook import public
from cruddur.api.context import api, current_user
from cruddur.auth.errors import Unauthenticated
from cruddur.messaging.errors import UserNotFound
from cruddur.users.models import User

# A handle's short profile is public, like a Cruddur profile page: the web client's new-message
# page asks for it without a token. A token that is sent must still verify.
bp = public(Blueprint("users", __name__))


@bp.get("/api/users/@<handle>/short")
def user_short(handle: str):
    """`{uuid, handle, display_name}` of @handle; 404 when there is none."""
    user = api().users.find_by_handle(handle)
    if user is None:
        raise UserNotFound(handle)
    return jsonify({"uuid": user.uuid, "handle": user.handle, "display_name": user.display_name})


# The search box of the new-conversation screen. Unlike a profile, signed-in users only: it lists
# who exists.
SEARCH_LIMIT = 10
MAX_QUERY_CHARS = 100


@bp.get("/api/users/search")
def search_users():
    """`[{uuid, handle, display_name}]`: at most 10 users whose handle or display name starts with
    `q` (case-insensitive), handle matches first; the caller is left out. 401 without a token."""
    if current_user() is None:
        raise Unauthenticated("token_missing")
    found = search_others(current_user(), request.args.get("q", ""))
    return jsonify(
        [{"uuid": u.uuid, "handle": u.handle, "display_name": u.display_name} for u in found]
    )


def search_others(me: User, query: str) -> list[User]:
    """At most SEARCH_LIMIT users other than `me` matching `query` (the web screen uses it too)."""
    text = query.strip()[:MAX_QUERY_CHARS]
    if not text:
        return []
    found = api().users.search(text, SEARCH_LIMIT + 1)
    return [u for u in found if u.uuid != me.uuid][:SEARCH_LIMIT]
