"""Cognito without AWS: botocore's Stubber for ListUsers, AWS's documented post-confirmation event,
the real PostgreSQL behind both."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.stub import Stubber
from click.testing import CliRunner

from cruddur.aws import cognito_idp_client
from cruddur.cli import db as db_cli
from cruddur.config import Settings
from cruddur.users import cognito
from cruddur.users.cognito import (
    confirm_user,
    post_confirmation_handler,
    update_cognito_user_ids,
)
from cruddur.users.errors import DuplicateHandle, UsersNotConfigured
from cruddur.users.repository import UserRepository

POOL_ID = "us-east-1_TestPool1"


@pytest.fixture(autouse=True)
def fake_aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_PROFILE", raising=False)


def cognito_user(username: str, sub: str, email: str, handle: str | None = None) -> dict[str, Any]:
    attributes = [
        {"Name": "sub", "Value": sub},
        {"Name": "email", "Value": email},
        {"Name": "email_verified", "Value": "true"},
    ]
    if handle is not None:
        attributes.append({"Name": "preferred_username", "Value": handle})
    return {
        "Username": username,
        "Attributes": attributes,
        "UserStatus": "CONFIRMED",
        "Enabled": True,
    }


def stubbed_client(pages: list[list[dict[str, Any]]]) -> tuple[Any, Stubber]:
    """A real cognito-idp client answering ListUsers with `pages`, linked by PaginationToken."""
    client = cognito_idp_client(Settings())
    stubber = Stubber(client)
    for index, users in enumerate(pages):
        expected: dict[str, Any] = {"UserPoolId": POOL_ID}
        if index > 0:
            expected["PaginationToken"] = f"token-{index}"
        response: dict[str, Any] = {"Users": users}
        if index < len(pages) - 1:
            response["PaginationToken"] = f"token-{index + 1}"
        stubber.add_response("list_users", response, expected)
    stubber.activate()
    return client, stubber


def test_update_cognito_user_ids_across_pages(users: UserRepository) -> None:
    andrew = users.create("andrewbrown", "Andrew Brown", "andrew@example.com")
    bayko = users.create("bayko", "Andrew Bayko", "bayko@example.com", cognito_user_id="MOCK")
    linked = users.create("linked", "Already Linked", "linked@example.com", cognito_user_id="sub-l")
    client, stubber = stubbed_client(
        [
            [
                cognito_user("u-andrew", "sub-andrew", "other@example.com", handle="AndrewBrown"),
                cognito_user("u-stranger", "sub-stranger", "stranger@example.com", handle="nobody"),
            ],
            [
                cognito_user("u-bayko", "sub-bayko", "BAYKO@example.com"),
                cognito_user("u-linked", "sub-l", "linked@example.com", handle="linked"),
            ],
        ]
    )

    result = update_cognito_user_ids(users, client, POOL_ID)

    stubber.assert_no_pending_responses()
    assert [
        (c.handle, c.old_cognito_user_id, c.new_cognito_user_id, c.matched_by)
        for c in result.changed
    ] == [
        ("andrewbrown", None, "sub-andrew", "preferred_username"),
        ("bayko", "MOCK", "sub-bayko", "email"),
    ]
    assert [s.cognito_username for s in result.skipped] == ["u-stranger"]
    assert result.unchanged == 1
    assert users.find_by_cognito_id("sub-andrew").uuid == andrew.uuid  # type: ignore[union-attr]
    assert users.find_by_cognito_id("sub-bayko").uuid == bayko.uuid  # type: ignore[union-attr]
    assert users.find_by_cognito_id("sub-l") == linked


def test_update_cognito_user_ids_twice_changes_nothing_the_second_time(
    users: UserRepository,
) -> None:
    users.create("andrewbrown", "Andrew Brown", "andrew@example.com")
    page = [cognito_user("u-andrew", "sub-andrew", "andrew@example.com", handle="andrewbrown")]
    client, _ = stubbed_client(
        [
            page,
        ]
    )
    first = update_cognito_user_ids(users, client, POOL_ID)
    client, _ = stubbed_client([page])

    second = update_cognito_user_ids(users, client, POOL_ID)

    assert len(first.changed) == 1
    assert second.changed == [] and second.unchanged == 1


def test_a_sub_held_by_another_user_is_skipped_not_stolen(users: UserRepository) -> None:
    holder = users.create("holder", "Holder", "holder@example.com", cognito_user_id="sub-x")
    users.create("other", "Other", "other@example.com")
    client, _ = stubbed_client([[cognito_user("u-x", "sub-x", "o@example.com", handle="other")]])

    result = update_cognito_user_ids(users, client, POOL_ID)

    assert result.changed == []
    assert "another user" in result.skipped[0].reason
    assert users.find_by_cognito_id("sub-x") == holder


def test_update_cognito_user_ids_needs_a_pool_id(users: UserRepository) -> None:
    with pytest.raises(UsersNotConfigured, match="AWS_COGNITO_USER_POOL_ID"):
        update_cognito_user_ids(users, object(), None)


def test_the_command_prints_what_changed(
    users: UserRepository, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    users.create("andrewbrown", "Andrew Brown", "andrew@example.com")
    client, _ = stubbed_client(
        [[cognito_user("u-andrew", "sub-andrew", "andrew@example.com", handle="andrewbrown")]]
    )
    monkeypatch.setenv("CONNECTION_URL", postgres_url)
    monkeypatch.setenv("AWS_COGNITO_USER_POOL_ID", POOL_ID)
    monkeypatch.setattr(db_cli, "cognito_idp_client", lambda settings: client)

    result = CliRunner().invoke(db_cli.db, ["update-cognito-user-ids"])

    assert result.exit_code == 0, result.output
    assert "@andrewbrown: cognito_user_id (none) -> sub-andrew" in result.output
    assert "1 changed, 0 already linked" in result.output


def test_the_command_without_a_pool_id_is_one_line(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CONNECTION_URL", postgres_url)
    monkeypatch.delenv("AWS_COGNITO_USER_POOL_ID", raising=False)

    result = CliRunner().invoke(db_cli.db, ["update-cognito-user-ids"])

    assert result.exit_code == 1
    assert result.output.strip() == "Error: AWS_COGNITO_USER_POOL_ID is not set"


# --- the post-confirmation Lambda trigger -----------------------------------------------------------

# https://docs.aws.amazon.com/cognito/latest/developerguide/user-pool-lambda-post-confirmation.html
POST_CONFIRMATION_EVENT: dict[str, Any] = {
    "version": "1",
    "region": "us-east-1",
    "userPoolId": POOL_ID,
    "userName": "4c9e5c38-9f8d-4d2e-8c1e-7f1f2a3b4c5d",
    "callerContext": {
        "awsSdkVersion": "aws-sdk-unknown-unknown",
        "clientId": "1example23456789",
    },
    "triggerSource": "PostConfirmation_ConfirmSignUp",
    "request": {
        "userAttributes": {
            "sub": "4c9e5c38-9f8d-4d2e-8c1e-7f1f2a3b4c5d",
            "cognito:user_status": "CONFIRMED",
            "email_verified": "true",
            "name": "Andrew Brown",
            "preferred_username": "andrewbrown",
            "email": "andrew@example.com",
        }
    },
    "response": {},
}


@pytest.fixture
def lambda_environment(postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("CONNECTION_URL", postgres_url)
    cognito.reset_lambda_repository()
    yield
    cognito.reset_lambda_repository()


def test_post_confirmation_inserts_the_user_and_is_safe_twice(
    users: UserRepository, lambda_environment: None
) -> None:
    event = copy.deepcopy(POST_CONFIRMATION_EVENT)

    first = post_confirmation_handler(event, None)
    second = post_confirmation_handler(copy.deepcopy(POST_CONFIRMATION_EVENT), None)

    assert first == POST_CONFIRMATION_EVENT
    assert second == POST_CONFIRMATION_EVENT
    user = users.find_by_cognito_id("4c9e5c38-9f8d-4d2e-8c1e-7f1f2a3b4c5d")
    assert user is not None
    assert (user.handle, user.display_name, user.email) == (
        "andrewbrown",
        "Andrew Brown",
        "andrew@example.com",
    )
    assert users.find_by_handles(["andrewbrown"]) == [user]


def test_post_confirmation_links_a_seeded_user_with_that_handle_and_email(
    users: UserRepository,
) -> None:
    seeded = users.create("andrewbrown", "Andrew Brown", "Andrew@Example.com")

    user = confirm_user(users, POST_CONFIRMATION_EVENT)

    assert user is not None and user.uuid == seeded.uuid
    assert user.cognito_user_id == "4c9e5c38-9f8d-4d2e-8c1e-7f1f2a3b4c5d"


def test_post_confirmation_refuses_a_handle_someone_else_holds(users: UserRepository) -> None:
    users.create("andrewbrown", "Someone Else", "else@example.com")

    with pytest.raises(DuplicateHandle):
        confirm_user(users, POST_CONFIRMATION_EVENT)

    assert users.find_by_cognito_id("4c9e5c38-9f8d-4d2e-8c1e-7f1f2a3b4c5d") is None


def test_a_confirmed_password_reset_changes_nothing(users: UserRepository) -> None:
    event = copy.deepcopy(POST_CONFIRMATION_EVENT)
    event["triggerSource"] = "PostConfirmation_ConfirmForgotPassword"

    assert confirm_user(users, event) is None
    assert users.find_by_handle("andrewbrown") is None
