"""Errors of the users store. Entrypoints map them to one readable line (CLI) or a status code (API).

They state facts (which server, why, whether it was the --prod database); advice on what to do
about them is the entrypoint's to give, in its own terms.
"""

from __future__ import annotations


class UsersError(Exception):
    """Base of every error the users store raises on purpose."""


class UsersUnavailable(UsersError):
    """PostgreSQL did not answer. `url` is already masked (no password), safe to print; `prod` says
    whether it was the production database (the tool-kit's --prod) rather than a local one."""

    def __init__(self, url: str, reason: str, *, prod: bool = False) -> None:
        self.url = url
        self.reason = reason
        self.prod = prod
        super().__init__(f"PostgreSQL at {url} is unavailable ({reason})")


class UsersRefused(UsersError):
    """PostgreSQL answered but refused the statement (no privilege, a constraint, a broken
    statement). `sqlstate` is PostgreSQL's code for why, `constraint` the constraint involved."""

    def __init__(
        self, reason: str, sqlstate: str | None = None, constraint: str | None = None
    ) -> None:
        self.reason = reason
        self.sqlstate = sqlstate
        self.constraint = constraint
        super().__init__(f"PostgreSQL refused: {reason}")


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
