"""`cruddur stream-worker` and `cruddur lambda package`: the two runners of the stream processor."""

from __future__ import annotations

import importlib.util
import logging
import signal
import threading
import zipfile
from dataclasses import replace
from pathlib import Path
from types import FrameType

import click

from cruddur import bootstrap
from cruddur.cli.common import one_line_errors
from cruddur.config import Settings, project_root
from cruddur.streams.checkpoints import WorkerAlreadyRunning
from cruddur.streams.worker import WorkerConfig

LAMBDA_HANDLER = "cruddur.streams.lambda_handler.handler"
LAMBDA_ZIP_NAME = "cruddur-stream-processor.zip"
# What the handler imports; boto3/botocore come with the Lambda Python runtime.
LAMBDA_MODULES = (
    "__init__.py",
    "config.py",
    "aws.py",
    "bootstrap.py",
    "messaging",
    "streams",
    "cache/__init__.py",
    "cache/backend.py",
    "cache/codec.py",
    "cache/messaging.py",
    "cache/redis_backend.py",
    # live delivery: the moved rows published to the event bus (REDIS_URL)
    "live/__init__.py",
    "live/bus.py",
    "live/publishing.py",
    "live/shapes.py",
)
# Not in the Lambda Python runtime, and pure Python: shipped inside the zip (the cache of REDIS_URL).
VENDORED_PACKAGES = ("redis",)
# Fixed timestamps: the same source gives a byte-identical zip (and an unchanged code hash).
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)

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


def build_lambda_zip(output: Path, source: Path | None = None) -> Path:
    """Write the Lambda deployment zip of the stream processor to `output`: the `cruddur`
    modules the handler imports, no caches, fixed timestamps (same source, same bytes)."""
    package = source or Path(__file__).resolve().parents[1]
    files: list[tuple[Path, Path]] = []  # (file, its name in the zip)

    def add(path: Path, root: Path, under: Path) -> None:
        found = sorted(path.rglob("*.py")) if path.is_dir() else [path]
        files.extend(
            (p, under / p.relative_to(root)) for p in found if "__pycache__" not in p.parts
        )

    for name in LAMBDA_MODULES:
        add(package / name, package, Path("cruddur"))
    for vendored in VENDORED_PACKAGES:
        spec = importlib.util.find_spec(vendored)
        if spec is None or not spec.submodule_search_locations:
            raise click.ClickException(f"the package {vendored} is not installed")
        location = Path(next(iter(spec.submodule_search_locations)))
        add(location, location, Path(vendored))
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = output.with_name(output.name + ".tmp")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as archive:
        for path, arcname in sorted(files, key=lambda f: f[1]):
            info = zipfile.ZipInfo(arcname.as_posix(), date_time=_ZIP_DATE)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes())
    tmp.replace(output)
    return output


@click.group("lambda")
def lambda_group() -> None:
    """The stream processor as an AWS Lambda function."""


@lambda_group.command("package")
@click.option(
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help=f"Where to write the zip [default: dist/{LAMBDA_ZIP_NAME}].",
)
@one_line_errors
def package(output: Path | None) -> None:
    """Build the deployable zip (handler cruddur.streams.lambda_handler.handler, runtime python3.11+)."""
    target = output or project_root() / "dist" / LAMBDA_ZIP_NAME
    build_lambda_zip(target)
    click.echo(f"{target} ({target.stat().st_size} bytes), handler {LAMBDA_HANDLER}")


COMMANDS = [stream_worker, lambda_group]
