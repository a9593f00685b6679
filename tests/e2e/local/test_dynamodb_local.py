"""The DynamoDB Local manager: idempotent start, clear errors, stop ends only its own process."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from cruddur.config import project_root
from cruddur.local.dynamodb import DynamoDBLocal, endpoint_answers
from cruddur.local.installers import InstallError
from cruddur.local.processes import EngineError, free_port, process_alive


def test_start_is_idempotent_and_stop_ends_it(tmp_path: Path):
    engine = DynamoDBLocal(project_root(), tmp_path, port=free_port(), in_memory=True)
    first = engine.start()
    try:
        assert first.running and endpoint_answers(engine.port)
        assert engine.start().pid == first.pid  # a second start changes nothing
    finally:
        assert engine.stop()
    assert not process_alive(first.pid)
    assert not engine.status().running
    assert engine.stop() is False


def test_a_port_held_by_something_else_is_one_clear_error(tmp_path: Path):
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        engine = DynamoDBLocal(project_root(), tmp_path, port=port, in_memory=True)
        with pytest.raises(EngineError, match=f"port {port} is held by another process"):
            engine.start()
        assert engine.stop() is False  # never kills what it did not start


def test_missing_java_without_an_installer_is_one_clear_error(tmp_path: Path):
    engine = DynamoDBLocal(
        project_root(), tmp_path, port=free_port(), in_memory=True, which=lambda name: None
    )
    with pytest.raises(InstallError, match="apt-get not found"):
        engine.start()
