"""The DynamoDB calls code makes, as IAM sees them, and a policy checked against them both ways.

`record_calls(client)` writes down each call a botocore client makes (an item call's IAM action,
its table or index, its partition key); `least_privilege_problems` then lists what a policy's
statements get wrong: a call no statement allows, an action or resource no call uses, a
`dynamodb:LeadingKeys` condition whose prefixes differ from those the calls used (prefixes from
messaging/keys.py). Used by tests/integration/deployment for both roles."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

from cruddur.messaging import keys

ACCOUNT = "123456789012"
REGION = "us-east-1"
KEY_PREFIXES = (keys.MESSAGE_PREFIX, keys.CONVERSATION_PREFIX, keys.GROUP_PREFIX, keys.PAIR_PREFIX)
# A transaction is authorised action by action (DynamoDB developer guide, "Using IAM with
# DynamoDB transactions").
_TRANSACT_ACTIONS = {
    "Put": "PutItem",
    "Delete": "DeleteItem",
    "Update": "UpdateItem",
    "ConditionCheck": "ConditionCheckItem",
    "Get": "GetItem",
}
_ITEM_ACTIONS = {"GetItem", "PutItem", "DeleteItem", "UpdateItem", "ConditionCheckItem", "Query"}


def table_arn(table: str) -> str:
    return f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{table}"


@dataclass(frozen=True)
class Call:
    action: str  # dynamodb:Query
    table: str
    index: str | None
    leading_key: str | None  # the partition key value; None for table-level calls

    def resource(self) -> str:
        arn = table_arn(self.table)
        return f"{arn}/index/{self.index}" if self.index else arn

    def prefix(self) -> str | None:
        """The keys-module prefix of the partition key (None: an index query, whose key is a
        group uuid, or a table-level call)."""
        if self.index or self.leading_key is None:
            return None
        matching = [p for p in KEY_PREFIXES if self.leading_key.startswith(p)]
        assert matching, f"{self.action} on a key with no prefix of keys.py: {self.leading_key!r}"
        return max(matching, key=len)


def _partition_value(params: dict[str, Any]) -> str:
    """The partition key a Query names: the value compared with `=` to `pk` (or to the index's
    partition attribute)."""
    names = params.get("ExpressionAttributeNames", {})
    values = params.get("ExpressionAttributeValues", {})
    for name, placeholder in re.findall(r"(#?\w+)\s*=\s*(:\w+)", params["KeyConditionExpression"]):
        if names.get(name, name) in ("pk", "message_group_uuid"):
            return str(values[placeholder]["S"])
    raise AssertionError(f"no partition key in {params['KeyConditionExpression']!r}")


def calls_of(operation: str, params: dict[str, Any]) -> list[Call]:
    if operation == "Query":
        table, index = params["TableName"], params.get("IndexName")
        return [Call("dynamodb:Query", table, index, _partition_value(params))]
    if operation in ("GetItem", "DeleteItem", "UpdateItem"):
        return [Call(f"dynamodb:{operation}", params["TableName"], None, params["Key"]["pk"]["S"])]
    if operation == "PutItem":
        return [Call("dynamodb:PutItem", params["TableName"], None, params["Item"]["pk"]["S"])]
    if operation in ("TransactWriteItems", "TransactGetItems"):
        found = []
        for item in params["TransactItems"]:
            ((kind, body),) = item.items()
            key = body.get("Key") or body["Item"]
            action = f"dynamodb:{_TRANSACT_ACTIONS[kind]}"
            found.append(Call(action, body["TableName"], None, key["pk"]["S"]))
        return found
    # Table-level calls (DescribeTable) and anything else (a Scan, a batch call): recorded as
    # they are, without a key; only a grant made for them on purpose matches.
    return [Call(f"dynamodb:{operation}", params.get("TableName", "?"), None, None)]


@contextmanager
def record_calls(client: Any) -> Iterator[list[Call]]:
    seen: list[Call] = []

    def record(params: dict[str, Any], model: Any, **_: Any) -> None:
        seen.extend(calls_of(model.name, params))

    client.meta.events.register("provide-client-params.dynamodb", record)
    try:
        yield seen
    finally:
        client.meta.events.unregister("provide-client-params.dynamodb", record)


def _listed(value: str | list[str]) -> list[str]:
    return value if isinstance(value, list) else [value]


def allows(statement: dict[str, Any], call: Call) -> bool:
    if statement["Effect"] != "Allow":
        return False
    if not any(fnmatchcase(call.action, a) for a in _listed(statement["Action"])):
        return False
    if not any(fnmatchcase(call.resource(), r) for r in _listed(statement["Resource"])):
        return False
    condition = statement.get("Condition")
    if condition is None:
        return True
    ((operator, tests),) = condition.items()
    ((key, patterns),) = tests.items()
    assert (operator, key) == ("ForAllValues:StringLike", "dynamodb:LeadingKeys"), condition
    return call.leading_key is not None and any(fnmatchcase(call.leading_key, p) for p in patterns)


def least_privilege_problems(
    calls: list[Call],
    statements: list[dict[str, Any]],
    written_resources: list[list[str]],
    platform_grants: set[tuple[str, str]],
    exception_actions: set[str],
) -> list[str]:
    """What the statements get wrong against the calls. `written_resources` are each statement's
    resources as the template writes them (placeholders), for `platform_grants`: the (action,
    resource) pairs AWS itself uses on the role's behalf. `exception_actions` are the only ones
    allowed on "*"."""
    problems = [
        f"not allowed: {c.action} on {c.resource()} key {c.leading_key!r}"
        for c in sorted(set(calls), key=repr)
        if not any(allows(s, c) for s in statements)
    ]
    used: dict[tuple[str, str], set[str | None]] = {}
    for call in calls:
        used.setdefault((call.action, call.resource()), set()).add(call.prefix())
    for statement, written in zip(statements, written_resources, strict=True):
        sid = statement.get("Sid", "?")
        resources = _listed(statement["Resource"])
        actions = _listed(statement["Action"])
        if resources == ["*"]:
            if set(actions) != exception_actions:
                problems.append(f"{sid}: {sorted(set(actions) - exception_actions)} on *")
            continue
        for action in actions:
            if "*" in action:
                problems.append(f"{sid}: wildcard action {action}")
            for resource, placeholder in zip(resources, written, strict=True):
                if (action, placeholder) in platform_grants:
                    continue
                prefixes = used.get((action, resource))
                if not prefixes:
                    problems.append(f"{sid}: {action} on {resource} is never called")
                    continue
                condition = statement.get("Condition")
                if action.split(":")[1] not in _ITEM_ACTIONS or "/index/" in resource:
                    if condition is not None:
                        problems.append(f"{sid}: a key condition on {action} {resource}")
                    continue
                if condition is None:
                    problems.append(f"{sid}: {action} on every partition of the table")
                    continue
                patterns = set(condition["ForAllValues:StringLike"]["dynamodb:LeadingKeys"])
                wanted = {f"{p}*" for p in prefixes if p is not None}
                if patterns != wanted:
                    problems.append(
                        f"{sid}: {action} grants {sorted(patterns)}, calls use {sorted(wanted)}"
                    )
    return problems
