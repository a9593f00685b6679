"""Production authentication: Amazon Cognito access tokens verified against the pool's JWKS. The
tests serve a JWKS they generate on a loopback port (no network) and mint tokens with its key."""

from __future__ import annotations

import time
from dataclasses import replace

import pytest

from cruddur.api import create_app
from cruddur.auth import (
    KeySetUnavailable,
    RemoteKeySet,
    TokenVerifier,
    Unauthenticated,
    cognito_issuer,
)
from fixtures_api import ApiClient, FlaskTransport, TokenMint

POOL = "us-east-1_TestPool1"
CLIENT = "5example0client0id0abcdefg"
SUB = "0f9c1e2d-1111-4a4a-9b9b-3c3c3c3c3c3c"


@pytest.fixture
def cognito_settings(settings):
    return replace(settings, cognito_user_pool_id=POOL, cognito_client_id=CLIENT)


@pytest.fixture
def mint(cognito_settings) -> TokenMint:
    return TokenMint(cognito_issuer(cognito_settings.region, POOL), CLIENT)


@pytest.fixture
def cognito_api(cognito_settings, repo, users, mint, jwks_server) -> ApiClient:
    jwks_server.serve(mint.jwks())
    app = create_app(
        cognito_settings, messages=repo, users=users, key_set=RemoteKeySet(jwks_server.url)
    )
    return ApiClient(FlaskTransport(app))


@pytest.fixture
def andrew(register, users):
    user = register("andrewbrown")
    users.set_cognito_user_id(user.uuid, SUB)
    return user


def test_a_cognito_access_token_names_the_user_by_sub(cognito_api, mint, andrew, register):
    register("bayko")
    client = cognito_api.with_token(mint.token(SUB, username="andrewbrown"))

    sent = client.send_to_handle("bayko", "from Cognito")

    assert sent.status == 200
    assert sent.body["handle"] == "andrewbrown"
    assert client.conversations().body[0]["handle"] == "bayko"


@pytest.mark.parametrize(
    "change",
    [
        {"exp": int(time.time()) - 60},
        {"client_id": "another-app-client"},
        {"iss": cognito_issuer("us-east-1", "us-east-1_OtherPool")},
        {"token_use": "id", "aud": CLIENT},
        {"token_use": "id"},
        {"sub": "a-sub-nobody-has"},
    ],
    ids=["expired", "other client", "other pool", "id token", "token_use id", "unknown sub"],
)
def test_cognito_tokens_that_are_not_ours_are_401(cognito_api, mint, andrew, change):
    sub = change.pop("sub", SUB)
    token = mint.token(sub, **change)

    response = cognito_api.with_token(token).conversations()

    assert response.status == 401
    assert response.errors == (["token_expired"] if "exp" in change else ["token_invalid"])


def test_forgeries_against_the_pool_key_are_401(cognito_api, mint, andrew):
    for token in (mint.unsigned(SUB), mint.hs256_with_public_key(SUB)):
        response = cognito_api.with_token(token).conversations()
        assert (response.status, response.errors) == (401, ["token_invalid"])


def test_the_user_uuid_as_sub_does_not_work_with_cognito(cognito_api, mint, andrew):
    """Cognito subjects resolve by cognito_user_id only, never by our own uuid."""
    response = cognito_api.with_token(mint.token(andrew.uuid)).conversations()

    assert response.status == 401


def test_a_local_token_is_refused_when_cognito_is_configured(cognito_api, api, andrew, local_mint):
    local = api.sign_in("andrewbrown").body["access_token"]

    for token in (local, local_mint.token(SUB)):
        assert cognito_api.with_token(token).conversations().status == 401


def test_the_local_identity_provider_is_off_with_cognito(cognito_api, andrew):
    assert cognito_api.sign_in("andrewbrown").status == 404
    assert cognito_api.get("/.well-known/jwks.json").status == 404


def test_an_unreachable_jwks_is_503_not_401(
    cognito_settings, repo, users, mint, andrew, jwks_server
):
    jwks_server.failing = True
    app = create_app(
        cognito_settings, messages=repo, users=users, key_set=RemoteKeySet(jwks_server.url)
    )

    response = ApiClient(FlaskTransport(app), mint.token(SUB)).conversations()

    assert (response.status, response.errors) == (503, ["service_unavailable"])


# --- the key set itself ---------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _verifier(key_set, mint: TokenMint) -> TokenVerifier:
    return TokenVerifier(key_set, mint.issuer, mint.client_id)


def test_the_jwks_is_fetched_once_and_cached(jwks_server, mint):
    jwks_server.serve(mint.jwks())
    verifier = _verifier(RemoteKeySet(jwks_server.url), mint)

    for _ in range(5):
        assert verifier.verify(mint.token(SUB)).subject == SUB

    assert jwks_server.requests == 1


def test_unknown_kids_refetch_at_most_once_per_interval(jwks_server, mint):
    jwks_server.serve(mint.jwks())
    clock = Clock()
    verifier = _verifier(RemoteKeySet(jwks_server.url, clock=clock), mint)
    verifier.verify(mint.token(SUB))
    clock.now += 60

    for n in range(20):
        with pytest.raises(Unauthenticated):
            verifier.verify(mint.token(SUB, headers={"kid": f"made-up-{n}"}))

    assert jwks_server.requests == 2


def test_a_rotated_pool_key_is_picked_up(jwks_server, mint):
    jwks_server.serve(mint.jwks())
    clock = Clock()
    verifier = _verifier(RemoteKeySet(jwks_server.url, clock=clock), mint)
    verifier.verify(mint.token(SUB))
    rotated = TokenMint(mint.issuer, mint.client_id)
    jwks_server.serve({"keys": [mint.jwk, rotated.jwk]})
    clock.now += 31

    assert verifier.verify(rotated.token(SUB)).subject == SUB
    assert verifier.verify(mint.token(SUB)).subject == SUB


def test_known_keys_outlive_an_outage_of_the_jwks(jwks_server, mint):
    jwks_server.serve(mint.jwks())
    clock = Clock()
    verifier = _verifier(RemoteKeySet(jwks_server.url, clock=clock), mint)
    verifier.verify(mint.token(SUB))
    jwks_server.failing = True
    clock.now += 7200  # the cache is stale and the refresh fails

    assert verifier.verify(mint.token(SUB)).subject == SUB


def test_no_keys_at_all_is_unavailable(jwks_server, mint):
    jwks_server.failing = True
    verifier = _verifier(RemoteKeySet(jwks_server.url), mint)

    with pytest.raises(KeySetUnavailable):
        verifier.verify(mint.token(SUB))


def test_keys_of_other_types_and_uses_are_ignored(jwks_server, mint):
    other = TokenMint(mint.issuer, mint.client_id)
    jwks_server.serve(
        {
            "keys": [
                {**other.jwk, "use": "enc"},
                {**other.jwk, "alg": "RS512", "kid": "rs512"},
                {"kty": "oct", "kid": "hmac", "k": "c2VjcmV0"},
                {"kty": "RSA", "kid": "broken", "n": "!!", "e": "AQAB"},
                "not even an object",
                mint.jwk,
            ]
        }
    )
    verifier = _verifier(RemoteKeySet(jwks_server.url), mint)

    assert verifier.verify(mint.token(SUB)).subject == SUB
    with pytest.raises(Unauthenticated):
        verifier.verify(other.token(SUB))
