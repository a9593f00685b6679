"""The deadlines of the serving model's worker (cruddur.live.gunicorn_worker.DeadlineSocket), on a
local socket pair: a request that does not arrive in time ends the connection, as a reset does."""

from __future__ import annotations

import errno
import socket
import time

import pytest

from cruddur.live.gunicorn_worker import DeadlineSocket


@pytest.fixture
def pair():
    server, client = socket.socketpair()
    yield DeadlineSocket(server), client
    server.close()
    client.close()


def test_reads_within_the_deadline_pass_through(pair):
    server, client = pair
    server.read_deadline = time.monotonic() + 10
    client.sendall(b"GET / HTTP/1.1\r\n")
    assert server.recv(1024) == b"GET / HTTP/1.1\r\n"
    buffer = bytearray(8)
    client.sendall(b"Host: x")
    assert server.recv_into(buffer) == 7


def test_half_a_request_ends_at_the_deadline(pair):
    server, client = pair
    client.sendall(b"GET /api/health-check HTTP/1.1\r\nX-Slow: ")
    server.read_deadline = time.monotonic() + 0.2
    assert server.recv(1024).startswith(b"GET")
    with pytest.raises(ConnectionResetError) as raised:
        server.recv(1024)  # the rest never comes
    assert raised.value.errno == errno.ECONNRESET


def test_a_deadline_already_past_refuses_at_once(pair):
    server, client = pair
    client.sendall(b"GET / HTTP/1.1\r\n")
    server.read_deadline = time.monotonic() - 1
    with pytest.raises(ConnectionResetError):
        server.recv(1024)


def test_everything_else_is_the_sockets(pair):
    server, _ = pair
    assert server.fileno() == server._sock.fileno()
    server.setblocking(False)
    assert server.gettimeout() == 0.0
