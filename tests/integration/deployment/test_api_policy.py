"""The API's own policy (deploy/api-policy.json, for wherever the API runs) grants every DynamoDB
call the API makes and nothing beyond: the calls are recorded while the API (with its cache on
Redis, as in production) serves every use case: first contact, sends, pages, groups (create, add,
rename, remove, leave), the health check."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest

from cruddur.api.app import create_app
from cruddur.config import project_root
from cruddur.messaging.repository import DynamoMessageRepository
from fixtures_api import ApiClient, FlaskTransport
from fixtures_redis import delete_keys_with_prefix, redis_client
from iam_calls import least_privilege_problems, record_calls

POLICY = project_root() / "deploy" / "api-policy.json"


def statements(table: str) -> list[dict[str, Any]]:
    text = (
        POLICY.read_text()
        .replace("${Region}", "us-east-1")
        .replace("${AccountId}", "123456789012")
        .replace("${TableName}", table)
    )
    return list(json.loads(text)["Statement"])


@pytest.fixture
def production_api(settings, own_client, users, signing_key, redis_server_url):
    with_redis = replace(settings, redis_url=redis_server_url)
    app = create_app(
        with_redis, messages=DynamoMessageRepository(own_client, settings.table_name), users=users
    )
    yield ApiClient(FlaskTransport(app))
    with redis_client(redis_server_url) as client:
        delete_keys_with_prefix(client, f"cruddur:{settings.table_name}:")


def test_the_api_policy_grants_exactly_the_calls_the_api_makes(
    production_api, register, own_client, settings
):
    for handle in ("andy", "bea", "cid", "dee"):
        register(handle)
    andy, bea = production_api.as_user("andy"), production_api.as_user("bea")

    with record_calls(own_client) as calls:
        first = andy.send_to_handle("bea", "hello")
        assert first.status == 200, first
        direct = first.body["message_group_uuid"]
        assert andy.send_to_handle("bea", "again").status == 200
        assert bea.send_to_group(direct, "hi back").status == 200
        assert bea.conversations(limit=1).status == 200
        assert andy.messages(direct, limit=1).status == 200
        assert len(andy.all_messages(direct, limit=1)) == 3
        created = andy.create_group("team", ["bea", "cid"], "welcome")
        assert created.status == 200, created
        group = created.body["message_group_uuid"]
        assert bea.send_to_group(group, "thanks").status == 200
        assert andy.members(group).status == 200
        path = f"/api/message_groups/{group}"
        assert andy.post(f"{path}/members", {"handles": ["dee"]}).status == 200
        assert bea.request("PATCH", path, {"name": "team two"}).status == 200
        assert andy.request("DELETE", f"{path}/members/@cid").status == 200
        assert andy.request("DELETE", f"{path}/members/@andy").status == 200  # the owner leaves
        assert production_api.get("/api/health-check").status == 200
        assert andy.messages(group).status == 404  # gone with his leaving

    problems = least_privilege_problems(
        calls,
        statements(settings.table_name),
        [
            [s["Resource"]] if isinstance(s["Resource"], str) else s["Resource"]
            for s in statements("${TableName}")
        ],
        set(),
        set(),
    )

    assert problems == [], "\n".join(problems)
    # the use cases really wrote: a message row per send, metadata changed by the rename
    actions = {(c.action, c.prefix()) for c in calls}
    assert ("dynamodb:PutItem", "MSG#") in actions
    assert ("dynamodb:UpdateItem", "GROUP#") in actions
