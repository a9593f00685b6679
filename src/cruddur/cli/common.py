"""What every command family shares: the `--prod` switch (and the seed's bare `prod` argument),
settings, and turning expected failures into one readable line and a non-zero exit."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

from cruddur.config import Settings
from cruddur.local.installers import InstallError
from cruddur.local.processes import EngineError
from cruddur.messaging.errors import MessagingError, StoreUnavailable, TableMissing
from cruddur.messaging.keys import InvalidKey
from cruddur.streams.worker import StreamNotEnabled
from cruddur.users.errors import UsersError, UsersUnavailable

F = TypeVar("F", bound=Callable[..., Any])


# Failures a command reports as one line; anything else is a bug and keeps its traceback.
EXPECTED_ERRORS = (MessagingError, UsersError, InvalidKey, EngineError, InstallError)


def hint_for(exc: BaseException) -> str | None:
    """What the person at the terminal can do about `exc`: the adapters state facts only."""
    if isinstance(exc, StoreUnavailable):
        if exc.local:
            return "start it with `cruddur ddb local start`"
        return "check the network and your AWS credentials (aws configure), or drop --prod"
    if isinstance(exc, TableMissing):
        return "run `cruddur ddb schema-load`"
    if isinstance(exc, StreamNotEnabled):
        return "create the table with `cruddur ddb schema-load`"
    if isinstance(exc, UsersUnavailable):
        if exc.prod:
            return "check PROD_CONNECTION_URL and that the database accepts connections from here"
        return "start the private cluster with `cruddur db local start` or set CONNECTION_URL"
    return None


def fail(message: str, code: int = 1) -> None:
    click.echo(f"Error: {message}", err=True)
    sys.exit(code)


def one_line_errors(func: F) -> F:
    """Expected failures end the command with one line on stderr and exit 1, never a traceback."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except EXPECTED_ERRORS as exc:
            hint = hint_for(exc)
            fail(f"{exc}: {hint}" if hint else str(exc))

    return wrapper  # type: ignore[return-value]


def prod_options(func: F) -> F:
    """`--prod`, or the seed's trailing `prod` argument (`bin/ddb/schema-load prod`)."""
    func = click.argument("target", required=False, metavar="[prod]")(func)
    func = click.option(
        "--prod", "prod_flag", is_flag=True, help="Use AWS instead of local engines."
    )(func)
    return func


def resolve_prod(target: str | None, prod_flag: bool) -> bool:
    if target is not None and target != "prod":
        raise click.UsageError(f"unexpected argument {target!r} (only 'prod' is accepted here)")
    return prod_flag or target == "prod"


def toolkit_settings(prod: bool) -> Settings:
    return Settings.from_env().for_toolkit(prod)
