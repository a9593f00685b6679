"""The unit layer's guard (tests/unit/conftest.py): no internet socket, no engine, no exec."""

from __future__ import annotations

import os
import socket
import sys

import pytest
import pytest_socket

pytestmark = pytest.mark.filterwarnings("ignore:A test tried to use socket:UserWarning")


def test_opening_an_internet_socket_raises():
    for family in (socket.AF_INET, socket.AF_INET6):
        with pytest.raises(pytest_socket.SocketBlockedError):
            socket.socket(family, socket.SOCK_STREAM)


def test_reaching_a_local_engine_port_raises():
    with pytest.raises(pytest_socket.SocketBlockedError):
        socket.create_connection(("127.0.0.1", 5432), timeout=1)


def test_name_lookups_raise():
    with pytest.raises(pytest_socket.SocketBlockedError):
        socket.getaddrinfo("localhost", 8000)


def test_replacing_the_test_process_raises():
    # Without the guard the run would end here, failing loudly rather than passing by exiting 0.
    argv = [sys.executable, "-c", "raise SystemExit('unit guard off: os.exec* replaced pytest')"]
    with pytest.raises(RuntimeError, match="blocked"):
        os.execv(argv[0], argv)
    with pytest.raises(RuntimeError, match="blocked"):
        os.execve(argv[0], argv, dict(os.environ))
