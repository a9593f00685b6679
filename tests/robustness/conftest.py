"""The robustness suite: real engines and real processes (`cruddur serve`, `cruddur stream-worker`,
DynamoDB Local on disk, a private PostgreSQL, a private Redis) stopped, killed and restarted under
load.

Two sizes. `make test` runs the bounded form (small loads, SIGKILL only for DynamoDB Local);
`make robustness` sets CRUDDUR_ROBUSTNESS=long and runs the same scenarios at the sizes of the
issue (8 clients x 500 sends, longer outages, SIGTERM and SIGKILL). Figures (how many 503s, how long they took,
how long recovery took) are printed, never asserted: timing belongs to bench/."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest

from cruddur.aws import dynamodb_client
from cruddur.config import Settings, project_root
from cruddur.local.dynamodb import DynamoDBLocal
from cruddur.local.processes import free_port, process_alive, read_pid, wait_until
from cruddur.messaging import schema
from cruddur.messaging.errors import TableExists
from cruddur.messaging.repository import DynamoMessageRepository
from fixtures_api import ApiClient, ApiResponse
from fixtures_streams import assert_one_row_each, poll_until, rows_at

LONG = os.environ.get("CRUDDUR_ROBUSTNESS") == "long"


@dataclass(frozen=True)
class Sizes:
    clients: int  # concurrent senders into one group
    sends_per_client: int
    burst_clients: int  # senders while the stream worker is killed
    burst_sends_per_client: int
    outage_answers: int  # answers to collect while an engine is down
    pagination_groups: int
    pagination_messages: int


SIZES = (
    Sizes(
        clients=8,
        sends_per_client=500,
        burst_clients=8,
        burst_sends_per_client=100,
        outage_answers=100,
        pagination_groups=60,
        pagination_messages=400,
    )
    if LONG
    else Sizes(
        clients=4,
        sends_per_client=30,
        burst_clients=4,
        burst_sends_per_client=20,
        outage_answers=12,
        pagination_groups=9,
        pagination_messages=30,
    )
)

# Deadlines (never measurements): generous, for a loaded 2-core CI machine.
RECOVERY_DEADLINE = 90.0
CATCH_UP_DEADLINE = 120.0 if LONG else 60.0


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


# --- DynamoDB Local on disk ---------------------------------------------------------------------


@dataclass
class DiskDynamoDB:
    """DynamoDB Local with `-dbPath` under the test's folder, on a port of its own that stays the
    same across a kill and a restart."""

    engine: DynamoDBLocal

    @property
    def endpoint_url(self) -> str:
        return self.engine.endpoint_url

    def kill(self, sig: signal.Signals) -> None:
        """Send `sig` to the engine's process group and wait for it to be gone."""
        pid = read_pid(self.engine.pid_file)
        assert pid is not None and process_alive(pid), "DynamoDB Local is not running"
        os.killpg(pid, sig)
        assert wait_until(lambda: not process_alive(pid), timeout=60), f"{sig.name} ignored"
        self.engine.pid_file.unlink(missing_ok=True)

    def restart(self) -> None:
        self.engine.start()


@pytest.fixture
def disk_dynamodb(tmp_path: Path) -> Iterator[DiskDynamoDB]:
    engine = DynamoDBLocal(project_root(), tmp_path / "ddb", port=free_port(), in_memory=False)
    engine.start()
    try:
        yield DiskDynamoDB(engine)
    finally:
        engine.stop()


@pytest.fixture
def disk_settings(base_settings: Settings, disk_dynamodb: DiskDynamoDB, tmp_path: Path) -> Settings:
    """Settings on the on-disk engine, with a messages table created there."""
    table = f"cruddur-robust-{uuid.uuid4().hex[:8]}"
    settings = replace(
        base_settings,
        dynamodb_endpoint_url=disk_dynamodb.endpoint_url,
        dynamodb_streams_endpoint_url=disk_dynamodb.endpoint_url,
        table_name=table,
        data_dir=tmp_path / "data",
    )
    client = dynamodb_client(settings)
    try:
        schema.create_table(client, table)
    except TableExists:
        # a cold engine on a loaded machine can miss the 3 s read timeout on its first
        # CreateTable; botocore's retry then finds the table our first attempt made
        client.get_waiter("table_exists").wait(TableName=table)
    return settings


def repository(settings: Settings) -> DynamoMessageRepository:
    return DynamoMessageRepository(dynamodb_client(settings), settings.table_name)


# --- the stream worker as a process -------------------------------------------------------------


@contextmanager
def stream_worker_process(
    settings: Settings, data_dir: Path, **extra_env: str
) -> Iterator[subprocess.Popen]:
    """`cruddur stream-worker` on `settings`' table, checkpoints under `data_dir`; its output goes
    to `data_dir/worker-<n>.log` (a pipe nobody reads would stall it). SIGTERM at the end unless
    the test killed it already."""
    data_dir.mkdir(parents=True, exist_ok=True)
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AWS_", "CRUDDUR_", "DDB_", "REDIS_URL"))
    }
    env.update(
        AWS_ENDPOINT_URL_DYNAMODB=settings.dynamodb_endpoint_url or "",
        AWS_ENDPOINT_URL_DYNAMODB_STREAMS=settings.dynamodb_streams_endpoint_url or "",
        AWS_DEFAULT_REGION=settings.region,
        DDB_MESSAGE_TABLE=settings.table_name,
        CRUDDUR_DATA_DIR=str(data_dir),
        **extra_env,
    )
    log_path = data_dir / f"worker-{len(list(data_dir.glob('worker-*.log')))}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-c", "from cruddur.cli import main; main()", "stream-worker"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            yield process
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(timeout=10)


def checkpoint_path(settings: Settings, data_dir: Path) -> Path:
    return data_dir / "streams" / f"{settings.table_name}.checkpoints.json"


# --- load ---------------------------------------------------------------------------------------


@dataclass
class Answer:
    text: str
    status: int
    errors: list[str]
    retry_after: str | None
    seconds: float
    message_uuid: str | None


@dataclass
class SendLoad:
    """Clients sending into one group in threads, each answer recorded. A client honours
    Retry-After (waits that long, or until stopped) as a well-behaved one would."""

    clients: list[ApiClient]
    group_uuid: str
    sends_per_client: int | None  # None: until stopped
    answers: list[Answer] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _threads: list[threading.Thread] = field(default_factory=list)
    tag: str = field(default_factory=lambda: uuid.uuid4().hex[:6])

    def _run(self, index: int, client: ApiClient) -> None:
        n = 0
        while not self.stop.is_set() and (
            self.sends_per_client is None or n < self.sends_per_client
        ):
            text = f"{self.tag} client {index} send {n}"
            started = time.monotonic()
            try:
                response = client.send_to_group(self.group_uuid, text)
            except OSError as exc:  # the API itself must always answer: recorded, test fails
                response = ApiResponse(0, {"errors": [f"no answer: {exc}"]})
            answer = Answer(
                text=text,
                status=response.status,
                errors=response.errors,
                retry_after=response.header("Retry-After"),
                seconds=time.monotonic() - started,
                message_uuid=response.body.get("uuid") if response.status == 200 else None,
            )
            with self._lock:
                self.answers.append(answer)
            n += 1
            if answer.status != 200 and answer.retry_after:
                self.stop.wait(float(answer.retry_after))

    def start(self) -> SendLoad:
        for index, client in enumerate(self.clients):
            thread = threading.Thread(target=self._run, args=(index, client), daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def finish(self, timeout: float = 600.0) -> None:
        """Wait for every client to end (a bounded load ends by itself; an open one is stopped)."""
        if self.sends_per_client is None:
            self.stop.set()
        for thread in self._threads:
            thread.join(timeout)
            assert not thread.is_alive(), "a client is still sending"

    def snapshot(self) -> list[Answer]:
        with self._lock:
            return list(self.answers)

    def acknowledged(self) -> list[Answer]:
        return [a for a in self.snapshot() if a.status == 200]


def assert_only_200_or_503_with_retry_after(answers: list[Answer]) -> None:
    """No 500, no connection the API dropped: a send is stored (200) or told to come back."""
    wrong = [a for a in answers if a.status not in (200, 503)]
    assert not wrong, wrong[:5]
    unavailable = [a for a in answers if a.status == 503]
    assert all(a.retry_after for a in unavailable), [a for a in unavailable if not a.retry_after][
        :5
    ]
    assert all(a.errors in (["service_unavailable"], ["try_again"]) for a in unavailable), (
        unavailable[:5]
    )


def print_figures(title: str, **figures: Any) -> None:
    print(f"\n[robustness] {title}: " + ", ".join(f"{k}={v}" for k, v in figures.items()))


# --- what the table holds -----------------------------------------------------------------------


def stored_texts(settings: Settings, group_uuid: str) -> list[str]:
    """The texts of every message stored in the group, read from the table (not the API)."""
    return [m.text for m in repository(settings).all_messages(group_uuid)]


def members_at_newest(settings: Settings, group_uuid: str, member_uuids: list[str]) -> bool:
    """Every member has exactly one conversation row for the group, showing its newest message."""
    repo = repository(settings)
    stored = list(repo.all_messages(group_uuid))
    if not stored:
        return False
    newest = max(stored, key=lambda m: m.sk)
    return rows_at(repo, {group_uuid: newest}, {group_uuid: member_uuids})


def assert_members_reach_newest(
    settings: Settings, group_uuid: str, member_uuids: list[str], timeout: float
) -> float:
    """Poll (deadline `timeout`) until every member's one row shows the newest message; how long
    it took (a figure to print)."""
    started = time.monotonic()
    assert poll_until(
        lambda: members_at_newest(settings, group_uuid, member_uuids), timeout=timeout
    ), "the conversation rows did not reach the newest message"
    repo = repository(settings)
    assert_one_row_each(repo)
    return time.monotonic() - started
