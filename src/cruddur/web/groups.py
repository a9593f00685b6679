"""The group screens: create a named group (name, members by handle), see its members, add someone,
leave, remove a member (the owner), rename. Plain forms (no script needed), on the pages'
blueprint; each calls the same use case as the HTTP API and comes back to a page."""

from __future__ import annotations

import re

from flask import Response, make_response, redirect, render_template, request, url_for

from cruddur.api.context import api
from cruddur.api.events import publish_message
from cruddur.api.idempotency import idempotent_form
from cruddur.api.limits import counting_new_conversation, enforce_send
from cruddur.api.serializers import member_json, message_json
from cruddur.messaging import errors as messaging_errors
from cruddur.messaging.models import MAX_GROUP_MEMBERS
from cruddur.web.pages import _conversation_list, bp, me, signed_in
from cruddur.web.security import csrf_protected

_PROBLEMS = {
    "group_name_blank": "Give the group a name.",
    "group_name_exceed_max_chars": "A group's name has at most 100 characters.",
    "group_name_invalid_characters": "A group's name is one line of text, without control characters.",
    "handles_invalid": "Write the members' handles.",
    "handles_blank": "Write at least one handle.",
    "group_members_too_few": "Add at least one other person.",
    "group_too_large": f"A group has at most {MAX_GROUP_MEMBERS} members.",
    "message_blank": "Write a message first.",
    "message_exceed_max_chars": "That first message is too long.",
    "message_invalid_characters": "That first message holds control characters; remove them.",
}


def handles_of(text: str) -> list[str]:
    """Handles written with commas, spaces or line breaks between them, `@` or not."""
    return [h for h in re.split(r"[\s,]+", text) if h.strip().lstrip("@")]


def _problem(exc: Exception) -> str:
    if isinstance(exc, messaging_errors.UserNotFound):
        return "No user with the handle " + ", ".join(f"@{h}" for h in exc.handles) + "."
    if isinstance(exc, messaging_errors.InvalidInput):
        return " ".join(_PROBLEMS.get(c, "That did not work.") for c in exc.codes)
    if isinstance(exc, messaging_errors.NotGroupOwner):
        return "Only the group's owner removes others."
    if isinstance(exc, messaging_errors.MemberNotFound):
        return "That person is not in the group."
    return "That did not work."


_FORM_ERRORS = (
    messaging_errors.InvalidInput,
    messaging_errors.UserNotFound,
    messaging_errors.NotGroupOwner,
    messaging_errors.MemberNotFound,
)


def _status(exc: Exception) -> int:
    if isinstance(exc, messaging_errors.NotGroupOwner):
        return 403
    if isinstance(exc, messaging_errors.UserNotFound | messaging_errors.MemberNotFound):
        return 404
    return 422


# --- a new group ----------------------------------------------------------------------------------


def _new_group_page(status: int = 200, form_error: str | None = None, **draft: str) -> Response:
    html = render_template(
        "web/group_new.html", form_error=form_error, draft=draft, **_conversation_list()
    )
    return make_response(html, status)


@bp.get("/messages/new-group")
@signed_in
def new_group():
    return _new_group_page()


@bp.post("/messages/new-group")
@signed_in
@csrf_protected
@idempotent_form
def new_group_create():
    name = request.form.get("name", "")
    handles = request.form.get("handles", "")
    text = request.form.get("message", "").strip() or None
    if text is not None:
        enforce_send(me())
    try:
        with counting_new_conversation(me()) as counted:
            created = api().messaging.create_group(me(), name, handles_of(handles), text)
            counted.created = True
    except _FORM_ERRORS as exc:
        return _new_group_page(
            _status(exc), _problem(exc), name=name, handles=handles, message=text or ""
        )
    if created.message is not None:
        publish_message(created.group.uuid, message_json(created.message))
    return redirect(url_for("web.conversation", group_uuid=created.group.uuid), 303)


# --- a group's members ------------------------------------------------------------------------------


def _members_page(group_uuid: str, status: int = 200, form_error: str | None = None) -> Response:
    messaging = api().messaging
    members = messaging.list_members(me(), group_uuid)
    group = messaging.messages.get_group(group_uuid)
    mine = next((m for m in members if m.user_uuid == me().uuid), None)
    html = render_template(
        "web/group.html",
        group_uuid=group_uuid,
        name=group.name if group is not None and group.name else "Conversation",
        is_group=group is not None and group.kind.value == "group",
        members=[member_json(m) for m in members],
        is_owner=mine is not None and mine.role == "owner",
        max_members=MAX_GROUP_MEMBERS,
        form_error=form_error,
        **_conversation_list(),
    )
    return make_response(html, status)


@bp.get("/messages/<group_uuid>/members")
@signed_in
def group_members(group_uuid: str):
    """Who is in the group (members only: "not found" otherwise), with the forms to change it."""
    return _members_page(group_uuid)


@bp.post("/messages/<group_uuid>/members")
@signed_in
@csrf_protected
@idempotent_form
def group_add(group_uuid: str):
    try:
        api().messaging.add_members(me(), group_uuid, handles_of(request.form.get("handles", "")))
    except _FORM_ERRORS as exc:
        return _members_page(group_uuid, _status(exc), _problem(exc))
    return redirect(url_for("web.group_members", group_uuid=group_uuid), 303)


@bp.post("/messages/<group_uuid>/name")
@signed_in
@csrf_protected
@idempotent_form
def group_rename(group_uuid: str):
    try:
        api().messaging.rename_group(me(), group_uuid, request.form.get("name", ""))
    except _FORM_ERRORS as exc:
        return _members_page(group_uuid, _status(exc), _problem(exc))
    return redirect(url_for("web.group_members", group_uuid=group_uuid), 303)


@bp.post("/messages/<group_uuid>/members/<handle>/remove")
@signed_in
@csrf_protected
@idempotent_form
def group_remove(group_uuid: str, handle: str):
    """Remove a member (the owner), or leave (your own handle: back to the list)."""
    try:
        api().messaging.remove_member(me(), group_uuid, handle)
    except _FORM_ERRORS as exc:
        return _members_page(group_uuid, _status(exc), _problem(exc))
    if handle.lstrip("@").lower() == me().handle.lower():
        return redirect(url_for("web.conversations"), 303)
    return redirect(url_for("web.group_members", group_uuid=group_uuid), 303)
