"""Errors of the messaging domain: one class per failure a caller handles differently.
Entrypoints map them to status codes (API) or one-line messages with a hint of what to do (CLI)
in one place each; the messages here state facts only."""

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
    """No user with that handle or uuid. `handles`: the unknown ones, when a list was asked for."""

    def __init__(self, what: str = "", handles: list[str] | None = None) -> None:
        super().__init__(what)
        self.handles = list(handles or [])


class MemberNotFound(MessagingError):
    """The user exists but is not a member of the group (a removal of someone not there)."""


class NotGroupOwner(MessagingError):
    """Only the group's owner (its creator, or whom the role passed to) may remove others."""


class StoreUnavailable(MessagingError):
    """DynamoDB could not be reached (or no credentials to reach it). `endpoint` is where it was
    asked; `local` tells a local engine from AWS, so an entrypoint can say what to do."""

    def __init__(self, endpoint: str, local: bool, reason: str = "") -> None:
        message = f"DynamoDB is not answering at {endpoint}"
        super().__init__(f"{message} ({reason})" if reason else message)
        self.endpoint = endpoint
        self.reason = reason
        self.local = local


class StoreRefused(MessagingError):
    """DynamoDB answered with an error no caller can correct (a validation error, access denied):
    the store failing, never the client's input."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"DynamoDB refused the request: {code}: {message}")
        self.code = code


class TableMissing(MessagingError):
    """The messages table does not exist."""

    def __init__(self, table: str) -> None:
        super().__init__(f"table {table} does not exist")
        self.table = table


class TableExists(MessagingError):
    """schema-load found the table already there."""

    def __init__(self, table: str) -> None:
        super().__init__(f"table {table} already exists")
        self.table = table


class ContentionExhausted(MessagingError):
    """Throttling, transaction conflicts or races outlasted the bounded retries: try again later.
    Nothing was half-written."""
