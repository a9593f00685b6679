"""AWS Lambda entrypoint of the stream processor.

Handler path: `cruddur.streams.lambda_handler.handler` (deploy/stream-processor.md has the event
source mapping settings; `cruddur lambda package` builds the zip). The function reads its table and
region from the usual environment (DDB_MESSAGE_TABLE, AWS_REGION) and answers the partial batch
response `{"batchItemFailures": [{"itemIdentifier": <SequenceNumber>}]}` (the mapping must enable
ReportBatchItemFailures), so only the records that failed, and those after them, are retried.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from cruddur.aws import dynamodb_client
from cruddur.config import Settings
from cruddur.messaging.repository import MessageStore
from cruddur.streams.processor import apply_records

log = logging.getLogger("cruddur.streams")
log.setLevel(os.environ.get("LOG_LEVEL", "INFO").upper())

_store: MessageStore | None = None


def _default_store() -> MessageStore:
    # one client per container, reused across invocations (connection pool, no per-call set-up)
    global _store
    if _store is None:
        settings = Settings.from_env()
        _store = MessageStore(dynamodb_client(settings), settings.table_name)
    return _store


def handler(
    event: dict[str, Any], context: Any = None, store: MessageStore | None = None
) -> dict[str, list[dict[str, str]]]:
    """Apply one batch of DynamoDB Stream records; never raises for a record's sake."""
    records = event.get("Records") or []
    outcome = apply_records(store or _default_store(), records)
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
