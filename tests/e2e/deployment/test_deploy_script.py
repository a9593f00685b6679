"""`bin/deploy --dry-run` as an operator runs it on a machine without AWS credentials: one line
saying what it needs, a non-zero exit, nothing built."""

from __future__ import annotations

import os
import subprocess

from cruddur.config import project_root


def test_bin_deploy_without_credentials_says_what_it_needs_in_one_line(tmp_path):
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("AWS_") and key not in ("PYTHONPATH",)
    }
    env.update(
        {
            "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-credentials"),
            "AWS_CONFIG_FILE": str(tmp_path / "no-config"),
            "AWS_EC2_METADATA_DISABLED": "true",  # no instance role to find on a test machine
        }
    )

    done = subprocess.run(
        [
            str(project_root() / "bin" / "deploy"),
            "--bucket",
            "my-artifacts",
            "--dry-run",
            "--output-dir",
            str(tmp_path / "dist"),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )

    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr.splitlines() == [
        "Error: cruddur deploy needs AWS credentials: set AWS_PROFILE (or AWS_ACCESS_KEY_ID and "
        "AWS_SECRET_ACCESS_KEY) and AWS_DEFAULT_REGION, or run where a role provides them"
    ]
    assert not (tmp_path / "dist").exists()
