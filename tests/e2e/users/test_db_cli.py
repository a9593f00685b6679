"""`cruddur db ...` and bin/db/*: CliRunner for the commands, subprocess for the executables."""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner

from cruddur.cli import cli
from cruddur.config import project_root
from cruddur.local.processes import free_port
from cruddur.users.db import (
    apply_migrations,
    create_database,
    create_pool,
    database_exists,
    database_name,
    drop_database,
    with_database,
)
from cruddur.users.repository import UserRepository
from cruddur.users.seed import DEMO_USERS

BIN = project_root() / "bin" / "db"


@pytest.fixture
def cli_url(postgres_server_url: str) -> Iterator[str]:
    """A database name of its own for one test (not created: the commands do that)."""
    url = with_database(postgres_server_url, f"cruddur_cli_{uuid.uuid4().hex[:10]}")
    yield url
    drop_database(url)


@pytest.fixture
def toolkit_env(cli_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    env = {
        "CONNECTION_URL": cli_url,
        "CRUDDUR_SEED_PASSWORD": "cli-seed-password",
        "CRUDDUR_DATA_DIR": str(tmp_path / "data"),
        "COLUMNS": "200",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("PROD_CONNECTION_URL", raising=False)
    return env


def run(*args: str, input: str | None = None):
    return CliRunner().invoke(cli, ["db", *args], input=input)


def count_users(url: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT count(*) FROM users").fetchone()
    assert row is not None
    return int(row[0])


def test_create_schema_load_seed_one_by_one(toolkit_env: dict[str, str], cli_url: str) -> None:
    created = run("create")
    created_again = run("create")
    loaded = run("schema-load")
    loaded_again = run("schema-load")
    seeded = run("seed")
    seeded_again = run("seed")

    assert created.exit_code == 0 and "created database" in created.output
    assert created_again.exit_code == 0 and "already exists" in created_again.output
    assert loaded.exit_code == 0, loaded.output
    assert (
        "applied 0001_users" in loaded.output and "applied 0002_user_credentials" in loaded.output
    )
    assert loaded_again.output.strip() == "schema is up to date"
    assert seeded.exit_code == 0, seeded.output
    assert "created @andrewbrown (Andrew Brown)" in seeded.output
    assert "exists  @andrewbrown" in seeded_again.output
    assert count_users(cli_url) == len(DEMO_USERS)
    pool = create_pool(cli_url, max_size=1)
    try:
        assert UserRepository(pool).verify_password("bayko", "cli-seed-password") is not None
    finally:
        pool.close()


def test_setup_drops_and_rebuilds(toolkit_env: dict[str, str], cli_url: str) -> None:
    first = run("setup")  # nothing to lose: no question
    with psycopg.connect(cli_url, autocommit=True) as conn:
        conn.execute("DELETE FROM users WHERE handle = 'bayko'")

    second = run("setup", "--yes")

    assert first.exit_code == 0, first.output
    assert "Drop and recreate" not in first.output
    assert second.exit_code == 0, second.output
    assert "dropped database" in second.output
    assert "Drop and recreate" not in second.output
    assert count_users(cli_url) == len(DEMO_USERS)


def database_with_users(url: str, *handles: str) -> None:
    """The database, its schema and these users (no passwords: quicker than `setup`'s seed)."""
    create_database(url)
    apply_migrations(url)
    pool = create_pool(url, max_size=1)
    try:
        for handle in handles:
            UserRepository(pool).create(handle, handle.title(), f"{handle}@example.com")
    finally:
        pool.close()


def test_setup_asks_first_when_the_database_holds_users(
    toolkit_env: dict[str, str], cli_url: str
) -> None:
    database_with_users(cli_url, "kept", "also_kept")
    expected_end = (
        f"Error: database {database_name(cli_url)} left as it was "
        "(pass --yes to set it up without asking)"
    )

    declined = run("setup", input="n\n")
    # bin/db/setup in a script: stdin closed, no one to answer, which is no
    unanswered = subprocess.run(
        [str(BIN / "setup")],
        env=dict(os.environ),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert declined.exit_code == 1
    assert "Its 2 users are lost" in declined.output
    assert declined.output.strip().endswith(expected_end)
    assert unanswered.returncode == 1, unanswered
    assert "Its 2 users are lost" in unanswered.stderr
    assert unanswered.stderr.strip().splitlines()[-1] == expected_end
    for output in (declined.output, unanswered.stderr):
        assert "Traceback" not in output and "Aborted" not in output
    assert count_users(cli_url) == 2  # nothing changed


def test_setup_on_prod_always_asks(
    toolkit_env: dict[str, str], cli_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PROD_CONNECTION_URL", cli_url)
    monkeypatch.setenv("CONNECTION_URL", "postgresql://nobody@127.0.0.1:1/never_used")

    declined = run("setup", "prod", input="n\n")  # no database yet: still asked
    assert declined.exit_code == 1
    assert "Drop and recreate database" in declined.output
    assert not database_exists(cli_url)

    accepted = run("setup", "--prod", input="y\n")
    assert accepted.exit_code == 0, accepted.output
    assert count_users(cli_url) == len(DEMO_USERS)


def test_drop_locally_does_not_ask(toolkit_env: dict[str, str], cli_url: str) -> None:
    run("create")

    dropped = run("drop")
    dropped_again = run("drop")

    assert dropped.exit_code == 0 and "dropped database" in dropped.output
    assert "does not exist" in dropped_again.output
    assert not database_exists(cli_url)


def test_drop_on_prod_asks_first(
    toolkit_env: dict[str, str], cli_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PROD_CONNECTION_URL", cli_url)
    monkeypatch.setenv("CONNECTION_URL", "postgresql://nobody@127.0.0.1:1/never_used")
    create_database(cli_url)

    declined = run("drop", "--prod", input="n\n")
    assert declined.exit_code == 1
    assert "Drop database" in declined.output
    assert database_exists(cli_url)

    accepted = run("drop", "prod", input="y\n")  # the seed's bare `prod` argument
    assert accepted.exit_code == 0, accepted.output
    assert not database_exists(cli_url)

    create_database(cli_url)
    unasked = run("drop", "--prod", "--yes")
    assert unasked.exit_code == 0 and "Drop database" not in unasked.output
    assert not database_exists(cli_url)


def test_prod_without_prod_connection_url_is_one_line(toolkit_env: dict[str, str]) -> None:
    result = run("schema-load", "prod")

    assert result.exit_code == 1
    assert result.output.strip() == "Error: PROD_CONNECTION_URL is not set; --prod needs it"


def test_only_prod_is_accepted_as_an_argument(toolkit_env: dict[str, str]) -> None:
    result = run("schema-load", "staging")

    assert result.exit_code == 2
    assert "only 'prod' is accepted" in result.output


def test_sessions_shows_open_connections(toolkit_env: dict[str, str], cli_url: str) -> None:
    create_database(cli_url)
    with psycopg.connect(cli_url, application_name="cli-sessions-probe"):
        result = run("sessions")

    assert result.exit_code == 0, result.output
    for column in ("pid", "user", "state", "query"):
        assert column in result.output
    assert "cli-sessions-probe" in result.output


def test_commands_against_a_server_that_is_down_say_so_in_one_line(
    tmp_path: Path,
) -> None:
    env = dict(
        os.environ,
        CONNECTION_URL=f"postgresql://postgres:hunter2@127.0.0.1:{free_port()}/cruddur",
        CRUDDUR_DATA_DIR=str(tmp_path),
    )
    for script in ("create", "schema-load", "seed", "sessions"):
        done = subprocess.run(
            [str(BIN / script)], env=env, capture_output=True, text=True, timeout=60
        )

        assert done.returncode == 1, done
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1, done.stderr
        assert "postgres:***@127.0.0.1" in lines[0]
        assert "cruddur db local start" in lines[0]
        assert "hunter2" not in done.stderr + done.stdout
        assert "Traceback" not in done.stderr


def test_connect_runs_psql_on_the_database(toolkit_env: dict[str, str], cli_url: str) -> None:
    create_database(cli_url)

    done = subprocess.run(
        [str(BIN / "connect"), "--command", "SELECT 40 + 2 AS answer, current_database()"],
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert done.returncode == 0, done.stderr
    assert "42" in done.stdout
    assert cli_url.rsplit("dbname=", 1)[-1].split()[0] in done.stdout


@pytest.mark.parametrize(
    ("script", "help_text"),
    [("setup", "drop, create, schema-load and seed"), ("update_cognito_user_ids", "Cognito")],
)
def test_a_seed_script_reaches_its_command(script: str, help_text: str) -> None:
    done = subprocess.run([str(BIN / script), "--help"], capture_output=True, text=True, timeout=60)

    assert done.returncode == 0, done.stderr
    assert help_text in " ".join(done.stdout.split())
    assert "[prod]" in done.stdout and "--prod" in done.stdout
