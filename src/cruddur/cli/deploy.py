"""`cruddur deploy`: package both Lambdas, upload them, and create or update the stack of
deploy/template.yaml through a change set printed before it is applied (docs/deployment.md)."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click
from botocore.exceptions import BotoCoreError, ProfileNotFound

from cruddur.aws import cloudformation_client, has_credentials, s3_client
from cruddur.cli.common import fail
from cruddur.config import Settings, project_root
from cruddur.deployment.cloudformation import StackDeployer
from cruddur.deployment.errors import CredentialsMissing, DeployError
from cruddur.deployment.packaging import (
    POST_CONFIRMATION_ZIP_NAME,
    STREAM_PROCESSOR_ZIP_NAME,
    build_post_confirmation_zip,
    build_stream_processor_zip,
)
from cruddur.deployment.template import (
    TEMPLATE_BODY_LIMIT,
    TemplateError,
    load_template,
    template_path,
)

F = TypeVar("F", bound=Callable[..., Any])
DEFAULT_STACK = "cruddur"
# The parameters `cruddur deploy` sets itself: where it put the code.
OWN_PARAMETERS = ("ArtifactBucket", "StreamProcessorCodeKey", "PostConfirmationCodeKey")
CREDENTIALS_NEEDED = (
    "cruddur deploy needs AWS credentials: set AWS_PROFILE (or AWS_ACCESS_KEY_ID and "
    "AWS_SECRET_ACCESS_KEY) and AWS_DEFAULT_REGION, or run where a role provides them"
)


def _deploy_errors(func: F) -> F:
    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except CredentialsMissing:
            fail(CREDENTIALS_NEEDED)
        except (DeployError, TemplateError) as exc:
            fail(str(exc))
        except ProfileNotFound as exc:
            fail(f"{exc}: check AWS_PROFILE (aws configure list-profiles)")
        except BotoCoreError as exc:  # a region or configuration botocore cannot use
            fail(str(exc))

    return wrapper  # type: ignore[return-value]


def _parameters(parameters_file: Path | None, pairs: tuple[str, ...]) -> dict[str, str]:
    values: dict[str, str] = {}
    if parameters_file is not None:
        try:
            loaded = json.loads(parameters_file.read_text())
        except (OSError, ValueError) as exc:
            raise click.BadParameter(
                f"{parameters_file}: {exc}", param_hint="--parameters-file"
            ) from exc
        if not isinstance(loaded, dict):
            raise click.BadParameter(
                f"{parameters_file}: expected an object of names to values",
                param_hint="--parameters-file",
            )
        values.update({str(k): str(v) for k, v in loaded.items()})
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{pair!r} is not KEY=VALUE", param_hint="--parameter")
        values[key] = value
    own = sorted(set(values) & set(OWN_PARAMETERS))
    if own:
        raise click.BadParameter(
            f"{', '.join(own)} are set by cruddur deploy itself (use --bucket)",
            param_hint="--parameter",
        )
    return values


@click.command("deploy")
@click.option("--stack-name", default=DEFAULT_STACK, show_default=True, help="The stack.")
@click.option(
    "--bucket",
    required=True,
    help="The S3 bucket the Lambda zips are uploaded to (the ArtifactBucket parameter).",
)
@click.option("--prefix", default="cruddur", show_default=True, help="Key prefix in the bucket.")
@click.option(
    "--parameter",
    "parameter_pairs",
    multiple=True,
    metavar="KEY=VALUE",
    help="A template parameter (repeatable); on an update, parameters not given keep their values.",
)
@click.option(
    "--parameters-file",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    default=None,
    help='A JSON object of template parameters, e.g. {"VpcId": "vpc-..."}.',
)
@click.option(
    "--template",
    "template_file",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    default=None,
    help="The template [default: deploy/template.yaml].",
)
@click.option(
    "--output-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where the zips are built [default: dist/].",
)
@click.option(
    "--dry-run", is_flag=True, help="Print the change set, then delete it: apply nothing."
)
@click.option("--yes", is_flag=True, help="Apply the change set without asking.")
@_deploy_errors
def deploy(
    stack_name: str,
    bucket: str,
    prefix: str,
    parameter_pairs: tuple[str, ...],
    parameters_file: Path | None,
    template_file: Path | None,
    output_dir: Path | None,
    dry_run: bool,
    yes: bool,
) -> None:
    """Create or update the AWS stack: the table, the stream processor, Redis, the Cognito trigger.

    Packages both Lambdas, uploads them to --bucket (content-addressed keys), makes a change set,
    prints it, and applies it after asking (--yes: without asking; --dry-run: never)."""
    parameters = _parameters(parameters_file, parameter_pairs)
    path = template_file or template_path()
    body = path.read_text()
    if len(body.encode()) > TEMPLATE_BODY_LIMIT:
        raise DeployError(
            f"{path} is over CloudFormation's {TEMPLATE_BODY_LIMIT} bytes inline limit"
        )
    template_parameters = set(load_template(path).get("Parameters", {}))
    # Before packaging or any call: without credentials nothing below can work.
    if not has_credentials():
        raise CredentialsMissing(CREDENTIALS_NEEDED)
    dist = output_dir or project_root() / "dist"
    stream_zip = build_stream_processor_zip(dist / STREAM_PROCESSOR_ZIP_NAME)
    trigger_zip = build_post_confirmation_zip(dist / POST_CONFIRMATION_ZIP_NAME, dist / "wheels")
    settings = Settings.from_env()
    deployer = StackDeployer(cloudformation_client(settings), s3_client(settings))
    keys = {}
    for parameter, artifact in (
        ("StreamProcessorCodeKey", stream_zip),
        ("PostConfirmationCodeKey", trigger_zip),
    ):
        uploaded = deployer.upload(bucket, artifact, prefix)
        state = "uploaded" if uploaded.uploaded else "already there"
        click.echo(f"s3://{bucket}/{uploaded.key} ({state})")
        keys[parameter] = uploaded.key
    change_set = deployer.change_set(
        stack_name,
        body,
        {**parameters, "ArtifactBucket": bucket, **keys},
        template_parameters,
        tags={"project": "cruddur"},
    )
    if change_set is None:
        click.echo(f"no changes: stack {stack_name} is up to date")
        return
    for line in change_set.lines():
        click.echo(line)
    if dry_run:
        deployer.discard(change_set)
        click.echo("dry run: change set deleted, nothing applied")
        return
    if not yes and not click.confirm("Apply this change set?", default=False):
        deployer.discard(change_set)
        click.echo("not applied: change set deleted")
        return
    outputs = deployer.execute(change_set)
    click.echo(f"stack {stack_name} is up to date")
    for key, value in sorted(outputs.items()):
        click.echo(f"  {key} = {value}")


COMMANDS = [deploy]
