"""Cognito and the users store, as in the seed: link users to their Cognito user ids
(`update_cognito_user_ids`, the seed's bin/db/update_cognito_user_ids) and insert users Cognito
has just confirmed (`post_confirmation_handler`, a Lambda trigger).

Lambda handler path: `cruddur.users.cognito.post_confirmation_handler`. It reads CONNECTION_URL
(the production database in the Lambda's environment) and keeps one pool per warm container.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from cruddur.users.errors import (
    DuplicateCognitoUserId,
    DuplicateHandle,
    InvalidUserInput,
    UsersNotConfigured,
)
from cruddur.users.models import User
from cruddur.users.repository import UserRepository

logger = logging.getLogger(__name__)

CONFIRM_SIGN_UP = "PostConfirmation_ConfirmSignUp"


@dataclass(frozen=True)
class CognitoIdChange:
    handle: str
    user_uuid: str
    old_cognito_user_id: str | None
    new_cognito_user_id: str
    matched_by: str  # "preferred_username" or "email"


@dataclass(frozen=True)
class CognitoIdSkip:
    cognito_username: str
    reason: str


@dataclass
class CognitoIdUpdate:
    """What `update_cognito_user_ids` did: links made or changed, Cognito users left alone (and
    why), and how many were already linked."""

    changed: list[CognitoIdChange] = field(default_factory=list)
    skipped: list[CognitoIdSkip] = field(default_factory=list)
    unchanged: int = 0


def _attributes(cognito_user: Mapping[str, Any]) -> dict[str, str]:
    return {a["Name"]: a.get("Value", "") for a in cognito_user.get("Attributes", [])}


def _match(repo: UserRepository, attrs: Mapping[str, str]) -> tuple[User | None, str, str]:
    """The store's user for a Cognito user: preferred_username = handle first, then a unique email."""
    handle = attrs.get("preferred_username", "").strip()
    if handle:
        user = repo.find_by_handle(handle)
        if user is not None:
            return user, "preferred_username", ""
    email = attrs.get("email", "").strip()
    if email:
        users = repo.find_by_email(email)
        if len(users) == 1:
            return users[0], "email", ""
        if len(users) > 1:
            return None, "", f"{len(users)} users share the email"
    return None, "", "no user with that preferred_username or email"


def update_cognito_user_ids(
    repo: UserRepository, cognito_idp: Any, user_pool_id: str | None
) -> CognitoIdUpdate:
    """Read every user of the pool (ListUsers, all pages) and set `cognito_user_id` (their `sub`)
    on the matching user of the store (preferred_username = handle, else a unique email).
    Re-running changes nothing; an id another user already holds is skipped, not stolen."""
    if not user_pool_id:
        raise UsersNotConfigured("AWS_COGNITO_USER_POOL_ID is not set")
    result = CognitoIdUpdate()
    for page in cognito_idp.get_paginator("list_users").paginate(UserPoolId=user_pool_id):
        for cognito_user in page.get("Users", []):
            username = cognito_user.get("Username", "")
            attrs = _attributes(cognito_user)
            sub = attrs.get("sub") or username
            user, matched_by, reason = _match(repo, attrs)
            if user is None:
                result.skipped.append(CognitoIdSkip(username, reason))
                continue
            if user.cognito_user_id == sub:
                result.unchanged += 1
                continue
            try:
                repo.set_cognito_user_id(user.uuid, sub)
            except DuplicateCognitoUserId:
                result.skipped.append(
                    CognitoIdSkip(username, "its sub already belongs to another user")
                )
                continue
            result.changed.append(
                CognitoIdChange(user.handle, user.uuid, user.cognito_user_id, sub, matched_by)
            )
    return result


def confirm_user(repo: UserRepository, event: Mapping[str, Any]) -> User | None:
    """Insert the user of a post-confirmation event (handle from preferred_username, display
    name from name, email, Cognito id from sub) and return it. Idempotent: a user already linked
    to that sub is returned as it is, and a user with that handle and email but no Cognito id yet
    (seeded, say) is linked. Other trigger sources (a confirmed password reset) change nothing
    and return None. Raises DuplicateHandle when the handle belongs to someone else."""
    if event.get("triggerSource") != CONFIRM_SIGN_UP:
        return None
    attrs: Mapping[str, str] = event.get("request", {}).get("userAttributes", {})
    sub = attrs.get("sub", "").strip()
    if not sub:
        raise InvalidUserInput("cognito_user_id_blank", "the event carries no sub")
    existing = repo.find_by_cognito_id(sub)
    if existing is not None:
        return existing
    handle = (attrs.get("preferred_username") or event.get("userName") or "").strip()
    email = attrs.get("email", "").strip()
    display_name = (attrs.get("name") or handle).strip()
    try:
        return repo.create(handle, display_name, email, cognito_user_id=sub)
    except DuplicateCognitoUserId:
        # A concurrent delivery of the same event got there first.
        user = repo.find_by_cognito_id(sub)
        if user is not None:
            return user
        raise
    except DuplicateHandle:
        user = repo.find_by_handle(handle)
        if (
            user is not None
            and user.cognito_user_id is None
            and user.email.lower() == email.lower()
        ):
            repo.set_cognito_user_id(user.uuid, sub)
            return repo.find_by_uuid(user.uuid)
        if user is not None and user.cognito_user_id == sub:
            return user
        raise


_repository: UserRepository | None = None


def _lambda_repository() -> UserRepository:
    """One pool per warm Lambda container, made on first use (nothing happens at import)."""
    global _repository
    if _repository is None:
        # The handler is an entrypoint: it builds through the composition root like the others.
        from dataclasses import replace

        from cruddur.bootstrap import lambda_connection_url, user_repository
        from cruddur.config import Settings

        settings = Settings.from_env()
        # Checked there: without CONNECTION_URL the composition root would look for a private
        # cluster, which no Lambda has. DATABASE_SECRET_ARN brings the password.
        settings = replace(settings, connection_url=lambda_connection_url(settings))
        # Cognito delivers one event at a time per container: two connections are plenty.
        _repository = user_repository(settings, min_size=1, max_size=2)
    return _repository


def reset_lambda_repository() -> None:
    """Close and forget the cached pool (tests, or a Lambda whose settings changed)."""
    global _repository
    if _repository is not None:
        _repository.pool.close()
    _repository = None


def post_confirmation_handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """Cognito post-confirmation trigger: insert the confirmed user, return the event unchanged
    (Cognito requires it back). Safe to run twice for one event."""
    user = confirm_user(_lambda_repository(), event)
    if user is not None:
        # The uuid only: handles and emails are personal data and stay out of the logs.
        logger.info("post-confirmation: user %s stored", user.uuid)
    return event
