"""Errors of the messaging domain: one class per failure a caller handles differently.
Entrypoints map them to status codes (API) or one-line messages (CLI) in one place each."""

from __future__ import annotations


class MessagingError(Exception):
    """Base class: every error the messaging services raise on purpose."""


class InvalidInput(MessagingError):
    """The caller sent something we refuse; `codes` are the stable error codes of the HTTP API."""

    def __init__(self, *codes: str) -> None:
        super().__init__(", ".join(codes))
        self.codes = list(codes)


class GroupNotFound(MessagingError):
    """No such group, or the user is not a member: the same answer for both, on purpose."""


class UserNotFound(MessagingError):
    """No user with that handle or uuid."""


class StoreUnavailable(MessagingError):
    """DynamoDB could not be reached; the message names the endpoint and what to do."""


class TableMissing(MessagingError):
    """The messages table does not exist (run schema-load)."""


class TableExists(MessagingError):
    """schema-load found the table already there."""


class ContentionExhausted(MessagingError):
    """Throttling, transaction conflicts or races outlasted the bounded retries: try again later.
    Nothing was half-written."""
