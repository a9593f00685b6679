"""`cruddur stream-worker` and `cruddur lambda package`: the two runners of the stream processor."""

from __future__ import annotations

import logging
import signal
import threading
from dataclasses import replace
from pathlib import Path
from types import FrameType

import click

from cruddur import bootstrap
from cruddur.cli.common import one_line_errors
from cruddur.config import Settings, project_root
from cruddur.deployment.packaging import (
    STREAM_PROCESSOR_HANDLER,
    STREAM_PROCESSOR_ZIP_NAME,
    build_stream_processor_zip,
)
from cruddur.streams.checkpoints import WorkerAlreadyRunning
from cruddur.streams.worker import WorkerConfig

_defaults = WorkerConfig()


@click.command("stream-worker")
@click.option("--table", default=None, help="Table whose stream to read [env DDB_MESSAGE_TABLE].")
@click.option(
    "--endpoint-url",
    default=None,
    help="DynamoDB (and Streams) endpoint, e.g. http://localhost:8000 "
    "[env AWS_ENDPOINT_URL_DYNAMODB; unset: AWS].",
)
@click.option(
    "--poll-interval",
    type=float,
    default=_defaults.poll_interval_seconds,
    show_default=True,
    help="Seconds between polls of a shard with nothing new.",
)
@click.option(
    "--batch-window",
    type=click.FloatRange(0, 10),
    default=_defaults.batch_window_seconds,
    show_default=True,
    help="Seconds before the next poll while records keep coming (they are applied together).",
)
@click.option(
    "--batch-size",
    type=click.IntRange(1, 1000),
    default=_defaults.batch_size,
    show_default=True,
    help="Records per GetRecords call (one batch).",
)
@click.option(
    "--max-retries",
    type=click.IntRange(0, 100),
    default=_defaults.max_retries,
    show_default=True,
    help="Retries of a failing record before it goes to the dead-letter file.",
)
@click.option("--debug", is_flag=True, help="Log one line per batch.")
@one_line_errors
def stream_worker(
    table: str | None,
    endpoint_url: str | None,
    poll_interval: float,
    batch_window: float,
    batch_size: int,
    max_retries: int,
    debug: bool,
) -> None:
    """Move conversation rows to the latest message, reading the table's DynamoDB Stream.

    A service: it follows the configuration (AWS_ENDPOINT_URL_DYNAMODB[_STREAMS], DDB_MESSAGE_TABLE)
    and talks to AWS when no endpoint is set; locally, `cruddur dev` sets the endpoint. Checkpoints
    and the dead-letter file live under CRUDDUR_DATA_DIR/streams/ (default .data/streams/).
    Stops cleanly on SIGTERM or Ctrl-C.
    """
    logging.basicConfig(
        level=logging.DEBUG if debug else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    if not debug:
        # botocore's own debug chatter is not ours to show; our batch line is enough
        logging.getLogger("botocore").setLevel(logging.WARNING)
    settings = Settings.from_env()
    if table:
        settings = replace(settings, table_name=table)
    if endpoint_url:
        settings = replace(
            settings, dynamodb_endpoint_url=endpoint_url, dynamodb_streams_endpoint_url=endpoint_url
        )
    config = replace(
        _defaults,
        poll_interval_seconds=poll_interval,
        batch_window_seconds=batch_window,
        batch_size=batch_size,
        max_retries=max_retries,
    )
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        worker = bootstrap.stream_worker(settings, config, stop)
        worker.checkpoints.acquire()
    except WorkerAlreadyRunning as exc:
        raise click.ClickException(str(exc)) from exc
    where = settings.dynamodb_streams_endpoint_url or f"AWS {settings.region}"
    click.echo(
        f"stream-worker: table {settings.table_name} at {where}; "
        f"checkpoints in {worker.checkpoints.path}",
        err=True,
    )
    try:
        worker.run()
    finally:
        worker.checkpoints.release()
    click.echo(
        f"stream-worker: stopped after {worker.records_seen} records in {worker.batches} batches",
        err=True,
    )


@click.group("lambda")
def lambda_group() -> None:
    """The stream processor as an AWS Lambda function."""


@lambda_group.command("package")
@click.option(
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help=f"Where to write the zip [default: dist/{STREAM_PROCESSOR_ZIP_NAME}].",
)
@one_line_errors
def package(output: Path | None) -> None:
    """Build the deployable zip (handler cruddur.streams.lambda_handler.handler, runtime python3.11+)."""
    target = output or project_root() / "dist" / STREAM_PROCESSOR_ZIP_NAME
    build_stream_processor_zip(target)
    click.echo(f"{target} ({target.stat().st_size} bytes), handler {STREAM_PROCESSOR_HANDLER}")


COMMANDS = [stream_worker, lambda_group]
