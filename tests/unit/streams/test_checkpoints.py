"""Worker checkpoints on disk: one stream, one worker; and the stream package formats no key itself."""

from __future__ import annotations

from pathlib import Path

import pytest

from cruddur.messaging import keys
from cruddur.streams.checkpoints import CheckpointStore, WorkerAlreadyRunning


def test_checkpoints_belong_to_one_stream_and_one_worker(tmp_path: Path):
    first = CheckpointStore(tmp_path, "cruddur-messages")
    first.load("arn:stream/1")
    first.advance("shard-a", "000042")
    first.finish("shard-a")

    again = CheckpointStore(tmp_path, "cruddur-messages")
    again.load("arn:stream/1")
    assert again.position("shard-a") == "000042" and again.finished() == {"shard-a"}
    recreated = CheckpointStore(tmp_path, "cruddur-messages")
    recreated.load("arn:stream/2")  # the table was dropped and created again
    assert recreated.position("shard-a") is None

    first.acquire()
    try:
        with pytest.raises(WorkerAlreadyRunning):
            again.acquire()
    finally:
        first.release()
    again.acquire()
    again.release()


def test_keys_module_is_the_only_formatter_used():
    """The stream package builds no key by hand (STYLE: keys.py formats MSG#/GRP#)."""
    package = Path(keys.__file__).resolve().parents[1] / "streams"
    for path in package.glob("*.py"):
        text = path.read_text()
        assert '"MSG#' not in text and '"GRP#' not in text and 'f"GRP#' not in text, path
