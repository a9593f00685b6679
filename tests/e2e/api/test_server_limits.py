"""The statuses gunicorn answers before the app sees a request (`SERVER_LIMITS` of the OpenAPI
document: 414 for a request line over its limit, 431 for a header over its limit), which every
operation documents: reached on `cruddur serve` for every operation, in the API's JSON error shape.
The app's own statuses are reached by tests/integration/api/test_documented_statuses.py."""

from __future__ import annotations

import http.client
import json
import urllib.parse

from cruddur.api.openapi import SERVER_LIMITS, openapi_document

UNKNOWN_GROUP = "00000000-0000-4000-8000-000000000000"
HTTP_METHODS = ("get", "put", "post", "delete", "patch")
# over gunicorn's limits: 4094 bytes of request line, 8190 bytes of header line
OVERSIZED = {
    "414": {"query": "?pad=" + "x" * 5000, "headers": {}},
    "431": {"query": "", "headers": {"X-Pad": "x" * 9000}},
}


def documented_server_statuses() -> list[tuple[str, str, str]]:
    return sorted(
        (method, path, status)
        for path, item in openapi_document()["paths"].items()
        for method, operation in item.items()
        if method in HTTP_METHODS
        for status in operation["responses"]
        if status in SERVER_LIMITS
    )


def concrete(path: str) -> str:
    return path.replace("{group_uuid}", UNKNOWN_GROUP).replace("{handle}", "bayko")


def answer(base_url: str, method: str, target: str, headers: dict[str, str]):
    parsed = urllib.parse.urlsplit(base_url)
    connection = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=30)
    try:
        connection.request(method.upper(), target, body=b"{}", headers=headers)
        response = connection.getresponse()
        return response.status, response.getheader("Content-Type"), response.read()
    finally:
        connection.close()


def test_every_operation_documents_the_server_limits() -> None:
    operations = {
        (method, path)
        for path, item in openapi_document()["paths"].items()
        for method in item
        if method in HTTP_METHODS
    }
    pairs = set(documented_server_statuses())
    assert pairs == {(m, p, s) for m, p in operations for s in SERVER_LIMITS}
    assert set(OVERSIZED) == set(SERVER_LIMITS)


def test_the_server_limits_answer_json_for_every_operation(gunicorn_server) -> None:
    wrong = []
    for method, path, status in documented_server_statuses():
        oversized = OVERSIZED[status]
        got, content_type, body = answer(
            gunicorn_server,
            method,
            concrete(path) + oversized["query"],
            {"Content-Type": "application/json", **oversized["headers"]},
        )
        errors = json.loads(body).get("errors") if content_type == "application/json" else None
        if got != int(status) or not (isinstance(errors, list) and errors):
            wrong.append((method, path, status, got, content_type, body[:200]))
    assert wrong == []
