"""bin/db/*: every seed script execs its cruddur command (read, not run)."""

from __future__ import annotations

import os

from cruddur.config import project_root

BIN = project_root() / "bin" / "db"


SCRIPTS = {
    "create": "create",
    "drop": "drop",
    "schema-load": "schema-load",
    "seed": "seed",
    "connect": "connect",
    "sessions": "sessions",
    "setup": "setup",
    "update_cognito_user_ids": "update-cognito-user-ids",
}


def test_every_seed_script_execs_its_command() -> None:
    for script, command in SCRIPTS.items():
        path = BIN / script
        assert os.access(path, os.X_OK), path
        assert f'db {command} "$@"' in path.read_text()
