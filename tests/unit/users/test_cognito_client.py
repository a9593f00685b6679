"""The cognito-idp client's endpoint: never DynamoDB Local's."""

from __future__ import annotations

import pytest

from cruddur.aws import cognito_idp_client
from cruddur.config import Settings


@pytest.fixture(autouse=True)
def fake_aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_PROFILE", raising=False)


def test_a_configured_aws_endpoint_url_does_not_send_cognito_to_dynamodb_local(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://localhost:8000")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-2")

    client = cognito_idp_client(Settings.from_env())

    assert client.meta.endpoint_url == "https://cognito-idp.eu-west-2.amazonaws.com"
