"""Schemathesis against the API's own OpenAPI document (issue 12): `cruddur serve` (gunicorn, two
workers) on DynamoDB Local, PostgreSQL and Redis, signed in as a seeded user, with the five checks
below. Nothing may be found.

`make test` runs a bounded pass (FUZZ_SECONDS, FUZZ_EXAMPLES below); `make fuzz` the long one
(CRUDDUR_FUZZ_SECONDS, CRUDDUR_FUZZ_EXAMPLES); CRUDDUR_FUZZ_SEED replays a run's seed. Generated values are mixed with the seeded users'
handles and groups (`seeded_values.py`, a schemathesis hooks module), so the fuzzer reaches the
members' paths too, not only 404s for random uuids."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, replace
from pathlib import Path
from xml.etree import ElementTree

import pytest

from cruddur.api.openapi import openapi_document
from cruddur.messaging import schema
from cruddur.users.db import (
    apply_migrations,
    create_database,
    create_pool,
    drop_database,
    with_database,
)
from cruddur.users.repository import UserRepository
from cruddur.users.seed import DEMO_USERS, seed_users
from fixtures_api import ApiClient, HttpTransport, serving
from fixtures_postgres import TEST_PASSWORD_HASHER
from fixtures_redis import delete_keys_with_prefix, redis_client

CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
)
# The bounded pass of `make test`: its share of the suite's time (the server's start and the
# seeding come on top, a few seconds).
FUZZ_SECONDS = int(os.environ.get("CRUDDUR_FUZZ_SECONDS", "40"))
FUZZ_EXAMPLES = int(os.environ.get("CRUDDUR_FUZZ_EXAMPLES", "25"))
PASSWORD = "fuzzing-password"
CALLER = "andrewbrown"
# GET /api/events is a stream that lasts until the token expires: every call would end in the
# client's timeout, which schemathesis reports as a failure. Its answers are covered by
# tests/integration/live/test_events_endpoint.py and tests/integration/api/test_documented_statuses.py.
EXCLUDED_PATHS = ("/api/events",)
HOOKS_MODULE = "seeded_values"


@dataclass(frozen=True)
class FuzzTarget:
    url: str
    token: str
    groups: list[str]
    handles: list[str]


@pytest.fixture(scope="module")
def fuzz_target(
    base_settings, ddb, postgres_server_url, redis_server_url, tmp_path_factory
) -> Iterator[FuzzTarget]:
    """The API served on a table and a users database of this module's own (the fuzzer renames,
    leaves and creates groups: nothing it does leaks into other tests), demo users seeded, a direct
    conversation and a named group of the caller."""
    table = f"cruddur-fuzz-{uuid.uuid4().hex[:12]}"
    database = with_database(postgres_server_url, f"cruddur_fuzz_{uuid.uuid4().hex[:12]}")
    settings = replace(base_settings, table_name=table, redis_url=redis_server_url)
    # rate limits off: the fuzzer sends hundreds of requests a minute as one user
    no_limits = dict.fromkeys(
        (
            "RATE_LIMIT_SENDS_PER_MINUTE",
            "RATE_LIMIT_NEW_CONVERSATIONS_PER_HOUR",
            "RATE_LIMIT_SIGNIN_PER_MINUTE",
        ),
        "0",
    )
    with ExitStack() as cleanup:
        schema.create_table(ddb, table)
        cleanup.callback(ddb.delete_table, TableName=table)
        cleanup.callback(_delete_redis_keys, redis_server_url, f"cruddur:{table}:")
        create_database(database)
        cleanup.callback(drop_database, database)
        apply_migrations(database)
        pool = cleanup.enter_context(create_pool(database, min_size=1, max_size=2))
        seed_users(UserRepository(pool, hasher=TEST_PASSWORD_HASHER), PASSWORD)
        data_dir = tmp_path_factory.mktemp("fuzz-serve")
        url = cleanup.enter_context(
            serving(settings, database, data_dir, REDIS_URL=redis_server_url, **no_limits)
        )
        caller = ApiClient(HttpTransport(url)).as_user(CALLER, PASSWORD)
        direct = caller.send_to_handle("bayko", "seeded for the fuzzer")
        named = caller.create_group("fuzzed", ["londo", "gkar"], "seeded group")
        assert (direct.status, named.status) == (200, 200), (direct, named)
        yield FuzzTarget(
            url=url,
            token=caller.token or "",
            groups=[direct.body["message_group_uuid"], named.body["message_group_uuid"]],
            handles=[u.handle for u in DEMO_USERS],
        )


def _delete_redis_keys(url: str, prefix: str) -> None:
    with redis_client(url) as client:
        delete_keys_with_prefix(client, prefix)


def run_schemathesis(target: FuzzTarget, report_dir: Path) -> subprocess.CompletedProcess[str]:
    command = [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "run",
        f"{target.url}/api/openapi.json",
        "--checks",
        ",".join(CHECKS),
        "--header",
        f"Authorization: Bearer {target.token}",
        "--max-examples",
        str(FUZZ_EXAMPLES),
        "--max-time",
        str(FUZZ_SECONDS),
        "--request-timeout",
        "20",
        "--workers",
        "2",
        "--report",
        "junit",
        "--report-dir",
        str(report_dir),
        "--no-color",
    ]
    for path in EXCLUDED_PATHS:
        command += ["--exclude-path", path]
    if os.environ.get("CRUDDUR_FUZZ_SEED"):  # replays a run: every run prints its seed
        command += ["--seed", os.environ["CRUDDUR_FUZZ_SEED"]]
    env = {
        **os.environ,
        "SCHEMATHESIS_HOOKS": HOOKS_MODULE,
        "PYTHONPATH": os.pathsep.join(
            [str(Path(__file__).parent), os.environ.get("PYTHONPATH", "")]
        ),
        "CRUDDUR_FUZZ_GROUPS": json.dumps(target.groups),
        "CRUDDUR_FUZZ_HANDLES": json.dumps(target.handles),
    }
    report_dir.mkdir(parents=True, exist_ok=True)
    return subprocess.run(
        command,
        env=env,
        cwd=report_dir,  # schemathesis and hypothesis keep their caches in the working directory
        capture_output=True,
        text=True,
        timeout=FUZZ_SECONDS + 120,
        check=False,
    )


def documented_operations() -> set[str]:
    """Every operation of the document ("GET /api/message_groups", ...) but the excluded ones and
    the document itself (schemathesis leaves out the URL it loads the schema from)."""
    return {
        f"{method.upper()} {path}"
        for path, item in openapi_document()["paths"].items()
        if path not in (*EXCLUDED_PATHS, "/api/openapi.json")
        for method in item
        if method in ("get", "put", "post", "delete", "patch")
    }


def fuzzed_operations(report_dir: Path) -> set[str]:
    """The operations the run's JUnit report has a test case for (its "Stateful tests" case, the
    phase that chains operations, aside)."""
    return {
        name
        for report in report_dir.glob("junit*.xml")
        for case in ElementTree.parse(report).iter("testcase")
        if " /" in (name := str(case.get("name")))
    }


def test_schemathesis_finds_nothing(fuzz_target: FuzzTarget, tmp_path: Path) -> None:
    report_dir = tmp_path / "report"
    result = run_schemathesis(fuzz_target, report_dir)
    print(result.stdout)  # the run's summary: `make fuzz` shows it (pytest -s)
    assert result.returncode == 0, result.stdout[-20000:] + result.stderr[-5000:]
    assert fuzzed_operations(report_dir) == documented_operations()
