"""The `cruddur` command: a thin layer over the same objects the API and the worker use."""

from __future__ import annotations

import click

from cruddur.cli.ddb import ddb


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """Cruddur Messaging: direct messages on DynamoDB, users in PostgreSQL."""


cli.add_command(ddb)


def _register_optional() -> None:
    # Each entrypoint family lives in its own module; they register here.
    from cruddur.cli import db, deploy, dev, redis, serve, streams

    for module in (db, deploy, dev, redis, serve, streams):
        for command in getattr(module, "COMMANDS", []):
            cli.add_command(command)


_register_optional()


def main() -> None:
    cli(prog_name="cruddur")
