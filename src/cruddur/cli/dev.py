"""`cruddur dev`: the README's run command. Brings up every local engine with embedded defaults
(a private PostgreSQL and Redis unless CONNECTION_URL and REDIS_URL name others), loads both
schemas, seeds both stores, then runs the stream worker beside the API."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from dataclasses import replace
from urllib.parse import urlparse

import click
from botocore.exceptions import BotoCoreError, ClientError

from cruddur.aws import dynamodb_client
from cruddur.cli.common import fail, one_line_errors
from cruddur.config import (
    DEFAULT_API_PORT,
    DEFAULT_LOCAL_DYNAMODB_PORT,
    DEFAULT_LOCAL_DYNAMODB_URL,
    DEFAULT_SEED_PASSWORD,
    Settings,
    project_root,
)
from cruddur.local.dynamodb import DynamoDBLocal
from cruddur.local.processes import EngineError, terminate


def _local_dynamodb(settings: Settings) -> str:
    """The configured endpoint, or DynamoDB Local on :8000 (started when it is ours to start)."""
    endpoint = settings.dynamodb_endpoint_url or DEFAULT_LOCAL_DYNAMODB_URL
    parsed = urlparse(endpoint)
    if parsed.hostname not in ("localhost", "127.0.0.1", "::1"):
        return endpoint  # someone else's engine: use it as configured
    engine = DynamoDBLocal(
        project_root(), settings.data_dir, port=parsed.port or DEFAULT_LOCAL_DYNAMODB_PORT
    )
    try:
        status = engine.start()
    except EngineError:
        # Another DynamoDB Local (another checkout, the seed's docker-compose) already serves the
        # port: use it, the way the tool-kit would, rather than refuse to run.
        if not _answers_as_dynamodb(settings, endpoint):
            raise
        click.echo(f"DynamoDB: using the engine already answering at {endpoint}")
        return endpoint
    click.echo(f"DynamoDB Local: {status.endpoint_url} (data in {settings.data_dir / 'dynamodb'})")
    return endpoint


def _answers_as_dynamodb(settings: Settings, endpoint: str) -> bool:
    try:
        dynamodb_client(replace(settings, dynamodb_endpoint_url=endpoint)).list_tables(Limit=1)
    except (BotoCoreError, ClientError):
        return False
    return True


def _redis(settings: Settings) -> str:
    """REDIS_URL when set (nothing is started), else the private Redis under data_dir/redis."""
    from cruddur.bootstrap import local_redis_url

    url = local_redis_url(settings, start=True)
    if settings.redis_url:
        # Only where it is: a REDIS_URL may carry a password before the "@".
        where = urlparse(url).netloc.rpartition("@")[2]
        click.echo(f"Redis: using REDIS_URL{f' at {where}' if where else ''}")
    else:
        click.echo(f"Redis: {url} (private, data in {settings.data_dir / 'redis'})")
    return url


def _step(env: dict[str, str], *args: str) -> None:
    result = subprocess.run([sys.executable, "-m", "cruddur", *args], env=env, check=False)
    if result.returncode != 0:
        fail(f"`cruddur {' '.join(args)}` failed; see the line above")


@click.command("dev")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address the API listens on.")
@click.option("--port", default=DEFAULT_API_PORT, show_default=True, help="Port of the API.")
@click.option("--no-serve", is_flag=True, help="Set everything up and seed, then exit.")
@one_line_errors
def dev(host: str, port: int, no_serve: bool) -> None:
    """Run the whole service locally: DynamoDB Local, PostgreSQL, Redis, the stream worker and
    the API."""
    from cruddur.bootstrap import local_connection_url

    settings = Settings.from_env()
    endpoint = _local_dynamodb(settings)
    connection_url = local_connection_url(settings, start=True)
    redis_url = _redis(settings)
    env = dict(
        os.environ,
        AWS_ENDPOINT_URL_DYNAMODB=endpoint,
        AWS_ENDPOINT_URL_DYNAMODB_STREAMS=settings.dynamodb_streams_endpoint_url or endpoint,
        CONNECTION_URL=connection_url,
        REDIS_URL=redis_url,
    )
    _step(env, "ddb", "schema-load", "--if-not-exists")
    _step(env, "db", "schema-load")
    _step(env, "db", "seed")
    _step(env, "ddb", "seed")
    if no_serve:
        return

    worker = subprocess.Popen(
        [sys.executable, "-m", "cruddur", "stream-worker"], env=env, start_new_session=True
    )
    base = f"http://{host}:{port}"
    # The default password is documented for local use; a chosen one is never printed.
    password = (
        '"$CRUDDUR_SEED_PASSWORD"'
        if "CRUDDUR_SEED_PASSWORD" in os.environ
        else DEFAULT_SEED_PASSWORD
    )
    click.echo(
        f"\nOpen {base}/ in a browser and sign in as andrewbrown (or bayko, londo, gkar, delenn,\n"
        f"sheridan) with the password {password}.\n"
        "\nOr sign in as a seeded user and list their conversations:\n"
        f"  TOKEN=$(curl -s {base}/api/auth/token -H 'Content-Type: application/json' \\\n"
        f'    -d \'{{"handle": "andrewbrown", "password": "\'{password}\'"}}\' \\\n'
        "    | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"access_token\"])')\n"
        f'  curl -s {base}/api/message_groups -H "Authorization: Bearer $TOKEN"\n'
    )
    server = subprocess.Popen(
        [sys.executable, "-m", "cruddur", "serve", "--host", host, "--port", str(port)], env=env
    )

    def stop(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    # `kill` of the dev command stops what it started, as Ctrl-C does
    signal.signal(signal.SIGTERM, stop)
    try:
        server.wait()
    except KeyboardInterrupt:
        server.send_signal(signal.SIGTERM)
        server.wait()
    finally:
        terminate(worker.pid)
        # on purpose: the next `make dev` starts in seconds, with the data it left
        click.echo(
            "Engines left running (DynamoDB Local, PostgreSQL, Redis): `make clean` stops them."
        )


COMMANDS = [dev]
