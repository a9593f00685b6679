"""The answers gunicorn writes itself (requests it cannot parse, before the app sees them) are the
API's JSON, with the API's headers, and never repeat what the client sent: raw sockets against
`cruddur serve`."""

from __future__ import annotations

import json
import socket
import urllib.parse

from cruddur.hardening.headers import API_HEADERS

MARKER = "probe-<script>"


def raw_exchange(base_url: str, request: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send `request` as it is and read the answer to the end (gunicorn closes after an error)."""
    address = urllib.parse.urlsplit(base_url)
    with socket.create_connection((address.hostname, address.port), timeout=10) as sock:
        sock.sendall(request)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(status_line.split()[1]), headers, body


# (what is sent, the status, the code): one served process answers them all
CASES = {
    "request line too long": (
        f"GET /api/{MARKER}{'a' * 8000} HTTP/1.1\r\nHost: x\r\n\r\n".encode(),
        414,
        "request_line_too_long",
    ),
    "bad method": (f"G{MARKER} / HTTP/1.1\r\nHost: x\r\n\r\n".encode(), 400, "request_malformed"),
    "bad header name": (
        f"GET / HTTP/1.1\r\nHost: x\r\nBad{MARKER}: 1\r\n\r\n".encode(),
        400,
        "request_malformed",
    ),
    "unknown transfer coding": (
        b"POST /api/messages HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: x-probe\r\n\r\n",
        501,
        "transfer_coding_not_implemented",
    ),
}


def test_gunicorn_s_own_answers_are_the_api_s_json(gunicorn_server):
    for case, (request_bytes, status, code) in CASES.items():
        answered, headers, body = raw_exchange(gunicorn_server, request_bytes)

        assert answered == status, case
        assert headers["content-type"] == "application/json", case
        assert int(headers["content-length"]) == len(body), case
        assert json.loads(body) == {"errors": [code]}, case
        for name, value in API_HEADERS.items():
            assert headers[name.lower()] == value, (case, name)
        assert MARKER.encode() not in body and b"<html" not in body, case
