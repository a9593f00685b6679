"""The unit layer: pure code, no engine, no network.

Every unit test (and every fixture it uses) runs with internet sockets disabled (pytest-socket):
opening one raises `pytest_socket.SocketBlockedError`. Unix sockets stay allowed because the
standard library uses them for local process plumbing (multiprocessing's forkserver), not for
engines: the engines are kept out by refusing the shared fixtures instead (below).

The `os.exec*` functions raise too: a unit test that reached, say, `cruddur serve`'s final
`os.execve` would otherwise replace the test run itself with gunicorn. (subprocess is untouched.)

Only tests under tests/unit are affected: pytest calls a conftest's `pytest_runtest_*` hooks for
the items below its folder only, and sockets are enabled again when each test is torn down.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import pytest_socket

UNIT_DIR = Path(__file__).resolve().parent
TESTS_DIR = UNIT_DIR.parent
EXEC_FUNCTIONS = ("execl", "execle", "execlp", "execlpe", "execv", "execve", "execvp", "execvpe")
_real_exec = {name: getattr(os, name) for name in EXEC_FUNCTIONS}


class ProcessReplacementBlocked(RuntimeError):
    """A unit test tried to replace the test process (os.exec*)."""


def _blocked_exec(name: str):
    def blocked(*args, **kwargs):
        raise ProcessReplacementBlocked(f"a unit test called os.{name}{args[:1]}: blocked")

    return blocked


def shared_fixtures_used(item: pytest.Item) -> list[str]:
    """Fixtures the item uses that are defined under tests/ but outside tests/unit: the shared
    ones of tests/conftest.py and tests/fixtures_*.py, which start engines (DynamoDB Local,
    PostgreSQL, gunicorn) or need them."""
    info = getattr(item, "_fixtureinfo", None)
    if info is None:
        return []
    shared = []
    for name, definitions in info.name2fixturedefs.items():
        for definition in definitions:
            code = getattr(definition.func, "__code__", None)
            if code is None:
                continue
            path = Path(code.co_filename).resolve()
            if path.is_relative_to(TESTS_DIR) and not path.is_relative_to(UNIT_DIR):
                shared.append(f"{name} ({path.relative_to(TESTS_DIR)})")
    return sorted(set(shared))


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    shared = shared_fixtures_used(item)
    if shared:
        pytest.fail(
            "a unit test uses shared fixtures that need engines: "
            + ", ".join(shared)
            + "; move the test to tests/integration or give it a fixture of its own",
            pytrace=False,
        )
    pytest_socket.disable_socket(allow_unix_socket=True)
    for name in EXEC_FUNCTIONS:
        setattr(os, name, _blocked_exec(name))


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_teardown(item: pytest.Item) -> None:
    # Before any fixture is torn down: the last unit test of a run also tears down the session's
    # fixtures (DynamoDB Local started by an integration test run earlier in the same session).
    pytest_socket.enable_socket()
    for name, function in _real_exec.items():
        setattr(os, name, function)
