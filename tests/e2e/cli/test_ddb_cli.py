"""`cruddur ddb ...` against DynamoDB Local: output, and one-line errors with a non-zero exit."""

from __future__ import annotations

import json
import uuid

import pytest
from click.testing import CliRunner

from cruddur.cli import cli
from cruddur.local.processes import free_port
from cruddur.messaging.seed import parse_conversation, seed_conversation
from cruddur.messaging.services import MessagingService
from cruddur.streams.moves import move_conversation_rows


@pytest.fixture
def run(dynamodb_local, monkeypatch):
    """Invoke the CLI with the test engine as the configured local endpoint."""
    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", dynamodb_local.endpoint_url)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)

    def invoke(*args: str, table: str | None = None, input: str | None = None):
        if table:
            monkeypatch.setenv("DDB_MESSAGE_TABLE", table)
        return CliRunner().invoke(cli, list(args), input=input, catch_exceptions=False)

    return invoke


def fresh_name() -> str:
    return f"cli-test-{uuid.uuid4().hex[:10]}"


def test_schema_load_creates_the_table_once(run, ddb):
    name = fresh_name()
    created = run("ddb", "schema-load", table=name)
    assert created.exit_code == 0, created.output
    assert f"Created table {name}" in created.output
    table = ddb.describe_table(TableName=name)["Table"]
    assert table["StreamSpecification"]["StreamEnabled"]
    assert table["ProvisionedThroughput"]["ReadCapacityUnits"] == 5
    assert table["GlobalSecondaryIndexes"][0]["IndexName"] == "message-group-sk-index"

    again = run("ddb", "schema-load", table=name)
    assert again.exit_code == 1
    assert (
        again.output.strip()
        == f"Error: table {name} already exists (use --if-not-exists to accept that)"
    )
    assert run("ddb", "schema-load", "--if-not-exists", table=name).exit_code == 0
    ddb.delete_table(TableName=name)


def test_on_demand_billing(run, ddb):
    name = fresh_name()
    assert run("ddb", "schema-load", "--on-demand", table=name).exit_code == 0
    table = ddb.describe_table(TableName=name)["Table"]
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    ddb.delete_table(TableName=name)


def test_list_tables_as_a_table_and_as_json(run, table_name):
    framed = run("ddb", "list-tables")
    assert framed.exit_code == 0
    assert "ListTables" in framed.output and f"||  {table_name}" in framed.output
    as_json = run("ddb", "list-tables", "--json")
    assert table_name in json.loads(as_json.output)["TableNames"]


def test_drop_deletes_and_a_missing_table_is_one_line(run, ddb):
    name = fresh_name()
    run("ddb", "schema-load", table=name)
    assert run("ddb", "drop", name).exit_code == 0
    assert name not in ddb.list_tables()["TableNames"]
    missing = run("ddb", "drop", name)
    assert missing.exit_code == 1
    assert missing.output.strip() == f"Error: table {name} does not exist"


def test_patterns_show_the_seeded_conversation(run, repo, table_name, alice, bob):
    group, messages = seed_conversation(
        repo, alice, bob, parse_conversation("Person 1: hi\nPerson 2: hello\nPerson 1: bye")
    )
    move_conversation_rows(repo, messages[-1])  # as `ddb seed` does after writing

    log = run("ddb", "patterns", "get-conversation", group, table=table_name)
    assert log.exit_code == 0, log.output
    lines = [line for line in log.output.splitlines() if line.strip()]
    assert [line.split()[-1] for line in lines[:3]] == ["hi", "hello", "bye"]
    assert lines[0].startswith("Alice") and lines[1].startswith("Bob")
    assert "Consumed capacity: 0.5 read units" in log.output

    listing = run("ddb", "patterns", "list-conversations", alice.uuid, table=table_name)
    assert listing.exit_code == 0
    assert group in listing.output and "bye" in listing.output

    scan = run("ddb", "scan", table=table_name)
    assert scan.exit_code == 0
    items = [json.loads(line) for line in scan.output.splitlines() if line.startswith("{")]
    assert sum(item["pk"].startswith("MSG#") for item in items) == 3
    assert f"{len(items)} items in {table_name}" in scan.output


def test_seed_lines_one_minute_apart_the_last_now(repo, alice, bob):
    group, messages = seed_conversation(
        repo, alice, bob, parse_conversation("Person 1: a\nPerson 2: b\nPerson 1: c")
    )
    move_conversation_rows(repo, messages[-1])  # as `ddb seed` does after writing
    from datetime import datetime

    times = [datetime.fromisoformat(m.created_at) for m in messages]
    assert [(b - a).total_seconds() for a, b in zip(times, times[1:])] == [60.0, 60.0]
    assert MessagingService(repo).find_direct_group(alice.uuid, bob.uuid) == group
    (row,) = repo.conversations_page(bob.uuid, 20, None).items
    assert row.message == "c" and row.handle == "alice"


@pytest.mark.parametrize(
    "args, message",
    [
        (
            ("ddb", "patterns", "get-conversation", "not-a-uuid"),
            "Error: malformed message group uuid: 'not-a-uuid'",
        ),
        (("ddb", "schema-load", "staging"), "Error: unexpected argument 'staging'"),
    ],
)
def test_bad_input_is_one_line_and_exit_1(run, args, message):
    result = run(*args)
    assert result.exit_code != 0
    assert message in result.output
    assert "Traceback" not in result.output


def test_missing_table_says_to_run_schema_load(run):
    result = run("ddb", "scan", table=fresh_name())
    assert result.exit_code == 1
    assert "run `cruddur ddb schema-load`" in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_endpoint_down_names_it_and_how_to_start(monkeypatch):
    port = free_port()
    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", f"http://localhost:{port}")
    result = CliRunner().invoke(cli, ["ddb", "list-tables"])
    assert result.exit_code == 1
    assert result.output.strip() == (
        f"Error: DynamoDB is not answering at http://localhost:{port}: start it with `cruddur ddb local start`"
    )


def test_seed_looks_both_people_up_in_postgresql(
    run, users, postgres_url, monkeypatch, repo, table_name
):
    from cruddur.users.models import demo_user_uuid

    for handle, name in (("andrewbrown", "Andrew Brown"), ("bayko", "Andrew Bayko")):
        users.create(handle, name, f"{handle}@example.com", uuid=demo_user_uuid(handle))
    monkeypatch.setenv("CONNECTION_URL", postgres_url)

    seeded = run("ddb", "seed", table=table_name)
    assert seeded.exit_code == 0, seeded.output
    assert "between @andrewbrown and @bayko" in seeded.output
    group = MessagingService(repo).find_direct_group(
        demo_user_uuid("andrewbrown"), demo_user_uuid("bayko")
    )
    assert group is not None
    log = [m for m in repo.all_messages(group)]
    assert {m.handle for m in log} == {"andrewbrown", "bayko"}
    assert log[-1].text in seeded.output

    again = run("ddb", "seed", table=table_name)
    assert again.exit_code == 0 and "already have conversation" in again.output
    assert len(list(repo.all_messages(group))) == len(log)  # nothing written twice

    unknown = run("ddb", "seed", "--person-2", "nobody", table=table_name)
    assert unknown.exit_code == 1
    assert "no user with handle 'nobody'" in unknown.output
    assert "Traceback" not in unknown.output
