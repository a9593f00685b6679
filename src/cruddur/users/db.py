"""PostgreSQL plumbing of the users store: the one place that builds the pool, the migrations, the
database-level chores of the tool-kit (create, drop, sessions) and the choice of connection URL."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from importlib import resources
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg_pool import ConnectionPool, PoolTimeout

from cruddur.users.errors import (
    LOCAL_START_HINT,
    MigrationError,
    UsersNotConfigured,
    UsersUnavailable,
)
from cruddur.users.queries import template

if TYPE_CHECKING:
    from cruddur.config import Settings

CONNECT_TIMEOUT_SECONDS = 5
POOL_TIMEOUT_SECONDS = 5
# How long the pool keeps reconnecting in the background (its pauses double from 1 s) before it
# leaves the next reconnection to the next request. psycopg_pool's default, 5 minutes, lets the
# pauses grow with the outage: a server back after 40 s was used again only 20 s later.
RECONNECT_TIMEOUT_SECONDS = 5
# Any fixed 64-bit number works; it only has to differ from other advisory locks on the same server.
MIGRATIONS_LOCK_ID = 0x43525544_55535253  # "CRUDUSRS"
MAINTENANCE_DATABASE = "postgres"
# Shown by `cruddur db sessions` (pg_stat_activity), so our connections are told from others.
APPLICATION_NAME = "cruddur"
PROD_HINT = "check PROD_CONNECTION_URL and that the database accepts connections from here"

_MIGRATION_FILE = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
_PASSWORD_KV = re.compile(r"(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)", re.IGNORECASE)


# --- URLs -----------------------------------------------------------------------------------------


def mask_url(url: str) -> str:
    """The URL (or key=value conninfo) with any password replaced by `***`: safe to print or log."""
    if "://" not in url:
        return _PASSWORD_KV.sub(r"\1***", url)
    parts = urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, hostinfo = netloc.rpartition("@")
        if ":" in userinfo:
            userinfo = userinfo.split(":", 1)[0] + ":***"
        netloc = f"{userinfo}@{hostinfo}"
    query = parts.query
    if query:
        pairs = [
            (key, "***" if key.lower() == "password" else value)
            for key, value in parse_qsl(query, keep_blank_values=True)
        ]
        query = urlencode(pairs, safe="/*")
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def database_name(url: str) -> str:
    """The database a connection URL names (libpq's default, the user name, when it names none)."""
    params = conninfo_to_dict(url)
    name = params.get("dbname") or params.get("user")
    if not name:
        raise UsersNotConfigured(f"the connection URL {mask_url(url)} names no database")
    return str(name)


def with_database(url: str, name: str) -> str:
    """The same server and credentials, another database (a conninfo string)."""
    return make_conninfo(url, dbname=name)


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def local_connection_url(settings: Settings, start: bool = False) -> str:
    """The URL of local runs: `settings.connection_url` (CONNECTION_URL) when set, else the private
    cluster's under `settings.data_dir/postgres`, started first when `start` is true.
    Raises UsersUnavailable (with how to start it) when the private cluster is down and `start` is
    false, EngineError/InstallError when starting it fails."""
    if settings.connection_url:
        return settings.connection_url
    from cruddur.local.postgres import PrivatePostgres

    cluster = PrivatePostgres.for_settings(settings)
    if start:
        return cluster.start().url
    status = cluster.status()
    if not status.running:
        raise UsersUnavailable(mask_url(status.url), "the private PostgreSQL is not running")
    return status.url


def prod_connection_url(settings: Settings) -> str:
    """PROD_CONNECTION_URL; raises UsersNotConfigured when it is unset."""
    if not settings.prod_connection_url:
        raise UsersNotConfigured("PROD_CONNECTION_URL is not set; --prod needs it")
    return settings.prod_connection_url


def connection_url(settings: Settings, prod: bool = False, start: bool = False) -> str:
    """The tool-kit's choice: the production URL with `prod` (or settings made for --prod), else
    the local one (see `local_connection_url`)."""
    if prod or settings.prod:
        return prod_connection_url(settings)
    return local_connection_url(settings, start=start)


# --- connections ----------------------------------------------------------------------------------


def hint_for(url: str, prod: bool = False) -> str:
    return PROD_HINT if prod else LOCAL_START_HINT


def connect(url: str, autocommit: bool = True, prod: bool = False) -> psycopg.Connection[Any]:
    """One connection (for the tool-kit's chores); raises UsersUnavailable naming the masked URL."""
    try:
        return psycopg.connect(
            url,
            autocommit=autocommit,
            connect_timeout=CONNECT_TIMEOUT_SECONDS,
            application_name=APPLICATION_NAME,
        )
    except psycopg.OperationalError as exc:
        raise UsersUnavailable(mask_url(url), _first_line(exc), hint_for(url, prod)) from exc


def create_pool(
    url: str,
    min_size: int = 1,
    max_size: int = 10,
    timeout: float = POOL_TIMEOUT_SECONDS,
    name: str = "cruddur-users",
) -> ConnectionPool:
    """An open connection pool on `url`, its first connection made. Raises UsersUnavailable (masked
    URL, reason, how to start the private cluster) when the server does not answer. Connections
    are checked before each use, so a restarted server costs one reconnect, not an error, and is
    used again within seconds of its return however long it was away."""
    # One direct attempt first: libpq's own reason ("connection refused", "database does not
    # exist") is worth more to the reader than the pool's generic timeout.
    connect(url).close()
    pool = ConnectionPool(
        conninfo=url,
        min_size=min_size,
        max_size=max_size,
        timeout=timeout,
        name=name,
        open=False,
        check=ConnectionPool.check_connection,
        reconnect_timeout=RECONNECT_TIMEOUT_SECONDS,
        kwargs={"connect_timeout": CONNECT_TIMEOUT_SECONDS, "application_name": APPLICATION_NAME},
    )
    try:
        pool.open(wait=True, timeout=timeout)
    except PoolTimeout as exc:
        pool.close()
        raise UsersUnavailable(mask_url(url), "no connection within the pool timeout") from exc
    return pool


@contextmanager
def pooled(pool: ConnectionPool) -> Iterator[psycopg.Connection[Any]]:
    """A connection from the pool inside a transaction (committed on success, rolled back on an
    exception); a lost server surfaces as UsersUnavailable, not a driver error."""
    try:
        with pool.connection() as conn:
            yield conn
    except PoolTimeout as exc:
        raise UsersUnavailable(_pool_url(pool), "no free connection in time") from exc
    except psycopg.OperationalError as exc:
        raise UsersUnavailable(_pool_url(pool), _first_line(exc)) from exc


def _pool_url(pool: ConnectionPool) -> str:
    conninfo = pool.conninfo
    return mask_url(conninfo) if isinstance(conninfo, str) else f"pool {pool.name}"


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


def apply_migrations(url: str, migrations: list[Migration] | None = None) -> list[Migration]:
    """Apply the migrations not yet recorded in `schema_migrations`, in version order, each in its
    own transaction with its record; return those applied now (empty when the schema is current).
    Safe to run from several processes at once: an advisory lock serialises them, and the later
    ones find the work done. A failing migration is rolled back and raises MigrationError."""
    pending = load_migrations() if migrations is None else migrations
    applied_now: list[Migration] = []
    with connect(url, autocommit=True) as conn:
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
                    conn.execute(migration.sql)
                except psycopg.Error as exc:
                    raise MigrationError(
                        f"migration {migration} failed: {_first_line(exc)}"
                    ) from exc
                conn.execute(
                    "INSERT INTO schema_migrations (version, name, checksum) VALUES (%s, %s, %s)",
                    (migration.version, migration.name, migration.checksum),
                )
                applied_now.append(migration)
    return applied_now


def applied_migrations(url: str) -> list[tuple[str, str, datetime]]:
    """(version, name, applied_at) of every recorded migration, oldest first; empty before any."""
    with connect(url) as conn:
        exists = conn.execute("SELECT to_regclass('schema_migrations')").fetchone()
        if not exists or exists[0] is None:
            return []
        rows = conn.execute(
            "SELECT version, name, applied_at FROM schema_migrations ORDER BY version"
        ).fetchall()
    return [(str(v), str(n), a) for v, n, a in rows]


# --- databases and sessions (the tool-kit's chores) -----------------------------------------------


def _maintenance(url: str, prod: bool) -> psycopg.Connection[Any]:
    try:
        return connect(with_database(url, MAINTENANCE_DATABASE), prod=prod)
    except UsersUnavailable as exc:
        # Name the URL the user configured, not the maintenance one derived from it.
        raise UsersUnavailable(mask_url(url), exc.reason, exc.hint) from exc


def database_exists(url: str, prod: bool = False) -> bool:
    with _maintenance(url, prod) as conn:
        row = conn.execute(template("admin", "database_exists"), {"name": database_name(url)})
        return row.fetchone() is not None


def create_database(url: str, prod: bool = False) -> bool:
    """Create the database `url` names; False when it already exists (nothing done)."""
    name = database_name(url)
    with _maintenance(url, prod) as conn:
        if conn.execute(template("admin", "database_exists"), {"name": name}).fetchone():
            return False
        try:
            # Identifiers cannot be parameters: sql.Identifier quotes the name instead.
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        except psycopg.errors.DuplicateDatabase:
            return False
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
    with connect(url, prod=prod) as conn:
        rows = conn.execute(template("admin", "sessions")).fetchall()
    return [Session(*row) for row in rows]
