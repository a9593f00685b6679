"""The tool-kit's settings: --prod ignores the configured local endpoint."""

from __future__ import annotations


def test_prod_ignores_the_configured_local_endpoint(monkeypatch):
    from cruddur.cli.common import toolkit_settings

    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", "http://localhost:8000")
    assert toolkit_settings(prod=True).dynamodb_endpoint_url is None
    assert toolkit_settings(prod=False).dynamodb_endpoint_url == "http://localhost:8000"
    monkeypatch.delenv("AWS_ENDPOINT_URL_DYNAMODB")
    assert toolkit_settings(prod=False).dynamodb_endpoint_url == "http://localhost:8000"
