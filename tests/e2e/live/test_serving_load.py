"""The serving model under load, bounded: `cruddur serve` as configured by default (2 workers),
200 open event streams and 50 slow clients (half send half a request, half send nothing) held
open while health checks and a send must each answer within a one-second deadline; the message
then reaches every stream of its group. Everything is closed at the end."""

from __future__ import annotations

import http.client
import json
import socket
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from fixtures_api import ApiClient, HttpTransport

from .conftest import serving_defaults

STREAMS = 200
SLOW_CLIENTS = 50
REQUEST_DEADLINE = 1.0  # seconds, each health check and the send
SETUP_DEADLINE = 30.0


def open_stream(host: str, port: int, token: str, group: str | None) -> socket.socket:
    """A raw event stream connection, read until the server says it is connected."""
    sock = socket.create_connection((host, port), timeout=SETUP_DEADLINE)
    query = f"?group={group}" if group else ""
    sock.sendall(
        (
            f"GET /api/events{query} HTTP/1.1\r\nHost: {host}\r\n"
            f"Authorization: Bearer {token}\r\nAccept: text/event-stream\r\n\r\n"
        ).encode()
    )
    received = b""
    deadline = time.monotonic() + SETUP_DEADLINE
    while b": connected" not in received:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        chunk = sock.recv(4096)
        assert chunk, f"stream closed before it opened: {received!r}"
        received += chunk
    assert received.startswith(b"HTTP/1.1 200"), received[:200]
    return sock


def slow_client(host: str, port: int, half_a_request: bool) -> socket.socket:
    sock = socket.create_connection((host, port), timeout=SETUP_DEADLINE)
    if half_a_request:
        sock.sendall(f"GET /api/health-check HTTP/1.1\r\nHost: {host}\r\nX-Slow: ".encode())
    return sock


def within_deadline(
    host: str, port: int, method: str, path: str, body: dict | None = None, token: str = ""
) -> tuple[int, dict]:
    """One request on a new connection; socket.timeout (the test fails) past REQUEST_DEADLINE."""
    connection = http.client.HTTPConnection(host, port, timeout=REQUEST_DEADLINE)
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    try:
        connection.request(method, path, json.dumps(body) if body else None, headers)
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


def worker_figures(arbiter_pid: int) -> list[dict[str, int]]:
    """Threads and resident memory (KiB) of each gunicorn worker, from /proc."""
    children = Path(f"/proc/{arbiter_pid}/task/{arbiter_pid}/children").read_text().split()
    figures = []
    for pid in children:
        status = dict(
            line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
        )
        figures.append(
            {
                "pid": int(pid),
                "threads": int(status["Threads"]),
                "rss_kib": int(status["VmRSS"].split()[0]),
            }
        )
    return figures


def test_streams_and_slow_clients_leave_health_checks_and_sends_answering(
    live_settings, postgres_url, register, tmp_path
):
    register("alice")
    register("bob")
    env = {"REDIS_URL": live_settings.redis_url or ""}
    with serving_defaults(live_settings, postgres_url, tmp_path / "serve", **env) as (url, proc):
        parts = urllib.parse.urlsplit(url)
        host, port = parts.hostname or "127.0.0.1", parts.port or 80
        client = ApiClient(HttpTransport(url))
        alice, bob = client.as_user("alice"), client.as_user("bob")
        group = alice.send_to_handle("bob", "hello").body["message_group_uuid"]

        streams: list[socket.socket] = []
        slow: list[socket.socket] = []
        try:
            # half of the streams follow the conversation (bob), half only a conversation list
            with ThreadPoolExecutor(max_workers=32) as pool:
                streams = list(
                    pool.map(
                        lambda i: open_stream(
                            host,
                            port,
                            bob.token if i % 2 == 0 else alice.token,
                            group if i % 2 == 0 else None,
                        ),
                        range(STREAMS),
                    )
                )
            slow = [slow_client(host, port, i % 2 == 0) for i in range(SLOW_CLIENTS)]

            for _ in range(10):
                status, body = within_deadline(host, port, "GET", "/api/health-check")
                assert status == 200, body
            status, sent = within_deadline(
                host,
                port,
                "POST",
                "/api/messages",
                {"message_group_uuid": group, "message": "under load"},
                token=alice.token,
            )
            assert status == 200, sent
            for _ in range(10):
                assert within_deadline(host, port, "GET", "/api/health-check")[0] == 200

            # the message reached every stream following the conversation
            deadline = time.monotonic() + SETUP_DEADLINE
            needle = json.dumps(sent["uuid"]).encode()
            for sock in streams[::2]:
                received = b""
                while needle not in received:
                    sock.settimeout(max(0.01, deadline - time.monotonic()))
                    chunk = sock.recv(65536)
                    assert chunk, "a stream closed before the message reached it"
                    received += chunk

            figures = worker_figures(proc.pid)
            print(f"\n{STREAMS} streams + {SLOW_CLIENTS} slow clients, workers: {figures}")
            assert sum(f["threads"] for f in figures) > STREAMS  # each stream holds a thread
        finally:
            for sock in streams + slow:
                sock.close()
