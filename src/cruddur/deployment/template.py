"""Reading deploy/template.yaml: its parameters, and its resources with the intrinsic functions the
template uses resolved for given parameter values, so tests can compare the table it declares with
what `cruddur ddb schema-load` creates and the role it grants with the calls the code makes."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from cruddur.config import project_root

TEMPLATE_PATH = Path("deploy") / "template.yaml"
TABLE_RESOURCE = "MessagesTable"
# CloudFormation's limit for a template sent inline (TemplateBody) rather than from S3.
TEMPLATE_BODY_LIMIT = 51_200
# The table's settings the template adds to what schema-load creates: production wants them,
# DynamoDB Local and throwaway tables do not.
PRODUCTION_ONLY_TABLE_SETTINGS = (
    "PointInTimeRecoverySpecification",
    "DeletionProtectionEnabled",
    "SSESpecification",
)


class TemplateError(ValueError):
    """The template uses something this reader does not resolve, or lacks what it needs."""


class _CfnLoader(yaml.SafeLoader):
    """YAML with CloudFormation's short forms (`!Ref X` is `{"Ref": "X"}`, `!Sub s` is
    `{"Fn::Sub": s}`, ...)."""


def _short_form(tag: str) -> Any:
    name = "Ref" if tag == "Ref" else f"Fn::{tag}"

    def construct(loader: yaml.SafeLoader, node: yaml.Node) -> dict[str, Any]:
        if isinstance(node, yaml.ScalarNode):
            value: Any = loader.construct_scalar(node)
            if tag == "GetAtt":
                value = str(value).split(".", 1)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
        return {name: value}

    return construct


for _tag in ("Ref", "Sub", "GetAtt", "If", "Equals", "Not", "And", "Or", "Join", "Select"):
    _CfnLoader.add_constructor(f"!{_tag}", _short_form(_tag))


def template_path(root: Path | None = None) -> Path:
    return (root or project_root()) / TEMPLATE_PATH


def load_template(path: Path | None = None) -> dict[str, Any]:
    text = (path or template_path()).read_text()
    loaded = yaml.load(text, Loader=_CfnLoader)  # noqa: S506 - a SafeLoader with the CFN tags
    if not isinstance(loaded, dict) or "Resources" not in loaded:
        raise TemplateError("the template has no Resources")
    return loaded


def parameter_defaults(template: Mapping[str, Any]) -> dict[str, str]:
    return {
        name: str(spec["Default"])
        for name, spec in template.get("Parameters", {}).items()
        if "Default" in spec
    }


_SUB_VARIABLE = re.compile(r"\$\{([^}!]+)\}")


class Resolver:
    """Resolves the template's intrinsic functions for given parameter values. Attributes of other
    resources (`!GetAtt`, `!Ref` of a resource) and parameters without a value resolve to
    placeholder strings such as `<MessagesTable.Arn>` or `<VpcId>`."""

    def __init__(self, template: Mapping[str, Any], parameters: Mapping[str, str]):
        self.template = template
        self.parameters = {**parameter_defaults(template), **parameters}
        self.parameters.setdefault("AWS::Region", "us-east-1")
        self.parameters.setdefault("AWS::AccountId", "123456789012")
        self.parameters.setdefault("AWS::Partition", "aws")
        self.parameters.setdefault("AWS::StackName", "cruddur")

    def condition(self, name: str) -> bool:
        return bool(self.resolve(self.template["Conditions"][name]))

    def _ref(self, name: str) -> Any:
        if name == "AWS::NoValue":
            return _NO_VALUE
        if name in self.parameters:
            value = self.parameters[name]
            spec = self.template.get("Parameters", {}).get(name, {})
            if spec.get("Type") == "Number":
                return int(value)
            return value
        if name in self.template["Resources"] or name in self.template.get("Parameters", {}):
            # another resource, or a parameter given no value: a placeholder callers can read
            return f"<{name}>"
        raise TemplateError(f"Ref to unknown name {name}")

    def _sub(self, text: str) -> str:
        def one(match: re.Match[str]) -> str:
            name = match.group(1)
            if "." in name:
                return f"<{name}>"
            return str(self._ref(name))

        return _SUB_VARIABLE.sub(one, text)

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [v for v in (self.resolve(v) for v in value) if v is not _NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, arg),) = value.items()
            if key == "Ref":
                return self._ref(arg)
            if key == "Fn::Sub":
                if not isinstance(arg, str):
                    raise TemplateError("only the one-argument form of Fn::Sub is resolved")
                return self._sub(arg)
            if key == "Fn::GetAtt":
                return f"<{'.'.join(arg)}>"
            if key == "Fn::If":
                name, when_true, when_false = arg
                return self.resolve(when_true if self.condition(name) else when_false)
            if key == "Fn::Equals":
                left, right = (self.resolve(a) for a in arg)
                return str(left) == str(right)
            if key == "Fn::Not":
                return not self.resolve(arg[0])
            if key.startswith("Fn::") or key == "Condition":
                raise TemplateError(f"{key} is not resolved by this reader")
        resolved = {k: self.resolve(v) for k, v in value.items()}
        return {k: v for k, v in resolved.items() if v is not _NO_VALUE}


_NO_VALUE = object()


def resource_properties(
    template: Mapping[str, Any], logical_id: str, parameters: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """The resource's Properties with every intrinsic function resolved."""
    try:
        resource = template["Resources"][logical_id]
    except KeyError as exc:
        raise TemplateError(f"the template has no resource {logical_id}") from exc
    return dict(Resolver(template, parameters or {}).resolve(resource.get("Properties", {})))


@dataclass(frozen=True)
class TemplateTable:
    """The template's table in DynamoDB's API shapes: CreateTable's arguments, the TTL attribute
    (UpdateTimeToLive's, None when off) and the production-only settings, kept apart."""

    create_request: dict[str, Any]
    ttl_attribute: str | None
    production_only: dict[str, Any]


def template_table(
    template: Mapping[str, Any], parameters: Mapping[str, str] | None = None
) -> TemplateTable:
    """What CloudFormation would ask DynamoDB for, for these parameter values."""
    properties = resource_properties(template, TABLE_RESOURCE, parameters)
    production = {
        name: properties.pop(name) for name in PRODUCTION_ONLY_TABLE_SETTINGS if name in properties
    }
    stream = properties.get("StreamSpecification")
    if stream is not None:
        # CloudFormation enables the stream by giving its view type; the API wants both.
        properties["StreamSpecification"] = {"StreamEnabled": True, **stream}
    ttl = properties.pop("TimeToLiveSpecification", None)
    ttl_attribute = (
        ttl["AttributeName"] if ttl and str(ttl.get("Enabled")).lower() == "true" else None
    )
    for holder in [properties, *properties.get("GlobalSecondaryIndexes", [])]:
        throughput = holder.get("ProvisionedThroughput")
        if throughput is not None:
            holder["ProvisionedThroughput"] = {k: int(v) for k, v in throughput.items()}
    return TemplateTable(properties, ttl_attribute, production)


def policy_statements(
    template: Mapping[str, Any], role: str, parameters: Mapping[str, str] | None = None
) -> list[dict[str, Any]]:
    """Every statement of the role's inline policies, resolved (other resources' attributes stay
    placeholders such as `<MessagesTable.Arn>`)."""
    properties = resource_properties(template, role, parameters)
    statements: list[dict[str, Any]] = []
    for policy in properties.get("Policies", []):
        statements.extend(policy["PolicyDocument"]["Statement"])
    return statements
