"""`cruddur ddb ...`: the seed's bin/ddb scripts."""

from __future__ import annotations

import click


@click.group()
def ddb() -> None:
    """The messages table on DynamoDB (local by default, AWS with --prod)."""
