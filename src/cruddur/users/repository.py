"""The users store on PostgreSQL: lookups the messaging code needs, the sign-up path, local passwords.

Every query is a .sql file under users/sql/users (see `queries.template`), always parameterised.
"""

from __future__ import annotations

import re
import uuid as uuid_module
from collections.abc import Mapping
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool

from cruddur.users.db import pooled
from cruddur.users.errors import (
    DuplicateCognitoUserId,
    DuplicateHandle,
    DuplicateUser,
    InvalidUserInput,
    UserNotFound,
    UsersRefused,
)
from cruddur.users.models import User
from cruddur.users.pg_errors import FOREIGN_KEY_VIOLATION, UNIQUE_VIOLATION
from cruddur.users.queries import template

MAX_HANDLE_CHARS = 64
MAX_DISPLAY_NAME_CHARS = 100
MAX_EMAIL_CHARS = 254
# argon2 work grows with the input; a cap keeps a huge "password" from becoming a CPU lever.
MAX_PASSWORD_CHARS = 1024
# the most users one search answers
MAX_SEARCH_RESULTS = 50
HANDLE_PATTERN = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")

_HANDLE_INDEX = "users_handle_lower_key"
_COGNITO_INDEX = "users_cognito_user_id_key"
_PRIMARY_KEY = "users_pkey"


def normalize_handle(handle: str) -> str:
    """The handle as looked up: surrounding spaces and one leading '@' removed (case kept)."""
    text = handle.strip()
    return text[1:] if text.startswith("@") else text


def searchable_handle(handle: str) -> str | None:
    """The normalised handle when it could name a user, else None: text no handle can match (a
    NUL byte, a quote, an overlong string) is answered "no such user" without asking the server."""
    text = normalize_handle(handle)
    if not text or len(text) > MAX_HANDLE_CHARS or not HANDLE_PATTERN.match(text):
        return None
    return text


def validate_handle(handle: str) -> str:
    """The normalised handle; raises InvalidUserInput unless it is 1-64 letters, digits, '_', '.'
    or '-' (starting with a letter, digit or '_')."""
    text = normalize_handle(handle)
    if not text:
        raise InvalidUserInput("handle_blank", "a handle is required")
    if len(text) > MAX_HANDLE_CHARS:
        raise InvalidUserInput(
            "handle_too_long", f"a handle has at most {MAX_HANDLE_CHARS} characters"
        )
    if not HANDLE_PATTERN.match(text):
        raise InvalidUserInput(
            "handle_invalid", "a handle holds only letters, digits, '_', '.' and '-'"
        )
    return text


def validate_display_name(display_name: str) -> str:
    text = " ".join(display_name.split())
    if not text:
        raise InvalidUserInput("display_name_blank", "a display name is required")
    if len(text) > MAX_DISPLAY_NAME_CHARS:
        raise InvalidUserInput(
            "display_name_too_long",
            f"a display name has at most {MAX_DISPLAY_NAME_CHARS} characters",
        )
    return text


def validate_email(email: str) -> str:
    text = email.strip()
    local, at, domain = text.rpartition("@")
    if not (local and at and domain) or any(c.isspace() for c in text):
        raise InvalidUserInput("email_invalid", "an email address looks like name@example.com")
    if len(text) > MAX_EMAIL_CHARS:
        raise InvalidUserInput(
            "email_too_long", f"an email has at most {MAX_EMAIL_CHARS} characters"
        )
    return text


def _parse_uuid(value: str | uuid_module.UUID) -> uuid_module.UUID | None:
    if isinstance(value, uuid_module.UUID):
        return value
    try:
        return uuid_module.UUID(str(value))
    except (ValueError, TypeError, AttributeError):
        return None


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: no stored text can start with it
        return False
    return True


def _user(row: Mapping[str, Any]) -> User:
    return User(
        uuid=str(row["uuid"]),
        handle=row["handle"],
        display_name=row["display_name"],
        email=row["email"],
        cognito_user_id=row["cognito_user_id"],
        created_at=row["created_at"],
    )


_DUMMY_HASHES: dict[tuple[Any, ...], str] = {}


def _dummy_hash(hasher: PasswordHasher) -> str:
    """A hash made with `hasher`'s parameters (so verifying it costs what a real one costs),
    made once per parameter set: hashing is the slow part of building a repository."""
    params = (
        hasher.time_cost,
        hasher.memory_cost,
        hasher.parallelism,
        hasher.hash_len,
        hasher.salt_len,
        hasher.type,
    )
    if params not in _DUMMY_HASHES:
        _DUMMY_HASHES[params] = hasher.hash(uuid_module.uuid4().hex)
    return _DUMMY_HASHES[params]


class UserRepository:
    """Users in PostgreSQL through a psycopg pool (made by `cruddur.bootstrap.user_repository`).
    Every call is its own transaction; a server that does not answer raises UsersUnavailable, and
    no driver error leaves this class untranslated (see users/pg_errors.py)."""

    def __init__(self, pool: ConnectionPool, hasher: PasswordHasher | None = None) -> None:
        self._pool = pool
        self._hasher = hasher or PasswordHasher()
        # Verified against when the handle is unknown, so that answer costs the same argon2 work.
        self._dummy_hash = _dummy_hash(self._hasher)

    @property
    def pool(self) -> ConnectionPool:
        return self._pool

    def ping(self) -> int:
        """The pid of the server process that answered (PostgreSQL's `pg_backend_pid()`), so a
        caller can tell the server really answered, and which connection did; raises
        UsersUnavailable otherwise (health check)."""
        with pooled(self._pool) as conn:
            row = conn.execute("SELECT pg_backend_pid()").fetchone()
        assert row is not None
        return int(row[0])

    # --- reads ------------------------------------------------------------------------------------

    def _one(self, query: str, params: Mapping[str, Any]) -> User | None:
        with pooled(self._pool) as conn, conn.cursor(row_factory=dict_row) as cur:
            row = cur.execute(template("users", query), params).fetchone()
        return _user(row) if row else None

    def find_by_handle(self, handle: str) -> User | None:
        """The user with this handle, compared case-insensitively, a leading '@' ignored; None when
        there is none (any text is safe: it only ever travels as a parameter)."""
        text = searchable_handle(handle)
        if text is None:
            return None
        return self._one("short", {"handle": text})

    def find_by_handles(self, handles: list[str]) -> list[User]:
        """The users with these handles, in the order first asked for; unknown handles are left
        out and a handle asked twice (in any case, with or without '@') comes back once."""
        wanted: list[str] = []
        for handle in handles:
            key = (searchable_handle(handle) or "").lower()
            if key and key not in wanted:
                wanted.append(key)
        if not wanted:
            return []
        with pooled(self._pool) as conn, conn.cursor(row_factory=dict_row) as cur:
            rows = cur.execute(template("users", "by_handles"), {"handles": wanted}).fetchall()
        by_key = {row["handle"].lower(): _user(row) for row in rows}
        return [by_key[key] for key in wanted if key in by_key]

    def find_by_uuid(self, uuid: str) -> User | None:
        """The user with this uuid; None when there is none or `uuid` is not a uuid at all."""
        parsed = _parse_uuid(uuid)
        if parsed is None:
            return None
        return self._one("by_uuid", {"uuid": parsed})

    def find_by_cognito_id(self, sub: str) -> User | None:
        """The user linked to this Cognito user id (the token's `sub`); None when there is none."""
        if not sub or not sub.strip() or "\x00" in sub:
            return None
        return self._one("by_cognito_id", {"cognito_user_id": sub.strip()})

    def find_by_email(self, email: str) -> list[User]:
        """Users with this email (case-insensitive), oldest first: emails are not unique."""
        if not email or not email.strip() or "\x00" in email:
            return []
        with pooled(self._pool) as conn, conn.cursor(row_factory=dict_row) as cur:
            rows = cur.execute(template("users", "by_email"), {"email": email.strip()}).fetchall()
        return [_user(row) for row in rows]

    def search(self, prefix: str, limit: int = 10) -> list[User]:
        """Users whose handle (a leading '@' ignored) or display name starts with `prefix`,
        case-insensitively; handle matches first, at most `limit` (1..MAX_SEARCH_RESULTS). The
        prefix travels as a parameter with LIKE's wildcards escaped: '%' and '_' match
        themselves."""
        text = normalize_handle(prefix)[:MAX_DISPLAY_NAME_CHARS].lower()
        if not text or "\x00" in text or not _encodable(text):
            return []
        escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        params = {"pattern": f"{escaped}%", "limit": max(1, min(limit, MAX_SEARCH_RESULTS))}
        with pooled(self._pool) as conn, conn.cursor(row_factory=dict_row) as cur:
            rows = cur.execute(template("users", "search"), params).fetchall()
        return [_user(row) for row in rows]

    # --- writes -----------------------------------------------------------------------------------

    def create(
        self,
        handle: str,
        display_name: str,
        email: str,
        cognito_user_id: str | None = None,
        uuid: str | None = None,
    ) -> User:
        """Insert a user (the sign-up path) and return it; its uuid is generated unless given.
        Raises InvalidUserInput, DuplicateHandle (case-insensitive), DuplicateCognitoUserId or
        DuplicateUser (that uuid exists); on any of them nothing is written."""
        params: dict[str, Any] = {
            "handle": validate_handle(handle),
            "display_name": validate_display_name(display_name),
            "email": validate_email(email),
            "cognito_user_id": (cognito_user_id or "").strip() or None,
            "uuid": None,
        }
        if uuid is not None:
            parsed = _parse_uuid(uuid)
            if parsed is None:
                raise InvalidUserInput("uuid_invalid", f"not a uuid: {uuid!r}")
            params["uuid"] = parsed
        try:
            with pooled(self._pool) as conn, conn.cursor(row_factory=dict_row) as cur:
                row = cur.execute(template("users", "create"), params).fetchone()
        except UsersRefused as exc:
            if exc.sqlstate == UNIQUE_VIOLATION:
                raise self._duplicate(exc.constraint, params) from exc
            raise
        assert row is not None
        return _user(row)

    @staticmethod
    def _duplicate(constraint: str | None, params: Mapping[str, Any]) -> Exception:
        if constraint == _COGNITO_INDEX:
            return DuplicateCognitoUserId(str(params["cognito_user_id"]))
        if constraint == _PRIMARY_KEY:
            return DuplicateUser(str(params["uuid"]))
        return DuplicateHandle(str(params["handle"]))

    def update_display_name(self, uuid: str, display_name: str) -> User:
        """Set the display name and return the updated user; raises UserNotFound or
        InvalidUserInput."""
        parsed = _parse_uuid(uuid)
        name = validate_display_name(display_name)
        if parsed is None:
            raise UserNotFound(str(uuid))
        with pooled(self._pool) as conn, conn.cursor(row_factory=dict_row) as cur:
            row = cur.execute(
                template("users", "update_display_name"), {"uuid": parsed, "display_name": name}
            ).fetchone()
        if row is None:
            raise UserNotFound(str(uuid))
        return _user(row)

    def set_cognito_user_id(self, uuid: str, sub: str | None) -> None:
        """Link the user to a Cognito user id (None unlinks). Raises UserNotFound, or
        DuplicateCognitoUserId when another user holds that id (nothing changes)."""
        parsed = _parse_uuid(uuid)
        if parsed is None:
            raise UserNotFound(str(uuid))
        value = (sub or "").strip() or None
        try:
            with pooled(self._pool) as conn:
                row = conn.execute(
                    template("users", "set_cognito_user_id"),
                    {"uuid": parsed, "cognito_user_id": value},
                ).fetchone()
        except UsersRefused as exc:
            if exc.sqlstate == UNIQUE_VIOLATION:
                raise DuplicateCognitoUserId(str(value)) from exc
            raise
        if row is None:
            raise UserNotFound(str(uuid))

    # --- passwords (the local identity provider) --------------------------------------------------

    def set_password(self, uuid: str, password: str) -> None:
        """Store an argon2 hash of `password` for the user (replacing any earlier one). Raises
        UserNotFound or InvalidUserInput (empty or over 1024 characters)."""
        if not password:
            raise InvalidUserInput("password_blank", "a password is required")
        if len(password) > MAX_PASSWORD_CHARS:
            raise InvalidUserInput(
                "password_too_long", f"a password has at most {MAX_PASSWORD_CHARS} characters"
            )
        parsed = _parse_uuid(uuid)
        if parsed is None:
            raise UserNotFound(str(uuid))
        password_hash = self._hasher.hash(password)
        try:
            with pooled(self._pool) as conn:
                conn.execute(
                    template("users", "set_password"),
                    {"uuid": parsed, "password_hash": password_hash},
                )
        except UsersRefused as exc:
            # The credentials row points at its user: no user, no row.
            if exc.sqlstate == FOREIGN_KEY_VIOLATION:
                raise UserNotFound(str(uuid)) from exc
            raise

    def verify_password(self, handle: str, password: str) -> User | None:
        """The user when `password` is theirs, else None. An unknown handle, a user without a
        password and a wrong password all answer None after the same argon2 work, so timing does
        not tell which handles exist."""
        text = searchable_handle(handle)
        row = None
        if text:
            with pooled(self._pool) as conn, conn.cursor(row_factory=dict_row) as cur:
                row = cur.execute(
                    template("users", "credentials_by_handle"), {"handle": text}
                ).fetchone()
        stored = row["password_hash"] if row and row["password_hash"] else None
        candidate = password[: MAX_PASSWORD_CHARS + 1] if password else ""
        try:
            self._hasher.verify(stored or self._dummy_hash, candidate)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return None
        if stored is None or row is None or len(password) > MAX_PASSWORD_CHARS:
            return None
        user = _user(row)
        if self._hasher.check_needs_rehash(stored):
            self.set_password(user.uuid, password)
        return user
