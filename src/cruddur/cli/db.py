"""`cruddur db ...`: the seed's bin/db scripts, on the local PostgreSQL by default (CONNECTION_URL,
else the private cluster under .data/postgres) and on PROD_CONNECTION_URL with --prod."""

from __future__ import annotations

import functools
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click
from botocore.exceptions import ClientError
from rich.console import Console
from rich.table import Table

from cruddur import bootstrap
from cruddur.aws import cognito_idp_client
from cruddur.cli.common import fail, one_line_errors, prod_options, resolve_prod, toolkit_settings
from cruddur.config import Settings
from cruddur.local.postgres import DEBIAN_LIB_ROOT, PrivatePostgres
from cruddur.users import db as users_db
from cruddur.users.cognito import update_cognito_user_ids
from cruddur.users.repository import UserRepository
from cruddur.users.seed import seed_users
from cruddur.users.urls import split_password

F = TypeVar("F", bound=Callable[..., Any])
console = Console(highlight=False, soft_wrap=True)


def db_errors(func: F) -> F:
    """`one_line_errors` plus what only this family meets: Cognito's refusals. PostgreSQL's reach
    the command already as users errors, which `one_line_errors` prints."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except ClientError as exc:
            error = exc.response.get("Error", {})
            fail(f"Cognito refused the request: {error.get('Code')}: {error.get('Message')}")

    return one_line_errors(wrapper)  # type: ignore[return-value]


def _target(target: str | None, prod_flag: bool) -> tuple[Settings, bool]:
    prod = resolve_prod(target, prod_flag)
    return toolkit_settings(prod), prod


def _url(settings: Settings, prod: bool, start: bool = True) -> str:
    return bootstrap.connection_url(settings, prod=prod, start=start)


def _say(prod: bool, message: str) -> None:
    console.print(f"[bold red]PROD[/] {message}" if prod else message)


def _repository(settings: Settings, prod: bool) -> UserRepository:
    # One command does one thing at a time: two connections are plenty.
    return bootstrap.user_repository(settings, prod=prod, start=True, min_size=1, max_size=2)


@click.group()
def db() -> None:
    """The users store on PostgreSQL (local by default, PROD_CONNECTION_URL with --prod)."""


@db.command()
@prod_options
@db_errors
def create(target: str | None, prod_flag: bool) -> None:
    """Create the database the connection URL names (nothing happens when it exists)."""
    settings, prod = _target(target, prod_flag)
    url = _url(settings, prod)
    name = users_db.database_name(url)
    if users_db.create_database(url, prod=prod):
        _say(prod, f"created database {name}")
    else:
        _say(prod, f"database {name} already exists")


def _drop(url: str, prod: bool, yes: bool) -> None:
    name = users_db.database_name(url)
    if prod and not yes:
        click.confirm(
            f"Drop database {name} at {users_db.mask_url(url)}? Every user in it is lost",
            abort=True,
        )
    if users_db.drop_database(url, prod=prod):
        _say(prod, f"dropped database {name}")
    else:
        _say(prod, f"database {name} does not exist")


@db.command()
@prod_options
@click.option("--yes", "-y", is_flag=True, help="Do not ask before dropping on --prod.")
@db_errors
def drop(target: str | None, prod_flag: bool, yes: bool) -> None:
    """Drop the database (closing its sessions); asks first with --prod."""
    settings, prod = _target(target, prod_flag)
    _drop(_url(settings, prod, start=False), prod, yes)


def _schema_load(url: str, prod: bool) -> None:
    applied = users_db.apply_migrations(url, prod=prod)
    if applied:
        for migration in applied:
            _say(prod, f"applied {migration}")
    else:
        _say(prod, "schema is up to date")


@db.command("schema-load")
@prod_options
@db_errors
def schema_load(target: str | None, prod_flag: bool) -> None:
    """Apply the migrations not yet applied, in order (re-running applies nothing)."""
    settings, prod = _target(target, prod_flag)
    _schema_load(_url(settings, prod), prod)


def _seed(settings: Settings, prod: bool) -> None:
    repo = _repository(settings, prod)
    try:
        report = seed_users(repo, settings.seed_password)
    finally:
        repo.pool.close()
    for user in report.created:
        _say(prod, f"created @{user.handle} ({user.display_name}) {user.uuid}")
    for user in report.existing:
        _say(prod, f"exists  @{user.handle} ({user.display_name}) {user.uuid}")
    _say(prod, "demo passwords set from CRUDDUR_SEED_PASSWORD (local use only)")


@db.command()
@prod_options
@db_errors
def seed(target: str | None, prod_flag: bool) -> None:
    """Insert the demo users (andrewbrown, bayko and a few more); idempotent."""
    settings, prod = _target(target, prod_flag)
    _seed(settings, prod)


def _confirm_setup(url: str, prod: bool, yes: bool) -> None:
    """`setup` drops the database first: ask when that loses something (it holds users), and
    always on --prod, as `drop --prod` and `ddb drop` on AWS do; `--yes` answers for a script.
    Declining (or no one to answer: stdin closed) changes nothing and exits 1."""
    if yes:
        return
    name = users_db.database_name(url)
    users = users_db.count_users(url, prod=prod)
    if users == 0 and not prod:
        return
    question = f"Drop and recreate database {name} at {users_db.mask_url(url)}?"
    if users:
        question += f" Its {users} users are lost" if users != 1 else " Its one user is lost"
        open_sessions = [s for s in users_db.list_sessions(url, prod=prod) if s.database == name]
        if open_sessions:
            question += f" and its {len(open_sessions)} open connection(s) closed"
    try:
        agreed = click.confirm(question, default=False, err=True)
    except click.Abort:  # stdin closed (a script) or Ctrl-C: no answer is no
        click.echo(err=True)  # end the question's line
        agreed = False
    if not agreed:
        fail(f"database {name} left as it was (pass --yes to set it up without asking)")


@db.command()
@prod_options
@click.option(
    "--yes", "-y", is_flag=True, help="Do not ask before dropping a database that holds users."
)
@db_errors
def setup(target: str | None, prod_flag: bool, yes: bool) -> None:
    """drop, create, schema-load and seed in one go; asks first when the database holds users
    (and always with --prod)."""
    settings, prod = _target(target, prod_flag)
    url = _url(settings, prod)
    _confirm_setup(url, prod, yes)
    _drop(url, prod, yes=True)  # asked above
    name = users_db.database_name(url)
    users_db.create_database(url, prod=prod)
    _say(prod, f"created database {name}")
    _schema_load(url, prod)
    _seed(settings, prod)


def _psql(which: Callable[[str], str | None] = shutil.which) -> str:
    found = which("psql")
    if found:
        return found
    if DEBIAN_LIB_ROOT.is_dir():
        for version in sorted(DEBIAN_LIB_ROOT.iterdir(), reverse=True):
            candidate = version / "bin" / "psql"
            if candidate.is_file():
                return str(candidate)
    raise click.ClickException("psql not found; install postgresql-client")


@db.command()
@prod_options
@click.option("--command", "-c", "sql_command", help="Run this SQL and exit (psql -c).")
@db_errors
def connect(target: str | None, prod_flag: bool, sql_command: str | None) -> None:
    """Open psql on the database (local, or production with --prod)."""
    settings, prod = _target(target, prod_flag)
    conninfo, password = split_password(_url(settings, prod))
    env = dict(os.environ)
    if password:
        # Through the environment, not argv: argv is visible to every user in `ps`.
        env["PGPASSWORD"] = password
    argv = [_psql(), conninfo]
    if sql_command:
        argv += ["-c", sql_command]
    os.execve(argv[0], argv, env)


@db.command()
@prod_options
@db_errors
def sessions(target: str | None, prod_flag: bool) -> None:
    """Open connections to the server: pid, user, database, state, query."""
    settings, prod = _target(target, prod_flag)
    rows = users_db.list_sessions(_url(settings, prod, start=False), prod=prod)
    table = Table(title="PostgreSQL sessions" + (" (PROD)" if prod else ""))
    for column in ("pid", "user", "database", "app", "state", "query"):
        table.add_column(column, overflow="fold")
    for row in rows:
        query = " ".join((row.query or "").split())
        table.add_row(
            str(row.pid),
            row.user or "",
            row.database or "",
            row.application_name or "",
            row.state or "",
            query[:200],
        )
    console.print(table)


@db.command("update-cognito-user-ids")
@prod_options
@db_errors
def update_cognito_user_ids_command(target: str | None, prod_flag: bool) -> None:
    """Link users to their Cognito user ids (ListUsers of AWS_COGNITO_USER_POOL_ID, matched by
    preferred_username = handle or by email); prints what changed."""
    settings, prod = _target(target, prod_flag)
    repo = _repository(settings, prod)
    try:
        result = update_cognito_user_ids(
            repo, cognito_idp_client(settings), settings.cognito_user_pool_id
        )
    finally:
        repo.pool.close()
    for change in result.changed:
        _say(
            prod,
            f"@{change.handle}: cognito_user_id {change.old_cognito_user_id or '(none)'} -> "
            f"{change.new_cognito_user_id} (by {change.matched_by})",
        )
    for skip in result.skipped:
        _say(prod, f"skipped Cognito user {skip.cognito_username}: {skip.reason}")
    _say(prod, f"{len(result.changed)} changed, {result.unchanged} already linked")


# --- the private cluster ----------------------------------------------------------------------------


@db.group()
def local() -> None:
    """The private PostgreSQL cluster of local runs (used when CONNECTION_URL is unset)."""


def _cluster(data_dir: Path | None) -> PrivatePostgres:
    settings = Settings.from_env()
    return PrivatePostgres(data_dir) if data_dir else PrivatePostgres.for_settings(settings)


_dir_option = click.option(
    "--dir",
    "base_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Cluster folder (default: $CRUDDUR_DATA_DIR/postgres, i.e. .data/postgres).",
)


@local.command("start")
@_dir_option
@db_errors
def local_start(base_dir: Path | None) -> None:
    """Start the private cluster (initialising it, installing PostgreSQL if needed); idempotent."""
    status = _cluster(base_dir).start()
    console.print(f"PostgreSQL is running (pid {status.pid}, as {status.os_user})")
    console.print(f"CONNECTION_URL={status.url}")


@local.command("stop")
@_dir_option
@db_errors
def local_stop(base_dir: Path | None) -> None:
    """Stop the private cluster; idempotent."""
    stopped = _cluster(base_dir).stop()
    console.print("PostgreSQL stopped" if stopped else "PostgreSQL was not running")


@local.command("status")
@_dir_option
@db_errors
def local_status(base_dir: Path | None) -> None:
    """Say whether the private cluster runs; exit 1 when it does not."""
    status = _cluster(base_dir).status()
    if status.running:
        console.print(f"PostgreSQL is running (pid {status.pid}, as {status.os_user})")
        console.print(f"CONNECTION_URL={status.url}")
        return
    console.print(f"PostgreSQL is not running (data in {status.data_dir})")
    raise SystemExit(1)


COMMANDS = [db]
