"""Fixtures of the live delivery e2e tests: settings on the shared Redis (the cache's and the bus's
keys of this test's table removed afterwards) and the stream worker running in a thread."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import pytest

from cruddur.config import Settings
from cruddur.local.serving import ServeFailed, served_api


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
    given on the command line, unlike fixtures_api.serving), `workers` workers, rate limits off.
    Yields the base URL and the process (the gunicorn arbiter)."""
    try:
        with served_api(
            replace(settings, redis_url=None),
            postgres_url,
            data_dir,
            workers=workers,
            threads=threads,
            **extra_env,
        ) as served:
            yield served.base_url, served.process
    except ServeFailed as failed:
        pytest.fail(str(failed))
