"""A private PostgreSQL cluster for local runs and tests, made with the machine's initdb/pg_ctl.

It listens only on a unix socket in a folder beside its data (no TCP port, so it can clash with
nothing and no other machine reaches it) and trusts local connections. `initdb` and `postgres`
refuse to run as root; as root the cluster runs as an unprivileged OS user (Debian's `postgres`,
created when missing) through `runuser`, and its folder belongs to that user (see os_users.py).

This module knows PostgreSQL as an engine to run, not the users store kept in it: it creates its
project database itself and never imports cruddur.users (the composition root joins the two).
"""

from __future__ import annotations

import hashlib
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

import psycopg
from psycopg import sql

from cruddur.local.installers import Run, Which
from cruddur.local.os_users import GetUser, as_user, ensure_system_user, own, reachable_by
from cruddur.local.postgres_binaries import (
    APT_PACKAGES,
    DEBIAN_LIB_ROOT,
    PostgresBinaries,
    ensure_binaries,
    find_binaries,
)
from cruddur.local.processes import EngineError, process_alive, wait_until

if TYPE_CHECKING:
    from cruddur.config import Settings

# Callers and tests import these from here, where the cluster they serve lives.
__all__ = [
    "APT_PACKAGES",
    "DEBIAN_LIB_ROOT",
    "GetUser",
    "PostgresBinaries",
    "PrivatePostgres",
    "PrivatePostgresStatus",
    "ensure_binaries",
    "find_binaries",
]

DEFAULT_DATABASE = "cruddur"
SUPERUSER = "postgres"
OS_USER = "postgres"
# Only the socket's file name carries the port; with no TCP listener any number is free to use.
SOCKET_PORT = 5432
START_TIMEOUT_SECONDS = 60
STOP_TIMEOUT_SECONDS = 60
CONNECT_TIMEOUT_SECONDS = 5
# sun_path holds 108 bytes on Linux; longer socket paths fail at bind time.
MAX_SOCKET_PATH = 100
CONFIG_FILE = "cruddur.conf"
# PostgreSQL's SQLSTATE for "database already exists".
_DUPLICATE_DATABASE = "42P04"


@dataclass(frozen=True)
class PrivatePostgresStatus:
    running: bool
    pid: int | None
    base_dir: Path
    data_dir: Path
    socket_dir: Path
    url: str
    os_user: str | None


def _read_postmaster_pid(data_dir: Path) -> tuple[int | None, str]:
    """(pid, status line) from postmaster.pid; (None, "") without one."""
    try:
        lines = (data_dir / "postmaster.pid").read_text().splitlines()
    except OSError:
        return None, ""
    try:
        pid = int(lines[0].strip())
    except (IndexError, ValueError):
        return None, ""
    # Line 8 is "ready", "starting" or "stopping" on PostgreSQL 10 and later.
    status = lines[7].strip() if len(lines) > 7 else ""
    return pid, status


class PrivatePostgres:
    """Idempotent initdb/start/stop/status of one private cluster under `base_dir`:
    `data/` (PGDATA), `run/` (the socket) and `postgres.log`."""

    def __init__(
        self,
        base_dir: Path,
        database: str = DEFAULT_DATABASE,
        which: Which = shutil.which,
        run: Run = subprocess.run,
        lib_root: Path = DEBIAN_LIB_ROOT,
        os_user: str = OS_USER,
        get_user: GetUser = pwd.getpwnam,
        euid: Callable[[], int] = os.geteuid,
    ) -> None:
        self.base_dir = Path(base_dir).absolute()
        self.database = database
        self._which = which
        self._run = run
        self._lib_root = lib_root
        self._os_user = os_user
        self._get_user = get_user
        self._euid = euid

    @classmethod
    def for_settings(cls, settings: Settings) -> PrivatePostgres:
        return cls(Path(settings.data_dir) / "postgres")

    # --- layout ------------------------------------------------------------------------------------

    @property
    def data_dir(self) -> Path:
        return self.base_dir / "data"

    @property
    def log_file(self) -> Path:
        return self.base_dir / "postgres.log"

    @property
    def socket_dir(self) -> Path:
        beside = self.base_dir / "run"
        if len(str(beside / f".s.PGSQL.{SOCKET_PORT}")) <= MAX_SOCKET_PATH:
            return beside
        # A deep checkout would overflow sun_path: a short folder named after the cluster instead.
        digest = hashlib.sha256(str(self.base_dir).encode()).hexdigest()[:12]
        return Path(tempfile.gettempdir()) / f"cruddur-pg-{digest}"

    def url_for(self, database: str) -> str:
        return (
            f"postgresql://{SUPERUSER}@/{quote(database)}"
            f"?host={quote(str(self.socket_dir), safe='')}&port={SOCKET_PORT}"
        )

    @property
    def url(self) -> str:
        """The connection URL of the project database (`cruddur`) in this cluster."""
        return self.url_for(self.database)

    @property
    def maintenance_url(self) -> str:
        return self.url_for("postgres")

    # --- status ------------------------------------------------------------------------------------

    def _initialised(self) -> bool:
        return (self.data_dir / "PG_VERSION").is_file()

    def status(self) -> PrivatePostgresStatus:
        pid, state = _read_postmaster_pid(self.data_dir)
        socket = self.socket_dir / f".s.PGSQL.{SOCKET_PORT}"
        running = (
            pid is not None and process_alive(pid) and state.startswith("ready") and socket.exists()
        )
        owner = None
        if self.data_dir.exists():
            try:
                owner = pwd.getpwuid(self.data_dir.stat().st_uid).pw_name
            except KeyError:
                owner = str(self.data_dir.stat().st_uid)
        return PrivatePostgresStatus(
            running=running,
            pid=pid if running else None,
            base_dir=self.base_dir,
            data_dir=self.data_dir,
            socket_dir=self.socket_dir,
            url=self.url,
            os_user=owner,
        )

    # --- the OS user -------------------------------------------------------------------------------

    def _cluster_user(self) -> pwd.struct_passwd | None:
        """Who runs the cluster: None (this process's user) unless we are root; as root the owner
        of an existing cluster, else the unprivileged `postgres` user (created when missing)."""
        if self._euid() != 0:
            return None
        if self._initialised():
            owner_uid = self.data_dir.stat().st_uid
            if owner_uid == 0:
                raise EngineError(
                    f"{self.data_dir} belongs to root and PostgreSQL refuses to run as root; "
                    f"remove {self.base_dir} and start again"
                )
            return pwd.getpwuid(owner_uid)
        return ensure_system_user(self._os_user, self._which, self._run, self._get_user)

    def _as_user(self, argv: list[str], user: pwd.struct_passwd | None) -> list[str]:
        return as_user(argv, user, self._which)

    # --- start/stop --------------------------------------------------------------------------------

    def _pg_version(self) -> str | None:
        try:
            return (self.data_dir / "PG_VERSION").read_text().strip()
        except OSError:
            return None

    def _run_checked(self, argv: list[str], what: str) -> None:
        result = self._run(
            argv,
            cwd=self.base_dir,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            output = (result.stdout or "").strip().splitlines()
            detail = output[-1] if output else f"exit code {result.returncode}"
            raise EngineError(f"{what} failed: {detail} (see {self.log_file})")

    def _initdb(self, binaries: PostgresBinaries, user: pwd.struct_passwd | None) -> None:
        if self.data_dir.exists() and any(self.data_dir.iterdir()):
            raise EngineError(
                f"{self.data_dir} is not empty but holds no PostgreSQL cluster; remove it"
            )
        own(self.data_dir, user)
        self._run_checked(
            self._as_user(
                [
                    str(binaries.initdb),
                    "--pgdata",
                    str(self.data_dir),
                    "--username",
                    SUPERUSER,
                    "--auth-local",
                    "trust",
                    # No TCP listener and no password: host logins stay impossible.
                    "--auth-host",
                    "reject",
                    "--encoding",
                    "UTF8",
                    "--locale",
                    "C",
                ],
                user,
            ),
            "initdb",
        )
        with open(self.data_dir / "postgresql.conf", "a", encoding="utf-8") as conf:
            conf.write(f"\ninclude_if_exists = '{CONFIG_FILE}'\n")

    def _write_config(self, user: pwd.struct_passwd | None) -> None:
        """Rewritten at every start, so a moved checkout still finds its socket."""
        path = self.data_dir / CONFIG_FILE
        socket_dir = str(self.socket_dir).replace("'", "''")
        path.write_text(
            "# Written by cruddur's PrivatePostgres at each start; edits are lost.\n"
            "listen_addresses = ''\n"
            f"unix_socket_directories = '{socket_dir}'\n"
            f"port = {SOCKET_PORT}\n"
            "unix_socket_permissions = 0700\n"
            "max_connections = 200\n",
            encoding="utf-8",
        )
        path.chmod(0o600)
        if user is not None:
            os.chown(path, user.pw_uid, user.pw_gid)

    def start(self) -> PrivatePostgresStatus:
        """Start the cluster (initialising it on first use) and make sure the project database
        exists; a running cluster is left as it is. Raises EngineError or InstallError with what
        to do."""
        current = self.status()
        if current.running:
            self._ensure_database()
            return current
        binaries = ensure_binaries(
            self._which, self._run, self._lib_root, prefer_version=self._pg_version()
        )
        user = self._cluster_user()
        if user is not None and not reachable_by(self.base_dir, user):
            raise EngineError(
                f"the {user.pw_name!r} user cannot reach {self.base_dir} (a folder above it is "
                f"closed to others); set CRUDDUR_DATA_DIR to a folder it can reach"
            )
        own(self.base_dir, user)
        own(self.socket_dir, user)
        if not self._initialised():
            self._initdb(binaries, user)
        self._write_config(user)
        self._run_checked(
            self._as_user(
                [
                    str(binaries.pg_ctl),
                    "--pgdata",
                    str(self.data_dir),
                    "--log",
                    str(self.log_file),
                    "--wait",
                    "--timeout",
                    str(START_TIMEOUT_SECONDS),
                    "--silent",
                    "start",
                ],
                user,
            ),
            "pg_ctl start",
        )
        if not wait_until(lambda: self.status().running, START_TIMEOUT_SECONDS):
            raise EngineError(f"PostgreSQL did not become ready; see {self.log_file}")
        self._ensure_database()
        return self.status()

    def _ensure_database(self) -> None:
        """Create the project database when it is missing: a started cluster is ready to use."""
        try:
            with psycopg.connect(
                self.maintenance_url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_SECONDS
            ) as conn:
                found = conn.execute(
                    "SELECT 1 FROM pg_database WHERE datname = %s", (self.database,)
                ).fetchone()
                if found is None:
                    # Identifiers cannot be parameters: sql.Identifier quotes the name instead.
                    conn.execute(
                        sql.SQL("CREATE DATABASE {}").format(sql.Identifier(self.database))
                    )
        except psycopg.Error as exc:
            # Another process created it between our check and our CREATE: the goal is met.
            if exc.sqlstate == _DUPLICATE_DATABASE:
                return
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise EngineError(
                f"PostgreSQL started but creating the database {self.database!r} failed: "
                f"{reason} (see {self.log_file})"
            ) from exc

    def stop(self) -> bool:
        """Stop the cluster (fast shutdown: open sessions are closed); True if one was running."""
        pid, _ = _read_postmaster_pid(self.data_dir)
        if pid is None or not process_alive(pid):
            return False
        # SIGINT is PostgreSQL's "fast" shutdown; it removes postmaster.pid once down.
        for sig in (signal.SIGINT, signal.SIGQUIT):
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                return True
            if wait_until(
                lambda: not (self.data_dir / "postmaster.pid").exists() or not process_alive(pid),
                STOP_TIMEOUT_SECONDS,
            ):
                return True
        raise EngineError(f"PostgreSQL (pid {pid}) did not stop; see {self.log_file}")
