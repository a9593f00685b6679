"""Fixtures shared by the end-to-end tests that need Redis: settings on the shared server (the
cache's, sessions' and event bus's keys of the test's table removed afterwards) and the stream
worker running in a thread (it moves the conversation rows and publishes them)."""

from __future__ import annotations

import threading
from dataclasses import replace

import pytest

from cruddur.bootstrap import stream_worker
from cruddur.streams.worker import WorkerConfig
from fixtures_redis import delete_keys_with_prefix, redis_client


@pytest.fixture
def live_settings(settings, redis_server_url, tmp_path):
    shared = replace(settings, redis_url=redis_server_url, data_dir=tmp_path / "worker")
    yield shared
    with redis_client(redis_server_url) as client:
        delete_keys_with_prefix(client, f"cruddur:{settings.table_name}:")


@pytest.fixture
def worker(live_settings):
    stop = threading.Event()
    running = stream_worker(live_settings, WorkerConfig(poll_interval_seconds=0.05), stop)
    thread = threading.Thread(target=running.run, daemon=True)
    thread.start()
    yield running
    stop.set()
    thread.join(timeout=30)
