"""PostgreSQL plumbing of the users store: the one place that builds the pool, the migrations and
the database-level chores of the tool-kit (create, drop, sessions). Which URL a run uses is the
composition root's choice (cruddur.bootstrap), never this module's."""

from __future__ import annotations

import hashlib
import logging
import re
import select
import threading
import time
import weakref
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import datetime
from importlib import resources
from typing import Any

import psycopg
from psycopg import sql
from psycopg_pool import ConnectionPool, PoolTimeout

from cruddur.users.errors import MigrationError, UsersNotConfigured, UsersRefused
from cruddur.users.pg_errors import DUPLICATE_DATABASE, ServerDown, first_line, translated
from cruddur.users.queries import template
from cruddur.users.urls import database_name, mask_url, with_database

__all__ = [
    "APPLICATION_NAME",
    "Migration",
    "Session",
    "UsersPool",
    "applied_migrations",
    "apply_migrations",
    "count_users",
    "create_database",
    "create_pool",
    "database_exists",
    "database_name",
    "drop_database",
    "list_sessions",
    "load_migrations",
    "mask_url",
    "pooled",
    "session",
    "with_database",
]

CONNECT_TIMEOUT_SECONDS = 5
POOL_TIMEOUT_SECONDS = 5
# How long the pool keeps reconnecting in the background (its pauses double from 1 s) before it
# leaves the next reconnection to the next request. psycopg_pool's default, 5 minutes, lets the
# pauses grow with the outage: a server back after 40 s was used again only 20 s later.
RECONNECT_TIMEOUT_SECONDS = 5
# Connections are checked before use, so a restarted server or a terminated backend costs one
# reconnect, not an error. A round trip (`SELECT 1`) on every checkout is one more round trip per
# request, so a connection back in the pool for less than this is checked without one: an idle
# connection has nothing to read, and a backend that ended has sent its FATAL notice or closed the
# socket, which makes it readable. One idle longer gets the round trip, as a silent network
# failure shows only to that.
CHECK_AFTER_IDLE_SECONDS = 2.0
# While the server is down the pool refuses requests at once (as the Redis cache stops asking for
# a moment), and a background thread tries a connection this often: a returning server is used
# again within about this long, and a down server costs one connection attempt per interval.
PROBE_INTERVAL_SECONDS = 0.5
# Any fixed 64-bit number works; it only has to differ from other advisory locks on the same server.
MIGRATIONS_LOCK_ID = 0x43525544_55535253  # "CRUDUSRS"
MAINTENANCE_DATABASE = "postgres"
# Shown by `cruddur db sessions` (pg_stat_activity), so our connections are told from others.
APPLICATION_NAME = "cruddur"

_MIGRATION_FILE = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")

log = logging.getLogger(__name__)


# --- connections ----------------------------------------------------------------------------------


@contextmanager
def session(
    url: str, *, prod: bool = False, autocommit: bool = True, named: str | None = None
) -> Iterator[psycopg.Connection[Any]]:
    """One connection for the tool-kit's chores, closed at the end of the block. Any driver error,
    connecting or inside the block, surfaces as a users error naming `named` (default `url`)
    masked."""
    with (
        translated(named or url, prod=prod),
        psycopg.connect(
            url,
            autocommit=autocommit,
            connect_timeout=CONNECT_TIMEOUT_SECONDS,
            application_name=APPLICATION_NAME,
        ) as conn,
    ):
        yield conn


class UsersPool(ConnectionPool[psycopg.Connection[Any]]):
    """A psycopg pool that remembers whether it serves the --prod database, so an error raised
    long after it was made still says so, and that knows when its server is down.

    psycopg_pool alone makes every request wait its whole timeout for a connection while the server
    is down (5 s each, a serving thread held as long). This pool learns of an outage from a
    connection attempt that fails: its own, made when a pooled connection fails its check, when a
    connection breaks during use or when a request waited the whole timeout. From then on it
    refuses every request at once (ServerDown, translated to UsersUnavailable) and a background
    thread tries a connection every PROBE_INTERVAL_SECONDS; the first that succeeds ends the
    outage. A connection that breaks while the server answers (a terminated backend, a restart
    already over) still costs one reconnect, not an error."""

    def __init__(self, url: str, *, prod: bool = False, **kwargs: Any) -> None:
        self._returned_at: weakref.WeakKeyDictionary[psycopg.Connection[Any], float] = (
            weakref.WeakKeyDictionary()
        )
        self._returned_lock = threading.Lock()
        self._url = url
        self._connect_kwargs: dict[str, Any] = dict(kwargs.get("kwargs") or {})
        self._outage_lock = threading.Lock()
        self._down_since: float | None = None
        self._down_reason = ""
        self._prober: threading.Thread | None = None
        self._closing = threading.Event()
        # Requests refused at once because the server was known to be down (never waited for).
        self.refused_without_waiting = 0
        super().__init__(url, reset=self._note_returned, **kwargs)
        self.prod = prod

    # --- connections, checked before use ---------------------------------------------------------

    def getconn(self, timeout: float | None = None) -> psycopg.Connection[Any]:
        """A checked connection within `timeout` (default: the pool's), as psycopg_pool's; raises
        ServerDown at once while the server is known to be down."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while True:
            self._refuse_while_down()
            try:
                conn = super().getconn(timeout=max(0.0, deadline - time.monotonic()))
            except PoolTimeout:
                # The server gone, or only every connection busy: the prober tells which.
                self.server_may_be_down()
                raise
            try:
                self._check_if_idle(conn)
            except Exception:  # noqa: BLE001 - whatever failed the check, the connection goes back
                conn.close()  # a closed connection returned is replaced, never handed out again
                self.putconn(conn)
                # A terminated backend or the server gone: one attempt, here, tells which. Down:
                # the loop refuses; up: the next connection (the pool replaces this one).
                self._note_attempt(self._connection_refused_reason())
                continue
            return conn

    def _note_returned(self, conn: psycopg.Connection[Any]) -> None:
        with self._returned_lock:
            self._returned_at[conn] = time.monotonic()

    def _check_if_idle(self, conn: psycopg.Connection[Any]) -> None:
        with self._returned_lock:
            returned_at = self._returned_at.get(conn)
        recent = (
            returned_at is not None and time.monotonic() - returned_at < CHECK_AFTER_IDLE_SECONDS
        )
        if not recent or _has_something_to_read(conn):
            ConnectionPool.check_connection(conn)

    # --- outages ---------------------------------------------------------------------------------

    @property
    def server_down(self) -> bool:
        with self._outage_lock:
            return self._down_since is not None

    def server_may_be_down(self) -> None:
        """A connection broke or a request waited in vain: try the server in the background (the
        caller's request is failing already and should not wait for the answer)."""
        with self._outage_lock:
            self._start_prober()

    def close(self, timeout: float = 5.0) -> None:
        self._closing.set()
        super().close(timeout)

    def _refuse_while_down(self) -> None:
        with self._outage_lock:
            if self._down_since is None:
                return
            self.refused_without_waiting += 1
            reason = self._down_reason
        raise ServerDown(f"down, refused without waiting: {reason}")

    def _connection_refused_reason(self) -> str | None:
        """Why a fresh connection to the server fails, or None when it succeeds."""
        try:
            with psycopg.connect(self._url, **self._connect_kwargs):
                return None
        except psycopg.Error as exc:
            return first_line(exc)

    def _note_attempt(self, refused_reason: str | None) -> None:
        """Record a connection attempt's outcome: the first refusal starts an outage (logged once),
        which only the prober ends."""
        if refused_reason is None:
            return
        with self._outage_lock:
            starting = self._down_since is None
            if starting:
                self._down_since = time.monotonic()
            self._down_reason = refused_reason
            self._start_prober()
        if starting:
            log.warning(
                "PostgreSQL at %s is down (%s): requests are refused at once until it answers",
                mask_url(self._url),
                refused_reason,
            )

    def _start_prober(self) -> None:
        # Called with _outage_lock held. An outage always has a prober: it alone ends it.
        if self._prober is None and not self._closing.is_set():
            self._prober = threading.Thread(
                target=self._probe_until_answered, name=f"{self.name}-prober", daemon=True
            )
            self._prober.start()

    def _probe_until_answered(self) -> None:
        while True:
            if self.server_down and self._closing.wait(PROBE_INTERVAL_SECONDS):
                break
            refused_reason = self._connection_refused_reason()
            if self._closing.is_set():
                break
            if refused_reason is not None:
                self._note_attempt(refused_reason)
                continue
            if self.server_down:
                # Drop the idle connections that died with the server before requests come back.
                self.check()
            with self._outage_lock:
                down_since, self._down_since, self._prober = self._down_since, None, None
            if down_since is not None:
                log.warning(
                    "PostgreSQL at %s answers again after %.1f s",
                    mask_url(self._url),
                    time.monotonic() - down_since,
                )
            return
        with self._outage_lock:
            self._prober = None


def _has_something_to_read(conn: psycopg.Connection[Any]) -> bool:
    if conn.closed:
        return True
    try:
        readable, _, _ = select.select([conn.fileno()], [], [], 0)
    except (OSError, ValueError, psycopg.Error):
        return True
    return bool(readable)


def create_pool(
    url: str,
    min_size: int = 1,
    max_size: int = 10,
    timeout: float = POOL_TIMEOUT_SECONDS,
    name: str = "cruddur-users",
    *,
    prod: bool = False,
) -> UsersPool:
    """An open connection pool on `url`, its first connection made. Raises UsersUnavailable (masked
    URL, reason) when the server does not answer. Connections are checked before use (see
    CHECK_AFTER_IDLE_SECONDS), so a restarted server costs one reconnect, not an error; while the
    server is down requests are refused at once (UsersPool), and it is used again within about
    PROBE_INTERVAL_SECONDS of its return however long it was away."""
    # One direct attempt first: libpq's own reason ("connection refused", "database does not
    # exist") is worth more to the reader than the pool's generic timeout.
    with session(url, prod=prod):
        pass
    pool = UsersPool(
        url,
        prod=prod,
        min_size=min_size,
        max_size=max_size,
        timeout=timeout,
        name=name,
        open=False,
        reconnect_timeout=RECONNECT_TIMEOUT_SECONDS,
        kwargs={"connect_timeout": CONNECT_TIMEOUT_SECONDS, "application_name": APPLICATION_NAME},
    )
    try:
        with translated(url, prod=prod):
            pool.open(wait=True, timeout=timeout)
    except BaseException:
        pool.close()
        raise
    return pool


@contextmanager
def pooled(pool: ConnectionPool) -> Iterator[psycopg.Connection[Any]]:
    """A connection from the pool inside a transaction (committed on success, rolled back on an
    exception); a lost server surfaces as UsersUnavailable and a refused statement as
    UsersRefused, never as a driver error."""
    prod = pool.prod if isinstance(pool, UsersPool) else False
    with translated(_pool_url(pool), prod=prod), pool.connection() as conn:
        try:
            yield conn
        except psycopg.Error:
            if conn.broken and isinstance(pool, UsersPool):
                pool.server_may_be_down()
            raise


def _pool_url(pool: ConnectionPool) -> str:
    conninfo = pool.conninfo
    return conninfo if isinstance(conninfo, str) else f"pool {pool.name}"


# --- migrations -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Migration:
    version: str
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()

    def __str__(self) -> str:
        return f"{self.version}_{self.name}"


def load_migrations() -> list[Migration]:
    """Every users/migrations/NNNN_name.sql in version order; raises MigrationError on a
    misnamed file or a repeated version."""
    folder = resources.files("cruddur.users").joinpath("migrations")
    found: dict[str, Migration] = {}
    for entry in folder.iterdir():
        if not entry.name.endswith(".sql"):
            continue
        match = _MIGRATION_FILE.match(entry.name)
        if match is None:
            raise MigrationError(f"migration file {entry.name} is not named NNNN_name.sql")
        version, name = match.groups()
        if version in found:
            raise MigrationError(f"two migrations share version {version}")
        found[version] = Migration(version, name, entry.read_text(encoding="utf-8"))
    return [found[version] for version in sorted(found)]


_CREATE_SCHEMA_MIGRATIONS = """
CREATE TABLE IF NOT EXISTS schema_migrations (
  version text PRIMARY KEY,
  name text NOT NULL,
  checksum text NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now()
)
"""


def apply_migrations(
    url: str, migrations: list[Migration] | None = None, *, prod: bool = False
) -> list[Migration]:
    """Apply the migrations not yet recorded in `schema_migrations`, in version order, each in its
    own transaction with its record; return those applied now (empty when the schema is current).
    Safe to run from several processes at once: an advisory lock serialises them, and the later
    ones find the work done. A failing migration is rolled back and raises MigrationError."""
    pending = load_migrations() if migrations is None else migrations
    applied_now: list[Migration] = []
    with session(url, prod=prod) as conn:
        for migration in pending:
            with conn.transaction():
                # Transaction-scoped, so a crash can never leave the lock held on a pooled session.
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATIONS_LOCK_ID,))
                conn.execute(_CREATE_SCHEMA_MIGRATIONS)
                done = conn.execute(
                    "SELECT 1 FROM schema_migrations WHERE version = %s", (migration.version,)
                ).fetchone()
                if done:
                    continue
                try:
                    with translated(url, prod=prod):
                        conn.execute(migration.sql)
                except UsersRefused as exc:
                    raise MigrationError(f"migration {migration} failed: {exc.reason}") from exc
                conn.execute(
                    "INSERT INTO schema_migrations (version, name, checksum) VALUES (%s, %s, %s)",
                    (migration.version, migration.name, migration.checksum),
                )
                applied_now.append(migration)
    return applied_now


def applied_migrations(url: str, *, prod: bool = False) -> list[tuple[str, str, datetime]]:
    """(version, name, applied_at) of every recorded migration, oldest first; empty before any."""
    with session(url, prod=prod) as conn:
        exists = conn.execute("SELECT to_regclass('schema_migrations')").fetchone()
        if not exists or exists[0] is None:
            return []
        rows = conn.execute(
            "SELECT version, name, applied_at FROM schema_migrations ORDER BY version"
        ).fetchall()
    return [(str(v), str(n), a) for v, n, a in rows]


# --- databases and sessions (the tool-kit's chores) -----------------------------------------------


def _maintenance(url: str, prod: bool) -> AbstractContextManager[psycopg.Connection[Any]]:
    # Errors name the URL the user configured, not the maintenance one derived from it.
    return session(with_database(url, MAINTENANCE_DATABASE), prod=prod, named=url)


def database_exists(url: str, prod: bool = False) -> bool:
    with _maintenance(url, prod) as conn:
        row = conn.execute(template("admin", "database_exists"), {"name": database_name(url)})
        return row.fetchone() is not None


def create_database(url: str, prod: bool = False) -> bool:
    """Create the database `url` names; False when it already exists (nothing done)."""
    name = database_name(url)
    try:
        with _maintenance(url, prod) as conn:
            if conn.execute(template("admin", "database_exists"), {"name": name}).fetchone():
                return False
            # Identifiers cannot be parameters: sql.Identifier quotes the name instead.
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    except UsersRefused as exc:
        # Another process created it between our check and our CREATE.
        if exc.sqlstate == DUPLICATE_DATABASE:
            return False
        raise
    return True


def drop_database(url: str, prod: bool = False) -> bool:
    """Drop the database `url` names, closing its other sessions first (FORCE); False when it did
    not exist."""
    name = database_name(url)
    if name == MAINTENANCE_DATABASE:
        raise UsersNotConfigured(f"refusing to drop the maintenance database {name!r}")
    with _maintenance(url, prod) as conn:
        if not conn.execute(template("admin", "database_exists"), {"name": name}).fetchone():
            return False
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
    return True


def count_users(url: str, prod: bool = False) -> int:
    """How many users the database `url` names holds: 0 when it does not exist or has no users
    table yet."""
    if not database_exists(url, prod):
        return 0
    with session(url, prod=prod) as conn:
        exists = conn.execute(template("admin", "users_table_exists")).fetchone()
        if not exists or not exists[0]:
            return 0
        row = conn.execute(template("admin", "count_users")).fetchone()
    return int(row[0]) if row else 0


@dataclass(frozen=True)
class Session:
    pid: int
    user: str | None
    database: str | None
    application_name: str | None
    client_addr: str | None
    state: str | None
    query: str | None
    backend_start: datetime | None


def list_sessions(url: str, prod: bool = False) -> list[Session]:
    """Open client connections to the server `url` points at (every database), oldest first."""
    with session(url, prod=prod) as conn:
        rows = conn.execute(template("admin", "sessions")).fetchall()
    return [Session(*row) for row in rows]
