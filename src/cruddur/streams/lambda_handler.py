"""AWS Lambda entrypoint of the stream processor.

Handler path: `cruddur.streams.lambda_handler.handler` (docs/deployment.md has the event source
mapping settings; `cruddur lambda package` builds the zip). The function reads its table and
region from the usual environment (DDB_MESSAGE_TABLE, AWS_REGION) and answers the partial batch
response `{"batchItemFailures": [{"itemIdentifier": <SequenceNumber>}]}` (the mapping must enable
ReportBatchItemFailures), so only the records that failed, and those after them, are retried.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from cruddur.bootstrap import stream_processor_publisher, stream_processor_repository
from cruddur.config import Settings
from cruddur.messaging.ports import MessageRepository
from cruddur.streams.moves import RowShown
from cruddur.streams.processor import RowsChanged, apply_records

log = logging.getLogger("cruddur.streams")
log.setLevel(os.environ.get("LOG_LEVEL", "INFO").upper())

_processor: tuple[MessageRepository, RowsChanged | None] | None = None
_publisher: tuple[RowShown | None] | None = None


def _default_processor() -> tuple[MessageRepository, RowsChanged | None]:
    # one client per container, reused across invocations (connection pool, no per-call set-up);
    # with REDIS_URL set, the cache it keeps true
    global _processor
    if _processor is None:
        _processor = stream_processor_repository(Settings.from_env())
    return _processor


def _default_publisher() -> RowShown | None:
    # with REDIS_URL set, every member's moved row goes to the live event bus
    global _publisher
    if _publisher is None:
        _publisher = (stream_processor_publisher(Settings.from_env()),)
    return _publisher[0]


def handler(
    event: dict[str, Any], context: Any = None, repo: MessageRepository | None = None
) -> dict[str, list[dict[str, str]]]:
    """Apply one batch of DynamoDB Stream records; never raises for a record's sake."""
    records = event.get("Records") or []
    if repo is not None:
        rows_changed, row_shown = None, None
    else:
        (repo, rows_changed), row_shown = _default_processor(), _default_publisher()
    outcome = apply_records(repo, records, rows_changed=rows_changed, row_shown=row_shown)
    log.debug(
        "batch records=%d messages=%d groups=%d moved=%d failed=%d",
        outcome.records,
        outcome.messages,
        outcome.groups,
        outcome.rows_moved,
        len(outcome.failures),
    )
    for failure in outcome.failures:
        log.warning("record %s failed: %s", failure.sequence_number, failure.reason)
    return outcome.batch_item_failures()
