"""The CloudFormation side of `cruddur deploy`: upload the Lambda zips to the artifact bucket, make a
change set (CREATE for a new stack, UPDATE otherwise), read what it would change, and execute it,
following the stack until it settles.

Clients come from `cruddur.aws` (the one factory); this module only drives them, so the tests give
it clients wrapped in botocore's Stubber and check every call and its arguments.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Collection, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from cruddur.deployment.errors import (
    ChangeSetFailed,
    CredentialsMissing,
    DeployError,
    DeployFailed,
    StackNotDeployable,
)

# Roles are created without fixed names, so CAPABILITY_IAM (not _NAMED_IAM) is enough.
CAPABILITIES = ["CAPABILITY_IAM"]
# What CloudFormation says when a change set would change nothing: not a failure.
_NO_CHANGES = ("didn't contain changes", "No updates are to be performed")
# A stack left by a creation that failed: nothing can update it, it must be deleted first.
_DELETE_FIRST = {"ROLLBACK_COMPLETE", "ROLLBACK_FAILED", "DELETE_FAILED"}
_SUCCEEDED = {"CREATE_COMPLETE", "UPDATE_COMPLETE", "IMPORT_COMPLETE"}
POLL_SECONDS = 5.0
# A first creation waits for ElastiCache (10-15 minutes); an hour covers the slowest update.
WAIT_SECONDS = 3600.0


@dataclass(frozen=True)
class ResourceChange:
    action: str  # Add, Modify, Remove, Import, Dynamic
    logical_id: str
    resource_type: str
    replacement: str | None  # True, False, Conditional (Modify only)

    def line(self) -> str:
        replaced = f" (replacement: {self.replacement})" if self.replacement else ""
        return f"{self.action:<7} {self.logical_id} {self.resource_type}{replaced}"


@dataclass(frozen=True)
class ChangeSet:
    stack_name: str
    name: str
    arn: str
    change_type: str  # CREATE or UPDATE
    changes: tuple[ResourceChange, ...]

    def lines(self) -> list[str]:
        verb = "create" if self.change_type == "CREATE" else "update"
        head = (
            f"change set {self.name}: {verb} stack {self.stack_name}, {len(self.changes)} change(s)"
        )
        return [head, *(f"  {change.line()}" for change in self.changes)]


@dataclass(frozen=True)
class Uploaded:
    bucket: str
    key: str
    uploaded: bool  # False: the same bytes were already there


def artifact_key(path: Path, prefix: str) -> str:
    """Content-addressed: the same zip gets the same key (nothing re-uploaded, the function's code
    unchanged in the change set), a different one a new key, and an old key stays for a rollback."""
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    return f"{prefix.strip('/')}/{path.stem}-{digest}{path.suffix}"


def deploy_error(exc: Exception, what: str) -> DeployError:
    """A botocore failure as the DeployError the CLI prints (one line)."""
    if isinstance(exc, NoCredentialsError):
        return CredentialsMissing(
            "no AWS credentials found: set AWS_PROFILE (or AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY) and AWS_DEFAULT_REGION"
        )
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        return DeployError(f"{what}: {error.get('Code', 'error')}: {error.get('Message', exc)}")
    return DeployError(f"{what}: {exc}")


@contextmanager
def aws_errors(what: str) -> Iterator[None]:
    """botocore's failures raised as DeployError."""
    try:
        yield
    except (ClientError, BotoCoreError) as exc:
        raise deploy_error(exc, what) from exc


class StackDeployer:
    """Drives one stack. `sleep` and `clock` are injected so tests poll without waiting."""

    def __init__(
        self,
        cloudformation: Any,
        s3: Any,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        poll_seconds: float = POLL_SECONDS,
        wait_seconds: float = WAIT_SECONDS,
    ):
        self.cloudformation = cloudformation
        self.s3 = s3
        self.sleep = sleep
        self.clock = clock
        self.now = now
        self.poll_seconds = poll_seconds
        self.wait_seconds = wait_seconds

    # --- artifacts ---------------------------------------------------------------------------

    def upload(self, bucket: str, path: Path, prefix: str = "cruddur") -> Uploaded:
        """Put the zip under its content-addressed key unless that key is already there."""
        key = artifact_key(path, prefix)
        try:
            self.s3.head_object(Bucket=bucket, Key=key)
            return Uploaded(bucket, key, uploaded=False)
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code not in ("404", "NoSuchKey", "NotFound"):
                raise DeployError(
                    f"the artifact bucket {bucket} cannot be read ({code}): check its name "
                    "(--bucket) and your permissions"
                ) from exc
        except BotoCoreError as exc:
            raise deploy_error(exc, "checking the artifact bucket") from exc
        with aws_errors(f"uploading {path.name} to s3://{bucket}"):
            self.s3.put_object(
                Bucket=bucket, Key=key, Body=path.read_bytes(), ContentType="application/zip"
            )
        return Uploaded(bucket, key, uploaded=True)

    # --- the stack ---------------------------------------------------------------------------

    def stack(self, stack_name: str) -> dict[str, Any] | None:
        """The stack's description, or None when there is none."""
        try:
            answer = self.cloudformation.describe_stacks(StackName=stack_name)
        except ClientError as exc:
            if "does not exist" in str(exc.response.get("Error", {}).get("Message", "")):
                return None
            raise deploy_error(exc, f"reading stack {stack_name}") from exc
        except BotoCoreError as exc:
            raise deploy_error(exc, f"reading stack {stack_name}") from exc
        stacks = answer.get("Stacks", [])
        return dict(stacks[0]) if stacks else None

    def change_set(
        self,
        stack_name: str,
        template_body: str,
        parameters: Mapping[str, str],
        template_parameters: Collection[str],
        tags: Mapping[str, str] | None = None,
    ) -> ChangeSet | None:
        """Make the change set and wait until CloudFormation has worked it out. None when it
        would change nothing (it is deleted then); ChangeSetFailed when CloudFormation refuses
        it (deleted too: the reason is in the error)."""
        unknown = sorted(set(parameters) - set(template_parameters))
        if unknown:
            raise DeployError(
                f"unknown template parameter(s) {', '.join(unknown)}; the template has "
                f"{', '.join(sorted(template_parameters))}"
            )
        stack = self.stack(stack_name)
        status = stack["StackStatus"] if stack else None
        if status in _DELETE_FIRST:
            raise StackNotDeployable(
                f"stack {stack_name} is {status} (its creation failed): delete it first "
                f"(aws cloudformation delete-stack --stack-name {stack_name}; the table is retained)"
            )
        if (
            status is not None
            and status.endswith("_IN_PROGRESS")
            and status != "REVIEW_IN_PROGRESS"
        ):
            raise StackNotDeployable(f"stack {stack_name} is being changed ({status}): wait for it")
        if status == "UPDATE_ROLLBACK_FAILED":
            raise StackNotDeployable(
                f"stack {stack_name} is UPDATE_ROLLBACK_FAILED: finish the rollback first "
                f"(aws cloudformation continue-update-rollback --stack-name {stack_name})"
            )
        # REVIEW_IN_PROGRESS: a creation's change set was made but never executed; create again.
        change_type = "UPDATE" if stack and status != "REVIEW_IN_PROGRESS" else "CREATE"
        previous = {p["ParameterKey"] for p in (stack or {}).get("Parameters", [])}
        request_parameters: list[dict[str, Any]] = [
            {"ParameterKey": key, "ParameterValue": value} for key, value in parameters.items()
        ]
        if change_type == "UPDATE":
            # what this run does not set keeps the value the stack has
            request_parameters += [
                {"ParameterKey": key, "UsePreviousValue": True}
                for key in sorted(previous - set(parameters))
                if key in template_parameters
            ]
        name = f"cruddur-{self.now().strftime('%Y%m%d-%H%M%S')}"
        with aws_errors(f"creating change set {name}"):
            created = self.cloudformation.create_change_set(
                StackName=stack_name,
                ChangeSetName=name,
                ChangeSetType=change_type,
                TemplateBody=template_body,
                Parameters=request_parameters,
                Capabilities=CAPABILITIES,
                Tags=[{"Key": k, "Value": v} for k, v in (tags or {}).items()],
            )
        arn = created["Id"]
        description = self._settled_change_set(arn)
        if description["Status"] == "FAILED":
            reason = str(description.get("StatusReason", "no reason given"))
            with aws_errors(f"deleting change set {name}"):
                self.cloudformation.delete_change_set(ChangeSetName=arn)
            if any(marker in reason for marker in _NO_CHANGES):
                return None
            raise ChangeSetFailed(f"change set {name} failed: {reason}")
        changes = [*description.get("Changes", [])]
        token = description.get("NextToken")
        while token:
            with aws_errors(f"reading change set {name}"):
                page = self.cloudformation.describe_change_set(ChangeSetName=arn, NextToken=token)
            changes.extend(page.get("Changes", []))
            token = page.get("NextToken")
        return ChangeSet(
            stack_name=stack_name,
            name=name,
            arn=arn,
            change_type=change_type,
            changes=tuple(_resource_change(c) for c in changes),
        )

    def _settled_change_set(self, arn: str) -> dict[str, Any]:
        deadline = self.clock() + self.wait_seconds
        while True:
            with aws_errors("reading the change set"):
                description = dict(self.cloudformation.describe_change_set(ChangeSetName=arn))
            if description["Status"] in ("CREATE_COMPLETE", "FAILED"):
                return description
            if self.clock() >= deadline:
                raise DeployError(
                    f"the change set is still {description['Status']}; see the console"
                )
            self.sleep(self.poll_seconds)

    def discard(self, change_set: ChangeSet) -> None:
        with aws_errors(f"deleting change set {change_set.name}"):
            self.cloudformation.delete_change_set(ChangeSetName=change_set.arn)

    def execute(self, change_set: ChangeSet) -> dict[str, str]:
        """Apply the change set and follow the stack until it settles: its outputs when it
        succeeded, DeployFailed (the first failed resources and their reasons) when it rolled back."""
        started = self.now()
        with aws_errors(f"executing change set {change_set.name}"):
            self.cloudformation.execute_change_set(ChangeSetName=change_set.arn)
        deadline = self.clock() + self.wait_seconds
        while True:
            stack = self.stack(change_set.stack_name)
            status = stack["StackStatus"] if stack else "DELETE_COMPLETE"
            if stack is not None and not status.endswith("_IN_PROGRESS"):
                break
            if self.clock() >= deadline:
                raise DeployError(
                    f"stack {change_set.stack_name} is still {status}; see the console"
                )
            self.sleep(self.poll_seconds)
        if status not in _SUCCEEDED:
            raise DeployFailed(
                f"stack {change_set.stack_name} ended {status}: "
                + self._failure_reasons(change_set.stack_name, started)
            )
        return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}

    def _failure_reasons(self, stack_name: str, since: datetime) -> str:
        with aws_errors(f"reading the events of stack {stack_name}"):
            events = self.cloudformation.describe_stack_events(StackName=stack_name)["StackEvents"]
        failed = [
            e
            for e in reversed(events)  # newest first: the first failure is the cause
            if str(e.get("ResourceStatus", "")).endswith("_FAILED")
            and e.get("Timestamp", since) >= since
            and e.get("LogicalResourceId") != stack_name
        ]
        if not failed:
            return "no resource reported a failure (see the stack's events)"
        return "; ".join(
            f"{e['LogicalResourceId']}: {e.get('ResourceStatusReason', e['ResourceStatus'])}"
            for e in failed[:3]
        )


def _resource_change(change: Mapping[str, Any]) -> ResourceChange:
    detail = change.get("ResourceChange", {})
    return ResourceChange(
        action=str(detail.get("Action", change.get("Type", "?"))),
        logical_id=str(detail.get("LogicalResourceId", "?")),
        resource_type=str(detail.get("ResourceType", "?")),
        replacement=detail.get("Replacement") if detail.get("Action") == "Modify" else None,
    )
