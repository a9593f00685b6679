"""Cognito's issuer and JWKS URLs, built from the region and pool id."""

from __future__ import annotations

from cruddur.auth import (
    cognito_issuer,
    cognito_jwks_url,
)


def test_the_pool_urls_follow_cognitos_scheme():
    assert cognito_issuer("eu-west-2", "eu-west-2_abc") == (
        "https://cognito-idp.eu-west-2.amazonaws.com/eu-west-2_abc"
    )
    assert cognito_jwks_url("eu-west-2", "eu-west-2_abc") == (
        "https://cognito-idp.eu-west-2.amazonaws.com/eu-west-2_abc/.well-known/jwks.json"
    )
