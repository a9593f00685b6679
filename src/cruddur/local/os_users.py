"""Running a local engine as an unprivileged OS user when we are root (PostgreSQL refuses root):
creating that user, running commands as it, giving it folders it can reach."""

from __future__ import annotations

import grp
import os
import pwd
import stat
from collections.abc import Callable
from pathlib import Path

from cruddur.local.installers import Run, Which
from cruddur.local.processes import EngineError

GetUser = Callable[[str], pwd.struct_passwd]


def _groups_of(name: str) -> list[grp.struct_group]:
    return [g for g in grp.getgrall() if name in g.gr_mem]


def reachable_by(path: Path, user: pwd.struct_passwd) -> bool:
    """Whether `user` may traverse every folder above `path` (root's home is 0700, as are
    pytest's temporary folders)."""
    groups = {user.pw_gid} | {g.gr_gid for g in _groups_of(user.pw_name)}
    for folder in reversed(path.resolve().parents):
        try:
            info = folder.stat()
        except OSError:
            return False
        if info.st_uid == user.pw_uid:
            allowed = info.st_mode & stat.S_IXUSR
        elif info.st_gid in groups:
            allowed = info.st_mode & stat.S_IXGRP
        else:
            allowed = info.st_mode & stat.S_IXOTH
        if not allowed:
            return False
    return True


def ensure_system_user(name: str, which: Which, run: Run, get_user: GetUser) -> pwd.struct_passwd:
    """The OS user `name`, created (a system user without home or login shell) when missing."""
    try:
        return get_user(name)
    except KeyError:
        pass
    useradd = which("useradd") or "useradd"
    result = run(
        [
            useradd,
            "--system",
            "--user-group",
            "--no-create-home",
            "--home-dir",
            "/nonexistent",
            "--shell",
            "/usr/sbin/nologin",
            name,
        ],
        check=False,
    )
    try:
        return get_user(name)
    except KeyError:
        raise EngineError(
            f"PostgreSQL cannot run as root and creating the user {name!r} failed "
            f"(useradd exit code {result.returncode})"
        ) from None


def as_user(argv: list[str], user: pwd.struct_passwd | None, which: Which) -> list[str]:
    """`argv` run as `user` through runuser (as it is when `user` is None: ourselves)."""
    if user is None:
        return argv
    runuser = which("runuser")
    if runuser is None:
        raise EngineError(
            f"running PostgreSQL as {user.pw_name!r} needs runuser (util-linux); install it"
        )
    return [runuser, "-u", user.pw_name, "--", *argv]


def own(path: Path, user: pwd.struct_passwd | None, mode: int = 0o700) -> None:
    """Make the folder `path` (and its parents) with `mode`, belonging to `user` when given."""
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(mode)
    if user is not None:
        os.chown(path, user.pw_uid, user.pw_gid)
