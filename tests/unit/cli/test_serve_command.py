"""`cruddur serve`: what it prepares before gunicorn starts, and how it fails."""

from __future__ import annotations

from click.testing import CliRunner

from cruddur.auth.keys import signing_key_path
from cruddur.cli import cli
from cruddur.cli.serve import WSGI_APP, default_workers, gunicorn_argv


def test_serve_without_postgresql_fails_in_one_line_after_making_the_key(tmp_path):
    env = {
        "CRUDDUR_DATA_DIR": str(tmp_path),
        "CONNECTION_URL": "",
        "AWS_COGNITO_USER_POOL_ID": "",
        "AWS_COGNITO_USER_POOL_CLIENT_ID": "",
    }

    result = CliRunner().invoke(cli, ["serve", "--port", "1"], env=env)

    assert result.exit_code == 1
    assert result.output.strip().startswith("Error: PostgreSQL")
    assert len(result.output.strip().splitlines()) == 1
    assert signing_key_path(tmp_path).exists()


def test_serve_makes_no_local_key_when_cognito_is_configured(tmp_path):
    env = {
        "CRUDDUR_DATA_DIR": str(tmp_path),
        "CONNECTION_URL": "",
        "AWS_COGNITO_USER_POOL_ID": "us-east-1_pool",
        "AWS_COGNITO_USER_POOL_CLIENT_ID": "client",
    }

    result = CliRunner().invoke(cli, ["serve"], env=env)

    # It got past the key step and stopped at the next one (PostgreSQL), with its one-line error:
    # no key because Cognito is configured, not because it failed earlier or served.
    assert result.exit_code == 1, result.output
    assert result.output.strip().startswith("Error: PostgreSQL")
    assert len(result.output.strip().splitlines()) == 1
    assert not signing_key_path(tmp_path).exists()


def test_gunicorn_is_told_where_and_how_much():
    argv = gunicorn_argv("0.0.0.0", 4567, 3, 6)

    assert argv[1:3] == ["-m", "gunicorn"]
    assert argv[argv.index("--bind") + 1] == "0.0.0.0:4567"
    assert argv[argv.index("--workers") + 1] == "3"
    assert argv[argv.index("--threads") + 1] == "6"
    assert argv[-1] == WSGI_APP
    assert 1 <= default_workers() <= 8


def test_serve_options_are_documented():
    result = CliRunner().invoke(cli, ["serve", "--help"])

    for option in ("--host", "--port", "--workers", "--threads", "4567"):
        assert option in result.output
