"""The engines a bench runs on, all on loopback and all torn down at the end: DynamoDB Local in
memory (the bench's own, on a free port), a throwaway users database on the machine's PostgreSQL
(else a private cluster), the machine's Redis (else a private one); and the small tools the
benches share (latency percentiles, work spread over threads)."""

from __future__ import annotations

import shutil
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
import redis

from cruddur.config import project_root
from cruddur.local.dynamodb import DynamoDBLocal
from cruddur.local.processes import free_port
from cruddur.users.db import apply_migrations, create_database, create_pool, drop_database
from cruddur.users.models import demo_user_uuid
from cruddur.users.repository import UserRepository
from cruddur.users.urls import with_database

MACHINE_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
MACHINE_REDIS_URL = "redis://127.0.0.1:6379/0"
BENCH_APPLICATION = "cruddur-bench"


@contextmanager
def dynamodb_local(tmp: Path) -> Iterator[DynamoDBLocal]:
    """DynamoDB Local in memory on a free port (the project's npm package of it)."""
    engine = DynamoDBLocal(project_root(), tmp / "dynamodb", port=free_port(), in_memory=True)
    engine.start()
    try:
        yield engine
    finally:
        engine.stop()


def postgres_answers(url: str) -> bool:
    try:
        with psycopg.connect(url, connect_timeout=2) as conn:
            conn.execute("SELECT 1")
        return True
    except psycopg.Error:
        return False


@contextmanager
def postgres_server() -> Iterator[tuple[str, str]]:
    """(maintenance URL, where) of the machine's PostgreSQL, else of a private cluster."""
    if postgres_answers(MACHINE_POSTGRES_URL):
        yield MACHINE_POSTGRES_URL, "machine 127.0.0.1:5432"
        return
    from cruddur.local.postgres import PrivatePostgres

    folder = Path(tempfile.mkdtemp(prefix="cruddur-bench-pg-"))
    folder.chmod(0o755)  # the cluster's unprivileged user must reach it when we run as root
    cluster = PrivatePostgres(folder / "postgres")
    try:
        cluster.start()
        yield cluster.maintenance_url, f"private cluster in {folder}"
    finally:
        cluster.stop()
        shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def users_database(
    server_url: str, password: str, handles: tuple[str, ...], prefix: str = "bench"
) -> Iterator[str]:
    """A migrated throwaway database `<prefix>_<random>` with `handles` (demo-style uuids,
    `password`), dropped at the end."""
    url = with_database(server_url, f"{prefix}_{uuid.uuid4().hex[:10]}")
    create_database(url)
    try:
        apply_migrations(url)
        pool = create_pool(url, min_size=1, max_size=2)
        try:
            users = UserRepository(pool)
            for handle in handles:
                user = users.create(
                    handle, handle.title(), f"{handle}@example.com", uuid=demo_user_uuid(handle)
                )
                users.set_password(user.uuid, password)
        finally:
            pool.close()
        # nothing left for autovacuum to do, whose reads would land in the figures
        with psycopg.connect(url, autocommit=True, application_name=BENCH_APPLICATION) as conn:
            conn.execute("VACUUM ANALYZE")
        yield url
    finally:
        drop_database(url)


def redis_answers(url: str) -> bool:
    try:
        client = redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except (redis.RedisError, OSError):
        return False


@contextmanager
def redis_server(tmp: Path) -> Iterator[tuple[str, str]]:
    """(URL, where) of the machine's Redis, else of a private one in `tmp`."""
    if redis_answers(MACHINE_REDIS_URL):
        yield MACHINE_REDIS_URL, "machine 127.0.0.1:6379"
        return
    from cruddur.local.redis import PrivateRedis

    server = PrivateRedis(tmp / "redis", port=free_port())
    try:
        status = server.start()
        yield status.url, f"private on port {status.port}"
    finally:
        server.stop()


def glob_escape(text: str) -> str:
    return "".join(f"\\{c}" if c in "*?[]\\" else c for c in text)


def forget_table_keys(redis_url: str, table: str) -> int:
    """Delete the cache's keys of `table` (prefix `cruddur:<table>:`) and nothing else."""
    client = redis.Redis.from_url(redis_url, socket_timeout=5, socket_connect_timeout=5)
    deleted = 0
    try:
        batch: list[bytes] = []
        for key in client.scan_iter(match=f"{glob_escape(f'cruddur:{table}:')}*", count=500):
            batch.append(key)
            if len(batch) >= 500:
                deleted += int(client.delete(*batch))
                batch = []
        if batch:
            deleted += int(client.delete(*batch))
    finally:
        client.close()
    return deleted


# --- figures and load -----------------------------------------------------------------------------


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))]


def latency_ms(values: list[float]) -> dict[str, float]:
    return {
        "n": len(values),
        "p50": round(percentile(values, 50) * 1000, 2),
        "p99": round(percentile(values, 99) * 1000, 2),
    }


def run_threads(
    threads: int, units: int, make_state: Callable[[], Any], do_unit: Callable[[Any, int], None]
) -> float:
    """`units` pieces of work over `threads` daemon threads, each with its own state (closed at
    the end when it has `close`); returns the wall time. The first error is raised once all have
    stopped; Ctrl-C stops them between pieces."""
    lock = threading.Lock()
    position = [0]
    errors: list[BaseException] = []
    abort = threading.Event()

    def loop() -> None:
        state = make_state()
        try:
            while not abort.is_set():
                with lock:
                    index = position[0]
                    position[0] += 1
                if index >= units:
                    return
                do_unit(state, index)
        except BaseException as exc:  # noqa: BLE001 - handed to the main thread
            errors.append(exc)
            abort.set()
        finally:
            close = getattr(state, "close", None)
            if close is not None:
                close()

    workers = [threading.Thread(target=loop, daemon=True) for _ in range(threads)]
    started = time.perf_counter()
    try:
        for worker in workers:
            worker.start()
        for worker in workers:
            while worker.is_alive():
                worker.join(timeout=0.2)
    except BaseException:
        abort.set()
        # let them finish the request in flight and close their connections, or the server's
        # graceful stop would wait for those
        deadline = time.monotonic() + 3
        for worker in workers:
            if worker.ident is not None:  # started
                worker.join(timeout=max(0.0, deadline - time.monotonic()))
        raise
    seconds = time.perf_counter() - started
    if errors:
        raise errors[0]
    return seconds
