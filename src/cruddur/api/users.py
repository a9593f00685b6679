"""Users as the messaging client needs them."""

from __future__ import annotations

from flask import Blueprint, jsonify

from cruddur.api.auth_hook import public
from cruddur.api.context import api
from cruddur.messaging.errors import UserNotFound

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
