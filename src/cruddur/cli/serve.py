"""`cruddur serve`: the HTTP API under gunicorn, its engines taken from the configuration."""

from __future__ import annotations

import os
import sys

import click

from cruddur.cli.common import one_line_errors
from cruddur.config import DEFAULT_API_PORT, Settings

WSGI_APP = "cruddur.api.wsgi:app"
# The serving model (README "Serving model"): gunicorn's threaded worker with a request deadline
# and a send deadline (cruddur.live.gunicorn_worker). Every open event stream holds a thread, so a
# worker runs many; it accepts a connection only while one of its threads is free.
WORKER_CLASS = "cruddur.live.gunicorn_worker.StreamingThreadWorker"
# Imports the workers' modules in the arbiter, before it forks them (memory shared, not copied).
GUNICORN_CONFIG = "python:cruddur.api.gunicorn_conf"
DEFAULT_THREADS = 256
MAX_THREADS = 1024
MAX_DEFAULT_WORKERS = 8
# seconds an idle kept-alive connection stays open; a worker stops if it has not told the arbiter
# it is alive for TIMEOUT; a stop waits GRACEFUL_TIMEOUT for requests in flight (event streams end
# at their next wake-up, within 5 s)
KEEPALIVE_SECONDS = 5
TIMEOUT_SECONDS = 30
GRACEFUL_TIMEOUT_SECONDS = 10


def default_workers() -> int:
    """One worker per CPU (threads cover the I/O waits), at most MAX_DEFAULT_WORKERS."""
    return max(1, min(os.cpu_count() or 1, MAX_DEFAULT_WORKERS))


def _gunicorn_has_option(flag: str) -> bool:
    import gunicorn.config

    return any(flag in (setting.cli or []) for setting in gunicorn.config.KNOWN_SETTINGS)


def gunicorn_argv(host: str, port: int, workers: int, threads: int) -> list[str]:
    # Newer gunicorn opens a control socket at one fixed path per user; two servers on one machine
    # (a test run beside a dev server) would take it from each other. We do not use it.
    extra = ["--no-control-socket"] if _gunicorn_has_option("--no-control-socket") else []
    return [
        sys.executable,
        "-m",
        "gunicorn",
        "--bind",
        f"{host}:{port}",
        "--workers",
        str(workers),
        "--threads",
        str(threads),
        "--worker-class",
        WORKER_CLASS,
        # no more connections than threads: a busy worker leaves new ones to the others
        "--worker-connections",
        str(threads),
        "--keep-alive",
        str(KEEPALIVE_SECONDS),
        "--timeout",
        str(TIMEOUT_SECONDS),
        "--graceful-timeout",
        str(GRACEFUL_TIMEOUT_SECONDS),
        # The app logs one JSON line per request itself, with its request id.
        "--error-logfile",
        "-",
        "--config",
        GUNICORN_CONFIG,
        *extra,
        WSGI_APP,
    ]


def prepare(settings: Settings) -> dict[str, str]:
    """Everything that must happen once, before any worker starts; returns the workers' environment.

    The local signing key is created here, by one process, so workers never race to create it.
    The PostgreSQL URL is resolved here too: a private cluster that is down is one readable line
    now rather than a failed boot in every worker."""
    from cruddur.auth.keys import ensure_signing_key
    from cruddur.bootstrap import local_connection_url

    env = dict(os.environ)
    if settings.uses_local_identity_provider:
        ensure_signing_key(settings.data_dir)
        env.setdefault("CRUDDUR_DATA_DIR", str(settings.data_dir))
    env["CONNECTION_URL"] = local_connection_url(settings, start=False)
    return env


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port",
    type=click.IntRange(1, 65535),
    default=DEFAULT_API_PORT,
    show_default=True,
    help="Port to listen on (the seed's backend port; 8000 is DynamoDB Local's).",
)
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=None,
    help=f"Worker processes [default: one per CPU, at most {MAX_DEFAULT_WORKERS}].",
)
@click.option(
    "--threads",
    type=click.IntRange(1, MAX_THREADS),
    default=DEFAULT_THREADS,
    show_default=True,
    help="Threads per worker: requests and open event streams it serves at once.",
)
@one_line_errors
def serve(host: str, port: int, workers: int | None, threads: int) -> None:
    """Serve the HTTP API with gunicorn (DynamoDB, PostgreSQL and Cognito from the environment)."""
    settings = Settings.from_env()
    env = prepare(settings)
    workers = workers or default_workers()
    where = settings.dynamodb_endpoint_url or f"AWS ({settings.region})"
    click.echo(
        f"Serving the API on http://{host}:{port} ({workers} workers x {threads} threads); "
        f"DynamoDB: {where}, table {settings.table_name}",
        err=True,
    )
    if settings.uses_local_identity_provider:
        click.echo(
            f"Local sign-in: curl -s -X POST http://{host}:{port}/api/auth/token "
            "-H 'Content-Type: application/json' "
            '-d \'{"handle": "andrewbrown", "password": "<CRUDDUR_SEED_PASSWORD>"}\'',
            err=True,
        )
    argv = gunicorn_argv(host, port, workers, threads)
    sys.stderr.flush()
    os.execve(argv[0], argv, env)


COMMANDS = [serve]
