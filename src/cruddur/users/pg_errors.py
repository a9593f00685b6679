"""The one translator from PostgreSQL's driver (psycopg, psycopg_pool) to the users store's errors.

Every PostgreSQL call of the users package runs inside `translated`, so entrypoints (the API, the
CLI, the Lambda handler) meet only UsersError and never catch a driver exception themselves. Code
that gives a refusal a meaning of its own (a taken handle, a database that already exists) catches
UsersRefused and reads its `sqlstate`, never the driver's exception classes.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from psycopg_pool import PoolTimeout

from cruddur.users.errors import UsersRefused, UsersUnavailable
from cruddur.users.urls import mask_url

# SQLSTATE codes (PostgreSQL's appendix A) the users package gives a meaning of its own.
UNIQUE_VIOLATION = "23505"
FOREIGN_KEY_VIOLATION = "23503"
DUPLICATE_DATABASE = "42P04"

# The reason of a request that waited the pool's whole timeout for a connection.
POOL_TIMEOUT_REASON = "no connection within the pool timeout"


class ServerDown(Exception):
    """Raised by the users pool (cruddur.users.db.UsersPool), not by the driver: the server failed
    the pool's last connection attempt, so a request is refused at once instead of waiting the
    pool's timeout for a connection that cannot come. Only `translated` catches it."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def first_line(error: BaseException) -> str:
    """The first line of the error's text: libpq's reasons continue with DETAIL/HINT lines that a
    one-line report has no room for."""
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


@contextmanager
def translated(url: str, *, prod: bool = False) -> Iterator[None]:
    """Run the block with the driver's errors turned into the users store's: a server that does
    not answer (no pooled connection in time, or the pool knows it is down: ServerDown) is
    UsersUnavailable naming `url` masked and whether it was the --prod database; anything else
    PostgreSQL refuses is UsersRefused."""
    try:
        yield
    except PoolTimeout as exc:
        # The pool's own text names seconds, not the server: the reader needs which server.
        raise UsersUnavailable(mask_url(url), POOL_TIMEOUT_REASON, prod=prod) from exc
    except ServerDown as exc:
        raise UsersUnavailable(mask_url(url), exc.reason, prod=prod) from exc
    except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
        # InterfaceError: the driver's connection is closed or broken, the server unreachable
        raise UsersUnavailable(mask_url(url), first_line(exc), prod=prod) from exc
    except psycopg.Error as exc:
        raise UsersRefused(
            first_line(exc), sqlstate=exc.sqlstate, constraint=exc.diag.constraint_name
        ) from exc
