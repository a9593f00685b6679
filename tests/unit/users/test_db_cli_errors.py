"""The tool-kit's one-line report of a users store that does not answer: the store's facts plus
the CLI's own advice, local or --prod. No server: a private cluster that was never started."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from cruddur.cli import cli
from cruddur.cli.common import hint_for
from cruddur.users.errors import UsersUnavailable


def test_a_stopped_private_cluster_is_one_line_saying_how_to_start_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CONNECTION_URL", raising=False)
    monkeypatch.delenv("PROD_CONNECTION_URL", raising=False)
    monkeypatch.setenv("CRUDDUR_DATA_DIR", str(tmp_path))

    result = CliRunner().invoke(cli, ["db", "sessions"])

    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert "the private PostgreSQL is not running" in lines[0]
    assert "start the private cluster with `cruddur db local start`" in lines[0]


def test_the_cli_advice_follows_whether_it_was_prod() -> None:
    local = UsersUnavailable("postgresql://u:***@h/db", "connection refused")
    prod = UsersUnavailable("postgresql://u:***@rds/db", "connection refused", prod=True)

    assert "cruddur db local start" in (hint_for(local) or "")
    assert "PROD_CONNECTION_URL" in (hint_for(prod) or "")
    assert "cruddur db local start" not in (hint_for(prod) or "")
