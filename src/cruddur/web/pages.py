"""The screens: server-rendered pages built from the same use cases the API calls. Every form also
works without the script (post, then redirect); the script (static/app.js) sends, loads older
pages and receives live events through the same-origin routes of json_views.py."""

from __future__ import annotations

import functools
import secrets
import urllib.parse
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from werkzeug.exceptions import Forbidden, HTTPException

from cruddur.api.context import api
from cruddur.api.events import publish_message
from cruddur.api.idempotency import idempotent_form, new_form_key
from cruddur.api.limits import (
    counting_new_conversation,
    direct_conversation_open,
    enforce_send,
    enforce_sign_in,
)
from cruddur.api.logs import api_logger
from cruddur.api.serializers import conversation_json, message_json
from cruddur.api.users import search_others
from cruddur.auth.errors import InvalidCredentials, KeySetUnavailable, Unauthenticated
from cruddur.hardening.rate_limits import RateLimited
from cruddur.messaging import errors as messaging_errors
from cruddur.messaging.models import DEFAULT_PAGE_SIZE, MAX_MESSAGE_CHARS
from cruddur.users import errors as users_errors
from cruddur.users.models import User
from cruddur.web import timefmt
from cruddur.web.hosted_ui import HostedUiError, HostedUiUnavailable, pkce_pair
from cruddur.web.security import (
    LOGIN_COOKIE,
    clear_cookie,
    csrf_protected,
    csrf_token,
    current_session,
    end_session,
    finish,
    load_session,
    require_csrf,
    set_cookie,
    signed_in_user,
    start_session,
    web,
)
from cruddur.web.sessions import LOGIN_ATTEMPT_TTL_SECONDS, SessionStoreUnavailable, new_secret

bp = Blueprint(
    "web",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/web/static",
)
bp.before_request(load_session)
bp.after_request(finish)


@bp.context_processor
def _template_globals() -> dict[str, Any]:
    now = datetime.now(UTC)
    return {
        "user": signed_in_user(),
        "csrf_token": csrf_token(),
        "max_chars": MAX_MESSAGE_CHARS,
        "idempotency_key": new_form_key,  # each form a fresh key (api/idempotency.py)
        "relative_time": lambda ts: timefmt.relative(ts, now),
        "exact_time": timefmt.exact,
    }


def signed_in(view: Callable[..., Any]) -> Callable[..., Any]:
    """Pages for signed-in users; anyone else goes to sign-in and comes back afterwards."""

    @functools.wraps(view)
    def checked(*args: Any, **kwargs: Any) -> Any:
        if signed_in_user() is None:
            here = request.full_path if request.query_string else request.path
            return redirect(url_for("web.sign_in", next=here))
        return view(*args, **kwargs)

    return checked


def me() -> User:
    user = signed_in_user()
    assert user is not None
    return user


def safe_next(target: str | None) -> str:
    """Where to go after sign-in: a path of this site only (never `//host` or a URL)."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return url_for("web.conversations")
    # browsers drop tabs and line breaks from URLs and read '\\' as '/': "/\t/x" is "//x"
    if "\\" in target or any(ord(c) < 0x21 or ord(c) == 0x7F for c in target):
        return url_for("web.conversations")
    if urllib.parse.urlsplit(target).netloc:
        return url_for("web.conversations")
    return target


# --- sign-in and sign-out -------------------------------------------------------------------------


@bp.get("/")
def index():
    target = "web.conversations" if signed_in_user() else "web.sign_in"
    return redirect(url_for(target))


def _sign_in_page(error: str | None = None, status: int = 200, handle: str = "") -> Response:
    page = render_template(
        "web/sign_in.html",
        error=error,
        handle=handle,
        next=safe_next(request.values.get("next")),
        local=api().identity.local is not None,
        hosted_ui=web().hosted_ui is not None,
    )
    return make_response(page, status)


@bp.get("/sign-in")
def sign_in():
    if signed_in_user() is not None:
        return redirect(safe_next(request.args.get("next")))
    return _sign_in_page()


@bp.post("/sign-in")
@csrf_protected
def sign_in_submit():
    """The local identity provider: handle and password -> an access token -> a session."""
    identity = api().identity
    if identity.local is None:
        abort(404)
    handle = request.form.get("handle", "").strip()
    password = request.form.get("password", "")
    try:
        enforce_sign_in(handle)
    except RateLimited as exc:
        response = _sign_in_page("Too many sign-in attempts. Try again in a minute.", 429, handle)
        response.headers["Retry-After"] = str(exc.decision.reset)
        return response
    if not handle or not password:
        return _sign_in_page("Enter your handle and your password.", 400, handle)
    try:
        issued = identity.local.sign_in(handle, password)
    except InvalidCredentials:
        return _sign_in_page("Wrong handle or password.", 401, handle)
    claims = identity.authenticator.verifier.verify(issued.access_token)
    response = redirect(safe_next(request.form.get("next")), 303)
    start_session(response, issued.access_token, claims.expires_at)
    return response


@bp.post("/sign-out")
def sign_out():
    """Ends the session on the server and in the browser (and Cognito's, with the Hosted UI)."""
    if current_session() is not None:
        require_csrf()
    target = url_for("web.sign_in")
    hosted = web().hosted_ui
    if hosted is not None:
        parts = urllib.parse.urlsplit(hosted.redirect_uri)
        target = hosted.logout_url(f"{parts.scheme}://{parts.netloc}{url_for('web.sign_in')}")
    response = redirect(target, 303)
    end_session(response)
    return response


@bp.get("/auth/cognito")
def hosted_ui_start():
    """To the Cognito Hosted UI, with a PKCE challenge and a `state` kept server-side."""
    hosted = web().hosted_ui
    if hosted is None:
        abort(404)
    attempt_id, state = new_secret(), new_secret()
    verifier, challenge = pkce_pair()
    next_path = safe_next(request.args.get("next"))
    web().sessions.put_login_attempt(
        attempt_id, {"state": state, "verifier": verifier, "next": next_path}
    )
    response = redirect(hosted.authorize_url(state, challenge))
    set_cookie(response, LOGIN_COOKIE, attempt_id, LOGIN_ATTEMPT_TTL_SECONDS)
    return response


@bp.get("/auth/callback")
def hosted_ui_callback():
    """Back from the Hosted UI: the attempt is taken once, `state` must match, the code is
    exchanged with the verifier, and the access token is verified like any other."""
    hosted = web().hosted_ui
    if hosted is None:
        abort(404)
    attempt = web().sessions.take_login_attempt(request.cookies.get(LOGIN_COOKIE, ""))
    state = request.args.get("state", "")
    code = request.args.get("code", "")
    expired = "That sign-in did not complete. Please sign in again."
    if attempt is None or not state or not _equal(state, attempt.get("state", "")):
        response = _sign_in_page(expired, 400)
    elif request.args.get("error") or not code:
        response = _sign_in_page("Sign-in was cancelled or refused.", 401)
    else:
        try:
            answer = hosted.exchange(code, attempt.get("verifier", ""))
            identity = api().identity
            identity.authenticator.authenticate(f"Bearer {answer.access_token}")
            claims = identity.authenticator.verifier.verify(answer.access_token)
        except HostedUiError:
            response = _sign_in_page(expired, 401)
        except Unauthenticated:
            response = _sign_in_page("This account has no Cruddur profile yet.", 401)
        else:
            response = redirect(safe_next(attempt.get("next")), 303)
            start_session(response, answer.access_token, claims.expires_at)
    clear_cookie(response, LOGIN_COOKIE)
    return response


def _equal(a: str, b: str) -> bool:
    return secrets.compare_digest(a.encode(), b.encode())


# --- conversations ------------------------------------------------------------------------------


def _conversation_list(cursor: str | None = None) -> dict[str, Any]:
    page = api().messaging.list_conversations(me(), limit=DEFAULT_PAGE_SIZE, cursor=cursor)
    return {
        "conversations": [conversation_json(c) for c in page.items],
        "next_cursor": page.next_cursor,
    }


@bp.get("/messages")
@signed_in
def conversations():
    """My conversations, most recent first (older ones on demand: `?cursor=`)."""
    return render_template("web/messages.html", **_conversation_list(request.args.get("cursor")))


def _conversation_page(
    group_uuid: str, status: int = 200, form_error: str | None = None, draft: str = ""
) -> Response:
    messaging = api().messaging
    page = messaging.list_messages(
        me(), group_uuid, limit=DEFAULT_PAGE_SIZE, cursor=request.args.get("before")
    )
    listing = _conversation_list()
    title, handle = _title(group_uuid, listing["conversations"])
    html = render_template(
        "web/conversation.html",
        group_uuid=group_uuid,
        title=title,
        handle=handle,
        messages=[message_json(m) for m in page.items],
        next_before=page.next_cursor,
        form_error=form_error,
        draft=draft,
        **listing,
    )
    return make_response(html, status)


def _title(group_uuid: str, listed: list[dict[str, Any]]) -> tuple[str, str | None]:
    """The conversation's name: the other party (direct) or the group's name."""
    row = next((c for c in listed if c["uuid"] == group_uuid), None)
    if row is not None:
        return row["display_name"], (row["handle"] if row["kind"] == "direct" else None)
    others = [m for m in api().messaging.list_members(me(), group_uuid) if m.user_uuid != me().uuid]
    if len(others) == 1:
        return others[0].display_name, others[0].handle
    return ", ".join(m.display_name for m in others) or "Conversation", None


@bp.get("/messages/<group_uuid>")
@signed_in
def conversation(group_uuid: str):
    """The list beside the conversation, oldest message at the top; `?before=` for older ones.
    Not a member: "not found", as for a group that does not exist."""
    return _conversation_page(group_uuid)


@bp.post("/messages/<group_uuid>")
@signed_in
@csrf_protected
@idempotent_form
def conversation_send(group_uuid: str):
    """The send form without the script: store, then back to the conversation."""
    text = request.form.get("message", "")
    enforce_send(me())
    try:
        message = api().messaging.send_message(me(), group_uuid, text)
    except messaging_errors.InvalidInput as exc:
        if "message_group_uuid_invalid" in exc.codes:
            raise messaging_errors.GroupNotFound(group_uuid) from exc
        return _conversation_page(group_uuid, 422, _message_problem(exc.codes), text)
    publish_message(message.group_uuid, message_json(message))
    return redirect(url_for("web.conversation", group_uuid=group_uuid), 303)


def _message_problem(codes: list[str]) -> str:
    if "message_exceed_max_chars" in codes:
        return f"A message has at most {MAX_MESSAGE_CHARS} characters."
    if "message_blank" in codes:
        return "Write a message first."
    if "message_invalid_characters" in codes:
        return "That message holds control characters; remove them."
    if "cannot_message_self" in codes:
        return "You cannot message yourself."
    return "That message could not be sent."


# --- new conversations --------------------------------------------------------------------------


@bp.get("/messages/new")
@signed_in
def new_message_search():
    """Find people by handle or display-name prefix."""
    query = request.args.get("q", "")
    found = search_others(me(), query)
    return render_template(
        "web/search.html",
        query=query,
        found=found,
        searched=bool(query.strip()),
        **_conversation_list(),
    )


def _new_page(handle: str, status: int = 200, form_error: str | None = None, draft: str = ""):
    other = api().users.find_by_handle(handle)
    if other is None:
        raise messaging_errors.UserNotFound(handle)
    existing = None
    if other.uuid != me().uuid and not form_error:
        existing = api().messaging.find_direct_group(me().uuid, other.uuid)
    if existing is not None:
        return redirect(url_for("web.conversation", group_uuid=existing))
    html = render_template(
        "web/new.html",
        other=other,
        is_me=other.uuid == me().uuid,
        form_error=form_error,
        draft=draft,
        **_conversation_list(),
    )
    return make_response(html, status)


@bp.get("/messages/new/<handle>")
@signed_in
def new_conversation(handle: str):
    """Starts (or reopens) the direct conversation with @handle."""
    return _new_page(handle)


@bp.post("/messages/new/<handle>")
@signed_in
@csrf_protected
@idempotent_form
def new_conversation_send(handle: str):
    text = request.form.get("message", "")
    enforce_send(me())
    try:
        with counting_new_conversation(me(), direct_conversation_open(me(), handle)) as counted:
            opened = api().messaging.open_conversation(me(), handle, text)
            counted.created = opened.created
    except messaging_errors.InvalidInput as exc:
        return _new_page(handle, 422, _message_problem(exc.codes), text)
    publish_message(opened.group_uuid, message_json(opened.message))
    return redirect(url_for("web.conversation", group_uuid=opened.group_uuid), 303)


# --- errors -------------------------------------------------------------------------------------

_UNAVAILABLE = (
    messaging_errors.StoreUnavailable,
    messaging_errors.StoreRefused,
    messaging_errors.TableMissing,
    messaging_errors.ContentionExhausted,
    users_errors.UsersUnavailable,
    users_errors.UsersRefused,
    users_errors.UsersNotConfigured,
    KeySetUnavailable,
    SessionStoreUnavailable,
    HostedUiUnavailable,
)


def error_page(status: int, title: str, detail: str, retry: bool = False) -> Response:
    html = render_template("web/error.html", title=title, detail=detail, retry=retry)
    response = make_response(html, status)
    if retry:
        response.headers["Retry-After"] = "1"
    return response


@bp.errorhandler(Exception)
def _error(exc: Exception):
    if isinstance(exc, messaging_errors.GroupNotFound):
        return error_page(
            404, "Not found", "This conversation does not exist, or you are not in it."
        )
    if isinstance(exc, messaging_errors.InvalidInput) and (
        "message_group_uuid_invalid" in exc.codes
    ):
        return error_page(
            404, "Not found", "This conversation does not exist, or you are not in it."
        )
    if isinstance(exc, messaging_errors.UserNotFound | users_errors.UserNotFound):
        return error_page(404, "Not found", "There is no user with this handle.")
    if isinstance(exc, messaging_errors.InvalidInput):
        return error_page(400, "Not understood", "The request was not understood.")
    if isinstance(exc, RateLimited):
        response = error_page(
            429, "Slow down", "You are sending too fast. Wait a moment and try again."
        )
        response.headers["Retry-After"] = str(exc.decision.reset)
        return response
    if isinstance(exc, Forbidden):
        return error_page(
            403, "Please try again", "This form has expired. Reload the page and try again."
        )
    if isinstance(exc, _UNAVAILABLE):
        api_logger().warning(
            "web: dependency unavailable: %s", exc, extra={"error": type(exc).__name__}
        )
        return error_page(
            503, "Service unavailable", "Cruddur cannot answer right now.", retry=True
        )
    if isinstance(exc, HTTPException):
        status = exc.code or 500
        if status == 404:
            return error_page(404, "Not found", "There is no page at this address.")
        return error_page(status, exc.name, "The request could not be handled.")
    api_logger().error("unhandled error", exc_info=exc)
    return error_page(500, "Something went wrong", "Please try again later.", retry=True)
