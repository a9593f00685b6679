"""What can stop a deployment, one type per thing the caller (the CLI) says differently."""

from __future__ import annotations


class DeployError(Exception):
    """Base of the deployment's failures; the message is the one line the CLI prints."""


class CredentialsMissing(DeployError):
    """botocore's credential chain found nothing: no call to AWS was made."""


class StackNotDeployable(DeployError):
    """The stack is in a state no change set can be made for (being changed, or a first creation
    that rolled back and must be deleted)."""


class ChangeSetFailed(DeployError):
    """CloudFormation refused the change set (its reason is the message); nothing was applied."""


class DeployFailed(DeployError):
    """The change set was executed and the stack rolled back (or failed); the message names the
    first resources that failed and why."""


class PackagingFailed(DeployError):
    """A Lambda zip could not be built (a wheel that does not download, a package not installed)."""
