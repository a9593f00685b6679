"""The one translator of DynamoDB failures into messaging errors, for every call of the messaging
package: the repository's reads and writes, its transactions and the schema operations.

What a caller can act on comes back typed: a failed condition (`ConditionFailed`), a cancelled
transaction with its per-item reasons (`TransactionCancelled`). Everything else becomes a domain
error: unreachable or no credentials -> StoreUnavailable, no table -> TableMissing, throttled
beyond botocore's retries -> ContentionExhausted, any other refusal -> StoreRefused.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    HTTPClientError,
    NoCredentialsError,
    ReadTimeoutError,
)

from cruddur.messaging.errors import (
    ContentionExhausted,
    StoreRefused,
    StoreUnavailable,
    TableExists,
    TableMissing,
)

# Codes that mean "DynamoDB is busy or briefly failing", not "your request is wrong". botocore's
# standard retry mode has already retried them by the time they reach us.
THROTTLE_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "LimitExceededException",
        "TransactionInProgressException",
        "InternalServerError",
        "InternalFailure",
        "ServiceUnavailable",
    }
)
# Reasons of a cancelled transaction that a later attempt may not meet again.
RETRYABLE_CANCEL_REASONS = frozenset(
    {"TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded"}
)
_UNREACHABLE = (
    EndpointConnectionError,
    ConnectTimeoutError,
    ReadTimeoutError,
    HTTPClientError,  # connection closed or reset, proxy refused
)


class ConditionFailed(Exception):
    """A conditional write's condition did not hold. Internal to the repository, which answers
    with a WriteOutcome instead."""


class TransactionCancelled(ContentionExhausted):
    """A transaction cancelled with per-item reasons (codes in TransactItems order). The
    repository retries the retryable ones and turns failed conditions into outcomes; one that
    escapes is a ContentionExhausted: nothing was written."""

    def __init__(self, reasons: tuple[str, ...]) -> None:
        super().__init__(f"DynamoDB cancelled the transaction ({', '.join(reasons)}); try again")
        self.reasons = reasons

    @property
    def retryable(self) -> bool:
        return any(r in RETRYABLE_CANCEL_REASONS for r in self.reasons)

    @property
    def condition_failed(self) -> bool:
        return "ConditionalCheckFailed" in self.reasons

    def failed_condition_at(self, index: int) -> bool:
        return index < len(self.reasons) and self.reasons[index] == "ConditionalCheckFailed"


def is_local_endpoint(endpoint: str) -> bool:
    return "localhost" in endpoint or "127.0.0.1" in endpoint or "[::1]" in endpoint


def unavailable(client: Any, reason: str = "") -> StoreUnavailable:
    endpoint = str(client.meta.endpoint_url)
    return StoreUnavailable(endpoint, local=is_local_endpoint(endpoint), reason=reason)


@contextmanager
def translated(client: Any, table: str) -> Iterator[None]:
    """Run DynamoDB calls of `client` on `table`, raising only the errors named in this module."""
    try:
        yield
    except _UNREACHABLE as exc:
        raise unavailable(client) from exc
    except NoCredentialsError as exc:
        raise unavailable(client, "no AWS credentials found") from exc
    except ClientError as exc:
        error = exc.response.get("Error", {})
        code = str(error.get("Code", ""))
        if code == "ConditionalCheckFailedException":
            raise ConditionFailed() from exc
        if code == "TransactionCanceledException":
            reasons = tuple(
                r.get("Code", "None") for r in exc.response.get("CancellationReasons", [])
            )
            raise TransactionCancelled(reasons) from exc
        if code == "ResourceNotFoundException":
            raise TableMissing(table) from exc
        if code == "ResourceInUseException":
            raise TableExists(table) from exc
        if code in THROTTLE_CODES:
            raise ContentionExhausted(
                f"DynamoDB kept refusing the request ({code}); try again shortly"
            ) from exc
        raise StoreRefused(code, str(error.get("Message", ""))) from exc
    except BotoCoreError as exc:
        # waiters giving up, a response botocore cannot parse: the store failing
        raise unavailable(client, f"{type(exc).__name__}: {exc}") from exc
