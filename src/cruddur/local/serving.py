"""`cruddur serve` started as a child process on a free loopback port: the one way the end-to-end
tests and the benches run the API for real (gunicorn, its workers, the serving model), so the
environment a served API gets is built in one place."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from cruddur.config import Settings
from cruddur.local.processes import EngineError, free_port, port_open, terminate, wait_until

STARTUP_SECONDS = 30.0
STOP_SECONDS = 30.0
# Variables of the caller that would point the child elsewhere than `settings` says.
_INHERITED_PREFIXES = ("AWS_", "CRUDDUR_", "DDB_", "CONNECTION_URL", "REDIS_URL")
# Volume, not abuse: a served API for tests and benches has the rate limits (on by default for
# `cruddur serve`) off unless the caller turns one on through `extra_env`.
NO_RATE_LIMITS = {
    "RATE_LIMIT_SENDS_PER_MINUTE": "0",
    "RATE_LIMIT_NEW_CONVERSATIONS_PER_HOUR": "0",
    "RATE_LIMIT_SIGNIN_PER_MINUTE": "0",
}


class ServeFailed(EngineError):
    """`cruddur serve` exited or did not listen in time; the message ends with its log."""


@dataclass(frozen=True)
class ServedApi:
    base_url: str
    port: int
    process: subprocess.Popen[bytes]  # the gunicorn arbiter (its workers are its children)
    log_path: Path


def serve_environment(
    settings: Settings, postgres_url: str, data_dir: Path, extra_env: dict[str, str]
) -> dict[str, str]:
    """The child's environment: this process's without anything naming an engine, then the
    engines of `settings` (REDIS_URL when it has one), no rate limits, then `extra_env`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(_INHERITED_PREFIXES)}
    env.update(
        AWS_ENDPOINT_URL_DYNAMODB=settings.dynamodb_endpoint_url or "",
        AWS_ENDPOINT_URL_DYNAMODB_STREAMS=settings.dynamodb_streams_endpoint_url or "",
        AWS_DEFAULT_REGION=settings.region,
        DDB_MESSAGE_TABLE=settings.table_name,
        CONNECTION_URL=postgres_url,
        CRUDDUR_DATA_DIR=str(data_dir),
        **NO_RATE_LIMITS,
    )
    if settings.redis_url:
        env["REDIS_URL"] = settings.redis_url
    env.update(extra_env)
    return env


@contextmanager
def served_api(
    settings: Settings,
    postgres_url: str,
    data_dir: Path,
    *,
    workers: int | None = None,
    threads: int | None = None,
    log_name: str = "gunicorn.log",
    ready: Callable[[str], bool] | None = None,
    **extra_env: str,
) -> Iterator[ServedApi]:
    """`cruddur serve` on a free loopback port with `settings`' table and endpoints, the users
    database at `postgres_url` and a data directory of its own (serve makes its signing key
    there), its output in `data_dir/log_name`. `workers`/`threads` None: serve's defaults (the
    production serving model). Ready once the port listens and `ready(base_url)` holds (when
    given); raises ServeFailed otherwise. Stopped (SIGTERM, then SIGKILL) at the end."""
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    data_dir.mkdir(parents=True, exist_ok=True)
    log_path = data_dir / log_name
    argv = [sys.executable, "-c", "from cruddur.cli import main; main()", "serve"]
    argv += ["--port", str(port)]
    if workers is not None:
        argv += ["--workers", str(workers)]
    if threads is not None:
        argv += ["--threads", str(threads)]
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            argv,
            env=serve_environment(settings, postgres_url, data_dir, extra_env),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # its own process group: terminate() stops the workers too
        )
        try:

            def up() -> bool:
                if process.poll() is not None:
                    return True  # exited: stop waiting, reported below
                return port_open(port) and (ready is None or ready(base_url))

            wait_until(up, STARTUP_SECONDS, 0.1)
            if process.poll() is not None or not port_open(port):
                log.flush()
                raise ServeFailed(f"cruddur serve did not start:\n{log_path.read_text()[-4000:]}")
            if ready is not None and not ready(base_url):
                log.flush()
                raise ServeFailed(f"cruddur serve is not ready:\n{log_path.read_text()[-4000:]}")
            yield ServedApi(base_url, port, process, log_path)
        finally:
            terminate(process.pid)
            try:
                process.wait(timeout=STOP_SECONDS)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)
