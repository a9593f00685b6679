"""Conversations and messages: the views call the messaging use cases and format their answers."""

from __future__ import annotations

from flask import Blueprint, jsonify

from cruddur.api.auth_hook import protected
from cruddur.api.context import (
    api,
    current_user,
    json_object,
    next_link,
    page_request,
    typed_fields,
)
from cruddur.api.events import publish_message
from cruddur.api.idempotency import idempotent
from cruddur.api.limits import counting_new_conversation, direct_conversation_open, enforce_send
from cruddur.api.serializers import conversation_json, group_json, member_json, message_json

bp = protected(Blueprint("messages", __name__))

# `before` reads naturally for older messages; `cursor` is accepted everywhere as its synonym.
CURSOR_NAMES = ("before", "cursor")


@bp.get("/api/message_groups")
def list_message_groups():
    """The caller's conversations, most recent first."""
    limit, cursor = page_request(CURSOR_NAMES)
    page = api().messaging.list_conversations(current_user(), limit=limit, cursor=cursor)
    return (
        jsonify([conversation_json(c) for c in page.items]),
        200,
        next_link("cursor", page.next_cursor),
    )


@bp.get("/api/messages/<group_uuid>")
def list_messages(group_uuid: str):
    """The newest page of the group's messages, oldest first; `Link: rel="next"` leads to older."""
    limit, cursor = page_request(CURSOR_NAMES)
    page = api().messaging.list_messages(current_user(), group_uuid, limit=limit, cursor=cursor)
    return (
        jsonify([message_json(m) for m in page.items]),
        200,
        next_link("before", page.next_cursor),
    )


@bp.post("/api/messages")
@idempotent
def create_message():
    """With `message_group_uuid`: append to that group and answer the message alone (the client
    appends it). Otherwise with `handle`: the pair's 1:1 group (created on first contact), and the
    answer names `message_group_uuid` (the client redirects to it). As in the seed, a group uuid
    wins when both are sent."""
    fields = typed_fields(json_object(), message=str, handle=str, message_group_uuid=str)
    messaging = api().messaging
    enforce_send(current_user())
    if fields["message_group_uuid"] is not None:
        message = messaging.send_message(
            current_user(), fields["message_group_uuid"], fields["message"]
        )
        publish_message(message.group_uuid, message_json(message))  # live: the group's streams
        return jsonify(message_json(message))
    with counting_new_conversation(
        current_user(), direct_conversation_open(current_user(), fields["handle"])
    ) as counted:
        opened = messaging.open_conversation(current_user(), fields["handle"], fields["message"])
        counted.created = opened.created
    publish_message(opened.group_uuid, message_json(opened.message))
    return jsonify({"message_group_uuid": opened.group_uuid, **message_json(opened.message)})


@bp.post("/api/message_groups")
@idempotent
def create_message_group():
    """A named group of the caller and `handles`, with an optional first message."""
    fields = typed_fields(json_object(), name=str, handles=list, message=str)
    if fields["message"] is not None:
        enforce_send(current_user())
    with counting_new_conversation(current_user()) as counted:
        created = api().messaging.create_group(
            current_user(), fields["name"], fields["handles"], fields["message"]
        )
        counted.created = True
    body = group_json(created.group)
    if created.message is not None:
        body["message"] = message_json(created.message)
        publish_message(created.group.uuid, body["message"])
    return jsonify(body)


@bp.get("/api/message_groups/<group_uuid>/members")
def list_members(group_uuid: str):
    members = api().messaging.list_members(current_user(), group_uuid)
    return jsonify([member_json(m) for m in members])


@bp.post("/api/message_groups/<group_uuid>/members")
def add_members(group_uuid: str):
    """Any member adds people by handle, all or nothing: the group as it now is, plus `added`
    (the members written; people already in the group are skipped)."""
    fields = typed_fields(json_object(), handles=list)
    added = api().messaging.add_members(current_user(), group_uuid, fields["handles"])
    return jsonify({**group_json(added.group), "added": [member_json(m) for m in added.members]})


@bp.delete("/api/message_groups/<group_uuid>/members/@<handle>")
def remove_member(group_uuid: str, handle: str):
    """Your own handle: leave; another member's: remove them (the group's owner only). The group
    as it now is, plus `removed` (the handle)."""
    group = api().messaging.remove_member(current_user(), group_uuid, handle)
    return jsonify({**group_json(group), "removed": handle.lower()})


@bp.patch("/api/message_groups/<group_uuid>")
def rename_group(group_uuid: str):
    """Any member renames a named group: the group as it now is."""
    fields = typed_fields(json_object(), name=str)
    group = api().messaging.rename_group(current_user(), group_uuid, fields["name"])
    return jsonify(group_json(group))
