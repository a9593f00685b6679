"""When an engine does not answer or keeps refusing, the API says 503 (try again), never 500, and
nothing is half-written."""

from __future__ import annotations

from dataclasses import replace

import pytest

from cruddur.api import create_app
from cruddur.aws import dynamodb_client
from cruddur.local.processes import free_port
from cruddur.messaging.repository import DynamoMessageRepository
from cruddur.users.errors import UsersUnavailable
from faults import error_response, inject, throttled
from fixtures_api import ApiClient, FlaskTransport


@pytest.fixture
def own_client(settings):
    """A DynamoDB client of the test's own, so injected faults touch nothing else."""
    return dynamodb_client(settings)


def test_throttling_that_outlasts_the_retries_is_503_try_again(
    settings, own_client, table_name, users, register, signing_key
):
    app = create_app(
        settings, messages=DynamoMessageRepository(own_client, table_name), users=users
    )
    register("andrewbrown")
    register("bayko")
    andrew = ApiClient(FlaskTransport(app)).as_user("andrewbrown")
    group = andrew.send_to_handle("bayko", "before the storm").body["message_group_uuid"]

    with inject(own_client, "PutItem", lambda body: throttled()):
        response = andrew.send_to_group(group, "into the storm")

    assert (response.status, response.errors) == (503, ["try_again"])
    assert response.header("Retry-After") == "1"
    assert [m["message"] for m in andrew.messages(group).body] == ["before the storm"]


@pytest.mark.parametrize(
    "code", ["InternalServerError", "ServiceUnavailable", "ValidationException", "SomethingNew"]
)
def test_any_other_dynamodb_failure_is_503_not_500(
    settings, own_client, table_name, users, register, signing_key, code
):
    app = create_app(
        settings, messages=DynamoMessageRepository(own_client, table_name), users=users
    )
    register("andrewbrown")
    andrew = ApiClient(FlaskTransport(app)).as_user("andrewbrown")

    with inject(own_client, "Query", lambda body: error_response(code)):
        response = andrew.conversations()

    assert response.status == 503
    assert response.errors in (["service_unavailable"], ["try_again"])


def test_dynamodb_down_is_503(settings, users, register, signing_key):
    down = replace(settings, dynamodb_endpoint_url=f"http://127.0.0.1:{free_port()}")
    app = create_app(down, users=users)
    register("andrewbrown")
    client = ApiClient(FlaskTransport(app))
    andrew = client.as_user("andrewbrown")

    listed = andrew.conversations()
    health = client.get("/api/health-check")

    assert (listed.status, listed.errors) == (503, ["service_unavailable"])
    assert listed.header("Retry-After") == "1"  # a client knows when to come back
    assert health.status == 503
    assert health.body["checks"] == {"dynamodb": "unavailable", "postgresql": "ok"}


class UsersDown:
    """The users store while PostgreSQL does not answer."""

    def _down(self, *args, **kwargs):
        raise UsersUnavailable("postgresql://127.0.0.1:1/cruddur", "connection refused")

    ping = find_by_uuid = find_by_cognito_id = find_by_handle = find_by_handles = _down
    verify_password = _down


def test_postgresql_down_is_503(settings, repo, signing_key, local_mint):
    app = create_app(settings, messages=repo, users=UsersDown())
    client = ApiClient(FlaskTransport(app))

    health = client.get("/api/health-check")
    sign_in = client.sign_in("andrewbrown")
    listed = client.with_token(
        local_mint.token("5a5a5a5a-0000-4000-8000-000000000001")
    ).conversations()

    assert health.status == 503
    assert health.errors == ["postgresql_unavailable"]
    assert health.body["checks"] == {"dynamodb": "ok", "postgresql": "unavailable"}
    assert (sign_in.status, sign_in.errors) == (503, ["service_unavailable"])
    assert (listed.status, listed.errors) == (503, ["service_unavailable"])
