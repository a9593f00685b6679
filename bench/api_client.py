"""The benches' HTTP client of the API: keep-alive connections, one per client thread."""

from __future__ import annotations

import http.client
import json
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

REQUEST_TIMEOUT_SECONDS = 30.0

# Told of every answered request: (path, whether it carried a token).
OnAnswer = Callable[[str, bool], None]


class ApiConnection:
    """One keep-alive HTTP/1.1 connection to the API (one per client thread)."""

    def __init__(self, base_url: str, on_answer: OnAnswer | None = None) -> None:
        parts = urlsplit(base_url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.conn: http.client.HTTPConnection | None = None
        self.on_answer = on_answer

    def call(self, method: str, path: str, body: Any, token: str | None) -> tuple[int, Any, float]:
        """(status, decoded body, seconds)."""
        data = None if body is None else json.dumps(body).encode()
        headers = {"Accept": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if data is not None:
            headers["Content-Type"] = "application/json"
        for attempt in (0, 1):
            fresh = self.conn is None
            conn = self.conn or http.client.HTTPConnection(
                self.host, self.port, timeout=REQUEST_TIMEOUT_SECONDS
            )
            started = time.perf_counter()
            try:
                conn.request(method, path, body=data, headers=headers)
                response = conn.getresponse()
                raw = response.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                conn.close()
                self.conn = None
                if attempt or fresh:
                    raise
                continue  # gunicorn closed the kept-alive connection meanwhile: once more
            elapsed = time.perf_counter() - started
            if self.on_answer is not None:
                self.on_answer(path, bool(token))
            self.conn = None if response.will_close else conn
            if response.will_close:
                conn.close()
            try:
                decoded = json.loads(raw) if raw else None
            except ValueError:
                decoded = raw.decode(errors="replace")
            return response.status, decoded, elapsed
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def one_call(
    base_url: str,
    method: str,
    path: str,
    body: Any,
    token: str | None = None,
    on_answer: OnAnswer | None = None,
) -> Any:
    """One request on a connection of its own; the decoded answer (RuntimeError unless 200)."""
    conn = ApiConnection(base_url, on_answer)
    try:
        status, answer, _ = conn.call(method, path, body, token)
    finally:
        conn.close()
    if status != 200:
        raise RuntimeError(f"{method} {path} answered {status}: {answer}")
    return answer
