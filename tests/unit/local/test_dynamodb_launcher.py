"""DynamoDB Local's loopback launcher needs a Java compiler: found beside `java` or on PATH, else
the JDK is installed with apt-get (FakeMachine: tools hidden from PATH, the installer stubbed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from cruddur.local.dynamodb import LAUNCHER_SOURCE, ensure_javac
from cruddur.local.installers import InstallError

from .test_installers import FakeMachine


def test_the_launcher_source_ships_with_the_package():
    source = LAUNCHER_SOURCE.read_text()
    assert "setHost(host)" in source and '"127.0.0.1"' in source


def test_a_javac_beside_java_is_used_without_installing(tmp_path: Path):
    (tmp_path / "java").touch()
    (tmp_path / "javac").touch()
    machine = FakeMachine({"apt-get"})

    assert ensure_javac(str(tmp_path / "java"), machine.which, machine.run) == str(
        tmp_path / "javac"
    )
    assert machine.commands == []


def test_no_javac_installs_the_jdk(tmp_path: Path):
    (tmp_path / "java").touch()
    machine = FakeMachine({"apt-get", "sudo"}, installs={"openjdk-17-jdk-headless": {"javac"}})

    assert ensure_javac(str(tmp_path / "java"), machine.which, machine.run) == "/usr/bin/javac"
    assert any("openjdk-17-jdk-headless" in command for command in machine.commands)


def test_an_install_that_brings_no_javac_is_one_clear_error(tmp_path: Path):
    (tmp_path / "java").touch()
    machine = FakeMachine({"apt-get", "sudo"})

    with pytest.raises(InstallError, match="javac is still missing"):
        ensure_javac(str(tmp_path / "java"), machine.which, machine.run)
