"""Faults DynamoDB Local never produces, injected at the HTTP layer of one boto3 client.

A `before-send` handler answers instead of the engine, so botocore parses the error and its own
retry policy runs exactly as it would against AWS.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from botocore.awsrequest import AWSResponse


class _Raw:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._body


def error_response(code: str, message: str = "injected", **extra: Any) -> AWSResponse:
    body = json.dumps(
        {"__type": f"com.amazonaws.dynamodb.v20120810#{code}", "message": message, **extra}
    ).encode()
    return AWSResponse(
        "http://injected",
        400,
        {"x-amzn-ErrorType": code, "content-type": "application/x-amz-json-1.0"},
        _Raw(body),
    )


def throttled() -> AWSResponse:
    return error_response("ProvisionedThroughputExceededException", "rate exceeded")


def transaction_cancelled(reason: str, actions: int) -> AWSResponse:
    """A TransactWriteItems cancelled for `reason` on its first action."""
    reasons = [{"Code": reason, "Message": "injected"}] + [{"Code": "None"}] * (actions - 1)
    return error_response(
        "TransactionCanceledException",
        "Transaction cancelled",
        CancellationReasons=reasons,
    )


def transaction_conflict(actions: int) -> AWSResponse:
    """What DynamoDB answers when another transaction touched the same item at the same time."""
    return transaction_cancelled("TransactionConflict", actions)


class Injector:
    """Answers the first `times` calls of `operation` with a fault (or all, with times=None)."""

    def __init__(self, operation: str, make_fault, times: int | None) -> None:
        self.operation = operation
        self.make_fault = make_fault
        self.remaining = times
        self.injected = 0
        self.passed = 0
        self._lock = threading.Lock()

    def __call__(self, request: Any, **_: Any) -> AWSResponse | None:
        target = request.headers.get("X-Amz-Target", b"")
        if isinstance(target, bytes):
            target = target.decode()
        if not target.endswith("." + self.operation):
            return None
        with self._lock:
            if self.remaining is not None and self.remaining <= 0:
                self.passed += 1
                return None
            if self.remaining is not None:
                self.remaining -= 1
            self.injected += 1
        body = json.loads(request.body or b"{}")
        return self.make_fault(body)


@contextmanager
def inject(client: Any, operation: str, make_fault, times: int | None = None) -> Iterator[Injector]:
    injector = Injector(operation, make_fault, times)
    client.meta.events.register_first("before-send.dynamodb", injector)
    try:
        yield injector
    finally:
        client.meta.events.unregister("before-send.dynamodb", injector)
