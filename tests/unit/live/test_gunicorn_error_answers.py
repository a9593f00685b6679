"""gunicorn's own error pages turned into the API's JSON (cruddur.live.gunicorn_worker)."""

from __future__ import annotations

import json

from cruddur.hardening.headers import API_HEADERS
from cruddur.live.gunicorn_worker import json_error_answer

GUNICORN_414 = (
    b"HTTP/1.1 414 URI Too Long\r\nConnection: close\r\nContent-Type: text/html\r\n"
    b"Content-Length: 99\r\n\r\n<html><body>Request Line is too large (8000 &gt; 4094)</body></html>"
)


def test_the_status_stays_and_the_page_becomes_json():
    answer = json_error_answer(GUNICORN_414)

    assert answer is not None
    head, _, body = answer.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    assert lines[0] == "HTTP/1.1 414 URI Too Long"
    assert "Content-Type: application/json" in lines
    assert f"Content-Length: {len(body)}" in lines
    assert all(f"{name}: {value}" in lines for name, value in API_HEADERS.items())
    assert json.loads(body) == {"errors": ["request_line_too_long"]}


def test_a_status_without_a_code_of_its_own_is_named_by_its_number():
    answer = json_error_answer(b"HTTP/1.1 418 Teapot\r\n\r\n")

    assert answer is not None
    assert json.loads(answer.partition(b"\r\n\r\n")[2]) == {"errors": ["http_418"]}


def test_anything_but_a_status_line_is_left_alone():
    assert json_error_answer(b"garbage") is None
