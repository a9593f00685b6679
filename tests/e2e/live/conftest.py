"""Fixtures of the live delivery e2e tests: settings on the shared Redis (the cache's and the bus's
keys of this test's table removed afterwards) and the stream worker running in a thread."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from cruddur.config import Settings
from cruddur.local.processes import free_port, port_open, terminate, wait_until


@contextmanager
def serving_defaults(
    settings: Settings,
    postgres_url: str,
    data_dir: Path,
    workers: int = 2,
    threads: int | None = None,
    **extra_env: str,
) -> Iterator[tuple[str, subprocess.Popen]]:
    """`cruddur serve` with its default serving model (threads, worker class, timeouts: none
    given on the command line, unlike fixtures_api.serving), `workers` workers. Yields the base
    URL and the process (the gunicorn arbiter)."""
    port = free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AWS_", "CRUDDUR_", "DDB_", "CONNECTION_URL", "REDIS_URL"))
    }
    env.update(
        AWS_ENDPOINT_URL_DYNAMODB=settings.dynamodb_endpoint_url or "",
        AWS_ENDPOINT_URL_DYNAMODB_STREAMS=settings.dynamodb_streams_endpoint_url or "",
        AWS_DEFAULT_REGION=settings.region,
        DDB_MESSAGE_TABLE=settings.table_name,
        CONNECTION_URL=postgres_url,
        CRUDDUR_DATA_DIR=str(data_dir),
        # load, not abuse: the rate limits (on by default for `cruddur serve`) are off here
        RATE_LIMIT_SENDS_PER_MINUTE="0",
        RATE_LIMIT_NEW_CONVERSATIONS_PER_HOUR="0",
        RATE_LIMIT_SIGNIN_PER_MINUTE="0",
    )
    env.update(extra_env)
    data_dir.mkdir(parents=True, exist_ok=True)
    log_path = data_dir / "gunicorn.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "from cruddur.cli import main; main()",
                "serve",
                "--port",
                str(port),
                "--workers",
                str(workers),
                *(["--threads", str(threads)] if threads else []),
            ],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            started = wait_until(lambda: port_open(port) or process.poll() is not None, timeout=30)
            if not started or process.poll() is not None:
                log.flush()
                pytest.fail(f"cruddur serve did not start:\n{log_path.read_text()}")
            yield f"http://127.0.0.1:{port}", process
        finally:
            terminate(process.pid)
            process.wait(timeout=30)
