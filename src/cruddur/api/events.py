"""Live events as server-sent events: `GET /api/events?group=<uuid>` (text/event-stream).

The stream carries `conversation` events (a row of the caller's list, as GET /api/message_groups
shows it) and, with `group`, that group's `message` events (the message as GET /api/messages shows
it, plus `message_group_uuid`). Each event's `id` resumes both (`Last-Event-ID` header, or the
`last_event_id` parameter); a `reset` event says events were lost (trimmed, expired, or an id we
cannot read): reload the data. A comment every HEARTBEAT_SECONDS keeps proxies and the client
sure the stream is alive. Membership is checked again every time the stream wakes, so a removed
member stops receiving at once; the stream ends when the token expires (a `token_expired` event,
then the end: the client reconnects with a fresh token).

`event_stream_response` is the whole of it, for any authenticated route (the web UI's cookie route
calls it too).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator
from typing import Any

from flask import Blueprint, Response, current_app, g, request

from cruddur.api.context import api
from cruddur.api.errors import error_response
from cruddur.live.bus import Cursor, Event, EventBus, LiveUnavailable
from cruddur.live.lifecycle import STOPPING
from cruddur.messaging.errors import GroupNotFound
from cruddur.messaging.services import MessagingService, clean_group_uuid
from cruddur.users.models import User

log = logging.getLogger(__name__)

LIVE_EXTENSION = "cruddur.live"
HEARTBEAT_SECONDS = 15.0
# a waiting stream wakes this often, to end promptly when the process stops
WAKE_SECONDS = 5.0
# how long a client waits before reconnecting after the stream ends
RETRY_MS = 3000

bp = Blueprint("events", __name__)


def live_bus() -> EventBus | None:
    """The app's event bus; None when there is no shared one (no REDIS_URL)."""
    return current_app.extensions.get(LIVE_EXTENSION)


def publish_message(group_uuid: str, message: dict[str, Any]) -> None:
    """Tell the group's open streams of a stored message (nothing without a bus; never raises)."""
    bus = live_bus()
    if bus is None:
        return
    try:
        bus.publish_message(group_uuid, message)
    except Exception:  # noqa: BLE001 - the message is stored; live delivery must not fail it
        log.exception("message event of group %s not published", group_uuid)


@bp.get("/api/events")
def events():
    """The caller's live events; bearer token like every call (`exp` ends the stream)."""
    user, claims = api().identity.authenticator.authenticate_with_claims(
        request.headers.get("Authorization")
    )
    g.user = user
    last_event_id = request.headers.get("Last-Event-ID") or request.args.get("last_event_id")
    return event_stream_response(user, request.args.get("group"), last_event_id, claims.expires_at)


def _format(kind: str, data: dict[str, Any], event_id: str) -> str:
    # JSON escapes line breaks, so the data is one line whatever the message holds
    return f"id: {event_id}\nevent: {kind}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


def event_stream_response(
    user: User,
    group_uuid: str | None,
    last_event_id: str | None,
    expires_at: float,
    *,
    heartbeat_seconds: float = HEARTBEAT_SECONDS,
    clock: Callable[[], float] = time.time,
) -> Response:
    """The event stream of `user` (and of the open group `group_uuid`, members only: 404 like GET
    /api/messages otherwise), resumed after `last_event_id`, closed at `expires_at` (epoch
    seconds, the token's `exp`). 503 `live_unavailable` without a shared bus or when Redis does
    not answer. Raises what the error handler maps (InvalidInput 422, GroupNotFound 404)."""
    bus = live_bus()
    if bus is None:
        return error_response(503, "live_unavailable")
    if expires_at <= clock():
        # the verifier allows a little clock skew; a stream would only end at once
        response = error_response(401, "token_expired")
        response.headers["WWW-Authenticate"] = 'Bearer error="invalid_token"'
        return response
    messaging = api().messaging
    group = None
    since = ""
    if group_uuid:
        group = clean_group_uuid(group_uuid)
        if messaging.membership(group, user.uuid) is None:
            raise GroupNotFound(group)
        # a member added later gets no message from before their joining, resumed or not
        since = messaging.member_since(group, user.uuid)
    resumed = Cursor.parse(last_event_id)
    try:
        if resumed is None:
            # a new reader starts after what is there; an id we cannot read may have missed some
            cursor, missed = bus.current(user.uuid, group), bool(last_event_id)
        else:
            cursor, missed = resumed, bus.missed(user.uuid, group, resumed)
    except LiveUnavailable as exc:
        log.warning("event stream of %s refused: the bus is unavailable: %s", user.uuid, exc)
        return error_response(503, "live_unavailable")
    stream = _stream(
        bus,
        messaging,
        user.uuid,
        group,
        cursor,
        missed,
        expires_at,
        heartbeat_seconds,
        clock,
        since,
    )
    response = Response(stream, 200, mimetype="text/event-stream")
    response.headers["Cache-Control"] = "no-cache, no-store"
    response.headers["X-Accel-Buffering"] = "no"  # a proxy in front must not hold events back
    return response


def _stream(
    bus: EventBus,
    messaging: MessagingService,
    user_uuid: str,
    group: str | None,
    cursor: Cursor,
    missed: bool,
    expires_at: float,
    heartbeat_seconds: float,
    clock: Callable[[], float],
    since: str = "",
) -> Iterator[str]:
    # runs after the view returned: only what was captured above, no request context
    yield f"retry: {RETRY_MS}\n: connected\n\n"
    if missed:
        yield _format("reset", {}, cursor.event_id)
    heartbeat_due = clock() + heartbeat_seconds
    while not STOPPING.is_set():
        now = clock()
        remaining = expires_at - now
        if remaining <= 0:
            yield _format("token_expired", {}, cursor.event_id)
            return
        wait = max(0.001, min(WAKE_SECONDS, remaining, heartbeat_due - now))
        try:
            batch: list[Event] = bus.read(user_uuid, group, cursor, int(wait * 1000))
        except LiveUnavailable as exc:
            log.warning("event stream of %s ends: the bus is unavailable: %s", user_uuid, exc)
            return
        if not batch and clock() < min(heartbeat_due, expires_at):
            continue  # a quiet wake-up: nothing to send, nothing to check yet
        if group is not None:
            try:
                still_member = messaging.membership(group, user_uuid) is not None
            except Exception as exc:  # noqa: BLE001 - cannot tell: end, the client reconnects
                log.warning("event stream of %s ends: membership unknown: %s", user_uuid, exc)
                return
            if not still_member:
                yield _format("not_member", {"message_group_uuid": group}, cursor.event_id)
                return
        if clock() >= expires_at:
            continue  # the token expired while waiting: say so before anything else
        if not batch:
            heartbeat_due = clock() + heartbeat_seconds
            yield ": heartbeat\n\n"
            continue
        for event in batch:
            cursor = event.cursor
            if since and event.type == "message" and str(event.data.get("created_at")) < since:
                continue  # sent before the reader joined the group
            yield _format(event.type, event.data, event.id)
