"""Errors of the users store. Entrypoints map them to one readable line (CLI) or a status code (API)."""

from __future__ import annotations

LOCAL_START_HINT = "start the private cluster with `cruddur db local start` or set CONNECTION_URL"


class UsersError(Exception):
    """Base of every error the users store raises on purpose."""


class UsersUnavailable(UsersError):
    """PostgreSQL did not answer. `url` is already masked (no password), safe to print."""

    def __init__(self, url: str, reason: str, hint: str = LOCAL_START_HINT) -> None:
        self.url = url
        self.reason = reason
        self.hint = hint
        message = f"PostgreSQL at {url} is unavailable ({reason})"
        super().__init__(f"{message}; {hint}" if hint else message)


class UsersNotConfigured(UsersError):
    """A setting the requested operation needs is missing (e.g. PROD_CONNECTION_URL)."""


class UserNotFound(UsersError):
    def __init__(self, what: str) -> None:
        self.what = what
        super().__init__(f"no such user: {what}")


class DuplicateHandle(UsersError):
    code = "handle_taken"

    def __init__(self, handle: str) -> None:
        self.handle = handle
        super().__init__(f"the handle @{handle} is already taken")


class DuplicateCognitoUserId(UsersError):
    code = "cognito_user_id_taken"

    def __init__(self, cognito_user_id: str) -> None:
        self.cognito_user_id = cognito_user_id
        super().__init__("that Cognito user id already belongs to another user")


class DuplicateUser(UsersError):
    code = "user_exists"

    def __init__(self, uuid: str) -> None:
        self.uuid = uuid
        super().__init__(f"a user with uuid {uuid} already exists")


class InvalidUserInput(UsersError):
    """Input the store refuses; `code` is a stable machine-readable name (e.g. `handle_invalid`)."""

    def __init__(self, code: str, message: str) -> None:
        self.code = code
        super().__init__(message)


class MigrationError(UsersError):
    """A migration file is malformed or failed to apply (nothing of it was recorded)."""
