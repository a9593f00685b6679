"""The page script's same-origin routes (/web/...): the session cookie authenticates, state changes
carry the `X-CSRF-Token` header. Answers are the API's JSON shapes; errors are the API's
`{"errors": [codes]}` (the app's one error handler)."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from cruddur.api.context import api, json_object, page_request, typed_fields
from cruddur.api.errors import error_response
from cruddur.api.events import event_stream_response, publish_message
from cruddur.api.idempotency import idempotent
from cruddur.api.limits import counting_new_conversation, direct_conversation_open, enforce_send
from cruddur.api.serializers import conversation_json, message_json
from cruddur.auth.errors import Unauthenticated
from cruddur.users.models import User
from cruddur.web.security import csrf_protected, current_session, finish, load_session
from cruddur.web.security import signed_in_user as _signed_in_user
from cruddur.web.sessions import SessionStoreUnavailable

bp = Blueprint("web_json", __name__)
bp.before_request(load_session)
bp.after_request(finish)

CURSOR_NAMES = ("before", "cursor")


@bp.before_request
def _require_session() -> None:
    if _signed_in_user() is None:
        raise Unauthenticated("session_missing")


@bp.errorhandler(SessionStoreUnavailable)
def _store_unavailable(exc: SessionStoreUnavailable) -> Response:
    response = error_response(503, "service_unavailable")
    response.headers["Retry-After"] = "1"
    return response


def me() -> User:
    user = _signed_in_user()
    assert user is not None
    return user


@bp.get("/web/conversations")
def conversations():
    """`{items, next_cursor}`: a page of my conversations (items as GET /api/message_groups)."""
    limit, cursor = page_request(CURSOR_NAMES)
    page = api().messaging.list_conversations(me(), limit=limit, cursor=cursor)
    return jsonify(
        {"items": [conversation_json(c) for c in page.items], "next_cursor": page.next_cursor}
    )


@bp.get("/web/messages/<group_uuid>")
def messages(group_uuid: str):
    """`{items, next_cursor}`: a page of the group's messages, oldest first; `?before=` older."""
    limit, cursor = page_request(CURSOR_NAMES)
    page = api().messaging.list_messages(me(), group_uuid, limit=limit, cursor=cursor)
    return jsonify(
        {"items": [message_json(m) for m in page.items], "next_cursor": page.next_cursor}
    )


@bp.post("/web/messages")
@csrf_protected
@idempotent
def send():
    """As POST /api/messages: `{message, message_group_uuid}` appends; `{message, handle}` opens
    the pair's conversation. Both answers name `message_group_uuid`."""
    fields = typed_fields(json_object(), message=str, handle=str, message_group_uuid=str)
    messaging = api().messaging
    enforce_send(me())
    if fields["message_group_uuid"] is not None:
        message = messaging.send_message(me(), fields["message_group_uuid"], fields["message"])
        publish_message(message.group_uuid, message_json(message))  # live: the group's streams
        return jsonify({"message_group_uuid": message.group_uuid, **message_json(message)})
    with counting_new_conversation(
        me(), direct_conversation_open(me(), fields["handle"])
    ) as counted:
        opened = messaging.open_conversation(me(), fields["handle"], fields["message"])
        counted.created = opened.created
    publish_message(opened.group_uuid, message_json(opened.message))
    return jsonify({"message_group_uuid": opened.group_uuid, **message_json(opened.message)})


@bp.get("/web/events")
def events():
    """The page's live events (text/event-stream): GET /api/events's stream, authenticated by the
    session; it ends when the session's token expires (a `token_expired` event)."""
    session = current_session()
    assert session is not None
    last_event_id = request.headers.get("Last-Event-ID") or request.args.get("last_event_id")
    return event_stream_response(
        me(), request.args.get("group") or None, last_event_id, session.expires_at
    )
