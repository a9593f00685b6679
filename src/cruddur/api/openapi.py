"""The API's OpenAPI 3.1 description, served at /api/openapi.json. Kept beside the views it
describes; tests check that every route of the app appears here."""

from __future__ import annotations

from functools import cache
from typing import Any

from cruddur.messaging.models import MAX_MESSAGE_CHARS, MAX_PAGE_SIZE


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


_ERRORS = _json(_ref("Errors"), "Error codes")
_AUTH_ERRORS = {"401": _ERRORS}
# Every operation that reads DynamoDB or PostgreSQL (signing in and verifying a token read the users
# store; a Cognito pool's JWKS may be unreachable): 503 rather than 500 when one does not answer.
_UNAVAILABLE = {
    "503": _json(
        _ref("Errors"), "service_unavailable: DynamoDB, PostgreSQL or the JWKS does not answer"
    )
}
_TOO_LARGE = {"413": _json(_ref("Errors"), "request_too_large: a body over 16 KiB")}
# Answered by the server (gunicorn's limits, in the API's JSON: live/gunicorn_worker.py) before the
# API sees the request, whatever the operation; every operation lists them.
SERVER_LIMITS = {
    "414": _json(_ref("Errors"), "request_line_too_long: method, path and query over 4094 bytes"),
    "431": _json(
        _ref("Errors"),
        "request_headers_too_large: a header line over 8190 bytes, or over 100 headers",
    ),
}
_PAGING = [
    {
        "name": "limit",
        "in": "query",
        "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE},
    },
    {
        "name": "before",
        "in": "query",
        "schema": {"type": "string"},
        "description": "opaque cursor from a Link header",
    },
    {
        "name": "cursor",
        "in": "query",
        "schema": {"type": "string"},
        "description": "synonym of before",
    },
]
_NEXT_LINK = {
    "Link": {
        "schema": {"type": "string"},
        "description": 'RFC 8288, rel="next": the next (older) page',
    }
}
# Issue 12: idempotent sends and rate limits (api/idempotency.py, api/limits.py)
_IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[\\x20-\\x7e]+$"},
    "description": "1-255 printable ASCII characters (else 400 idempotency_key_invalid). The same "
    "key from the same user within 24 hours runs the request once and answers the same status "
    "and body every time (header Idempotent-Replayed: true on a replay); with another body, 422 "
    "idempotency_key_reused; while the first request still runs, the second waits up to 10 s for "
    "its answer, then 409 request_in_progress; the key store unreachable: 503 "
    "idempotency_unavailable",
}
_RATE_LIMIT_HEADERS = {
    "RateLimit-Limit": {"schema": {"type": "integer"}, "description": "hits per window"},
    "RateLimit-Remaining": {"schema": {"type": "integer"}, "description": "hits left"},
    "RateLimit-Reset": {
        "schema": {"type": "integer"},
        "description": "seconds until the window ends",
    },
}
_LIMITED = {
    "429": {
        **_json(_ref("Errors"), "rate_limited: over a rate limit"),
        "headers": {
            "Retry-After": {"schema": {"type": "integer"}, "description": "seconds"},
            **_RATE_LIMIT_HEADERS,
        },
    }
}
_KEYED_SEND_ERRORS = {
    "409": _json(_ref("Errors"), "request_in_progress (Retry-After: 1)"),
    "429": _LIMITED["429"],
    "503": _json(_ref("Errors"), "idempotency_unavailable, service_unavailable, try_again"),
}
_GROUP_UUID = {
    "name": "group_uuid",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "format": "uuid"},
}


@cache
def openapi_document() -> dict[str, Any]:
    text = {"type": "string"}
    timestamp = {"type": "string", "description": "UTC ISO 8601 with microseconds, +00:00"}
    entry_properties: dict[str, Any] = {
        "uuid": text,
        "display_name": text,
        "handle": text,
        "message": text,
        "created_at": timestamp,
    }
    entry = {
        "type": "object",
        "required": ["uuid", "display_name", "handle", "message", "created_at"],
        "properties": entry_properties,
    }
    schemas = {
        "Errors": {
            "type": "object",
            "required": ["errors"],
            "properties": {"errors": {"type": "array", "items": text}},
        },
        "Message": entry,
        # a conversation is an entry of the same shape (the other party, the latest message)
        "MessageGroup": {
            **entry,
            "properties": {
                **entry_properties,
                "kind": {"enum": ["direct", "group"]},
                "name": text,
                "members_count": {"type": "integer", "description": "named groups only"},
            },
        },
        "Group": {
            "type": "object",
            "required": ["message_group_uuid", "kind", "name", "members_count", "created_at"],
            "properties": {
                "message_group_uuid": {"type": "string", "format": "uuid"},
                "kind": {"enum": ["direct", "group"]},
                "name": text,
                "members_count": {"type": "integer", "minimum": 0, "maximum": 40},
                "created_at": timestamp,
            },
        },
        "Member": {
            "type": "object",
            "required": ["handle", "display_name", "joined_at"],
            "properties": {
                "uuid": text,
                "handle": text,
                "display_name": text,
                "joined_at": timestamp,
                "role": text,
            },
        },
        "UserShort": {
            "type": "object",
            "required": ["uuid", "handle", "display_name"],
            "properties": {"uuid": text, "handle": text, "display_name": text},
        },
        "NewMessage": {
            "type": "object",
            "required": ["message"],
            "properties": {
                "message": {"type": "string", "minLength": 1, "maxLength": MAX_MESSAGE_CHARS},
                "handle": text,
                "message_group_uuid": {"type": "string", "format": "uuid"},
            },
        },
        "NewGroup": {
            "type": "object",
            "required": ["name", "handles"],
            "properties": {
                "name": text,
                "handles": {"type": "array", "items": text},
                "message": text,
            },
        },
        "Token": {
            "type": "object",
            "properties": {
                "access_token": text,
                "token_type": {"const": "Bearer"},
                "expires_in": {"type": "integer"},
            },
        },
    }
    paths: dict[str, dict[str, Any]] = {
        "/api/message_groups": {
            "get": {
                "summary": "The caller's conversations, most recent first",
                "parameters": _PAGING,
                "responses": {
                    "200": {
                        **_json({"type": "array", "items": _ref("MessageGroup")}),
                        "headers": _NEXT_LINK,
                    },
                    "422": _json(_ref("Errors"), "limit_invalid"),
                    **_UNAVAILABLE,
                    **_AUTH_ERRORS,
                },
            },
            "post": {
                "summary": "Create a named group (the caller plus 1 to 39 others). 404 "
                "user_not_found with `handles` (the unknown ones); 422 group_members_too_few, "
                "group_too_large (over 40, the caller included), group_name_blank, "
                "group_name_invalid_characters (any control character), "
                "group_name_exceed_max_chars, and the message codes of POST /api/messages",
                "parameters": [_IDEMPOTENCY_KEY],
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": _ref("NewGroup")}},
                },
                "responses": {
                    "200": {
                        **_json({"type": "object", "required": ["message_group_uuid"]}),
                        "headers": _RATE_LIMIT_HEADERS,
                    },
                    "400": _ERRORS,
                    **_TOO_LARGE,
                    "404": _ERRORS,
                    "422": _ERRORS,
                    **_KEYED_SEND_ERRORS,
                    **_AUTH_ERRORS,
                },
            },
        },
        "/api/messages/{group_uuid}": {
            "get": {
                "summary": "A page of the group's messages, oldest first (members only)",
                "parameters": [_GROUP_UUID, *_PAGING],
                "responses": {
                    "200": {
                        **_json({"type": "array", "items": _ref("Message")}),
                        "headers": _NEXT_LINK,
                    },
                    "404": _ERRORS,
                    "422": _ERRORS,
                    **_UNAVAILABLE,
                    **_AUTH_ERRORS,
                },
            }
        },
        "/api/messages": {
            "post": {
                "summary": "Send: with handle, into the pair's 1:1 group (answer has message_group_uuid); with message_group_uuid, append (answer is the message). "
                "422 message_blank (nothing but whitespace and format characters such as "
                "zero-width spaces), message_invalid_characters (a control character other than "
                "line break and tab), message_exceed_max_chars, user_receiver_handle_blank, "
                "message_group_uuid_invalid, cannot_message_self",
                "parameters": [_IDEMPOTENCY_KEY],
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": _ref("NewMessage")}},
                },
                "responses": {
                    "200": {**_json(_ref("Message")), "headers": _RATE_LIMIT_HEADERS},
                    "400": _ERRORS,
                    "404": _ERRORS,
                    "413": _ERRORS,
                    "422": _ERRORS,
                    **_KEYED_SEND_ERRORS,
                    **_AUTH_ERRORS,
                },
            }
        },
        "/api/message_groups/{group_uuid}": {
            "patch": {
                "summary": "Rename a named group (any member): 1-100 characters after trimming. "
                "Answers the group; every member's list shows the new name. 422 "
                "direct_conversation_cannot_be_renamed, group_name_blank, "
                "group_name_invalid_characters, group_name_exceed_max_chars",
                "parameters": [_GROUP_UUID],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": ["name"],
                                "properties": {"name": text},
                            }
                        }
                    },
                },
                "responses": {
                    "200": _json(_ref("Group")),
                    "400": _ERRORS,
                    **_TOO_LARGE,
                    "404": _ERRORS,
                    "422": _ERRORS,
                    "503": _ERRORS,
                    **_AUTH_ERRORS,
                },
            }
        },
        "/api/message_groups/{group_uuid}/members": {
            "get": {
                "summary": "The group's members (members only)",
                "parameters": [_GROUP_UUID],
                "responses": {
                    "200": _json({"type": "array", "items": _ref("Member")}),
                    "404": _ERRORS,
                    "422": _json(_ref("Errors"), "message_group_uuid_invalid"),
                    **_UNAVAILABLE,
                    **_AUTH_ERRORS,
                },
            },
            "post": {
                "summary": "Add members by handle (any member; all or nothing). Answers the group "
                "plus `added` (the new members; people already there are skipped). A new member "
                "sees messages from the moment they joined. 404 user_not_found with `handles` (the "
                "unknown ones); 422 group_too_large (over 40), direct_conversation_cannot_grow",
                "parameters": [_GROUP_UUID],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": ["handles"],
                                "properties": {"handles": {"type": "array", "items": text}},
                            }
                        }
                    },
                },
                "responses": {
                    "200": _json(
                        {
                            **_ref("Group"),
                            "properties": {"added": {"type": "array", "items": _ref("Member")}},
                        }
                    ),
                    "400": _ERRORS,
                    **_TOO_LARGE,
                    "404": _ERRORS,
                    "422": _ERRORS,
                    "503": _ERRORS,
                    **_AUTH_ERRORS,
                },
            },
        },
        "/api/message_groups/{group_uuid}/members/@{handle}": {
            "delete": {
                "summary": "Leave (your own handle) or, as the group's owner, remove a member. "
                "Answers the group plus `removed` (the handle). The member's conversation row is "
                "gone and they get 404 at once; the owner leaving hands the role to the "
                "longest-standing member. 403 group_owner_only; 404 member_not_found; 422 "
                "direct_conversation_cannot_shrink",
                "parameters": [
                    _GROUP_UUID,
                    {"name": "handle", "in": "path", "required": True, "schema": text},
                ],
                "responses": {
                    "200": _json(
                        {**_ref("Group"), "properties": {"removed": text}},
                    ),
                    "403": _ERRORS,
                    "404": _ERRORS,
                    "422": _ERRORS,
                    "503": _ERRORS,
                    **_AUTH_ERRORS,
                },
            }
        },
        "/api/users/@{handle}/short": {
            "get": {
                "summary": "A user's uuid, handle and display name (public; a sent token must verify)",
                "security": [{}, {"bearer": []}],
                "parameters": [{"name": "handle", "in": "path", "required": True, "schema": text}],
                "responses": {
                    "200": _json(_ref("UserShort")),
                    "404": _ERRORS,
                    **_UNAVAILABLE,
                    **_AUTH_ERRORS,
                },
            }
        },
        "/api/users/search": {
            "get": {
                "summary": "At most 10 users (the caller left out) whose handle or display name "
                "starts with q, case-insensitively; handle matches first",
                "parameters": [
                    {
                        "name": "q",
                        "in": "query",
                        "required": True,
                        "schema": {"type": "string", "maxLength": 100},
                        "description": "the prefix; a leading @ is ignored; empty: no results",
                    }
                ],
                "responses": {
                    "200": _json({"type": "array", "items": _ref("UserShort"), "maxItems": 10}),
                    **_UNAVAILABLE,
                    **_AUTH_ERRORS,
                },
            }
        },
        "/api/events": {
            "get": {
                "summary": "Live events as server-sent events (text/event-stream): `conversation` "
                "(data: a row of GET /api/message_groups) for the caller's moved, new or changed "
                "conversations, `conversation_gone` (data: {uuid}) for a group the caller left or "
                "was removed from and, with `group`, `message` (data: the message of GET /api/messages plus "
                "message_group_uuid). Each event's id resumes the stream (Last-Event-ID); a `reset` "
                "event means events were lost: reload. A comment every 15 s; the stream ends with "
                "a `token_expired` event when the token expires, and with `not_member` when the "
                "caller leaves the group. 503 live_unavailable without a shared bus (REDIS_URL)",
                "parameters": [
                    {
                        "name": "group",
                        "in": "query",
                        "schema": {"type": "string", "format": "uuid"},
                        "description": "the open conversation (members only: 404 otherwise)",
                    },
                    {
                        "name": "last_event_id",
                        "in": "query",
                        "schema": {"type": "string"},
                        "description": "resume after this event id (as the Last-Event-ID header)",
                    },
                    {
                        "name": "Last-Event-ID",
                        "in": "header",
                        "schema": {"type": "string"},
                        "description": "resume after this event id (sent by EventSource)",
                    },
                ],
                "responses": {
                    "200": {
                        "description": "the event stream",
                        "content": {"text/event-stream": {"schema": {"type": "string"}}},
                    },
                    "404": _ERRORS,
                    "422": _ERRORS,
                    "503": _ERRORS,
                    **_AUTH_ERRORS,
                },
            }
        },
        "/api/health-check": {
            "get": {
                "summary": "200 when DynamoDB and PostgreSQL answer",
                "security": [],
                "responses": {"200": _json({"type": "object"}), "503": _ERRORS},
            }
        },
        "/api/auth/token": {
            "post": {
                "summary": "Local identity provider only: sign in with handle and password",
                "security": [],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "properties": {"handle": text, "password": text},
                            }
                        }
                    },
                },
                "responses": {
                    "200": _json(_ref("Token")),
                    "400": _ERRORS,
                    "401": _ERRORS,
                    "404": _json(_ref("Errors"), "not_found: Cognito is configured"),
                    **_TOO_LARGE,
                    **_LIMITED,
                    **_UNAVAILABLE,
                },
            }
        },
        "/.well-known/jwks.json": {
            "get": {
                "summary": "The local identity provider's public keys",
                "security": [],
                "responses": {
                    "200": _json({"type": "object"}),
                    "404": _json(_ref("Errors"), "not_found: Cognito is configured"),
                },
            }
        },
        "/api/openapi.json": {
            "get": {
                "summary": "This document",
                "security": [],
                "responses": {"200": _json({"type": "object"})},
            }
        },
    }
    for item in paths.values():
        for operation in item.values():
            operation["responses"].update(SERVER_LIMITS)
    return {
        "openapi": "3.1.0",
        "info": {"title": "Cruddur Messaging API", "version": "1"},
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "JWT (Cognito access token)",
                }
            },
        },
        "security": [{"bearer": []}],
        "paths": paths,
    }
