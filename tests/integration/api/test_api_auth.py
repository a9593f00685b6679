"""Authentication with the local identity provider: identity only from a verified token, and every
way a token can be wrong answered with 401."""

from __future__ import annotations

import time

import pytest

from cruddur.auth.keys import generate_private_key
from fixtures_api import TokenMint

PROTECTED = [
    ("GET", "/api/message_groups", None),
    ("GET", "/api/messages/8d4f2f5a-6a7e-4a55-9a3c-1f5b2f4f6f1e", None),
    ("POST", "/api/messages", {"message": "hi", "handle": "bayko"}),
    ("POST", "/api/message_groups", {"name": "crew", "handles": ["bayko"]}),
    ("GET", "/api/message_groups/8d4f2f5a-6a7e-4a55-9a3c-1f5b2f4f6f1e/members", None),
]


@pytest.mark.parametrize(("method", "path", "body"), PROTECTED)
def test_every_messaging_endpoint_needs_a_token(api, method, path, body):
    response = api.request(method, path, body)

    assert (response.status, response.errors) == (401, ["token_missing"])
    assert response.header("WWW-Authenticate").startswith("Bearer")


def test_a_short_profile_is_public_but_a_bad_token_is_still_refused(api, register):
    bayko = register("bayko")

    anonymous = api.request("GET", "/api/users/@bayko/short")
    assert (anonymous.status, anonymous.body["uuid"]) == (200, bayko.uuid)

    forged = api.with_token("a.b.c").user_short("bayko")
    assert (forged.status, forged.errors) == (401, ["token_invalid"])


@pytest.mark.parametrize(
    "authorization",
    ["", "Bearer", "Bearer ", "Basic YW5kcmV3OnB3", "Token abc", "bearer"],
)
def test_a_header_without_a_bearer_token_is_401(api, authorization):
    response = api.request("GET", "/api/message_groups", headers={"Authorization": authorization})

    assert (response.status, response.errors) == (401, ["token_missing"])


@pytest.mark.parametrize(
    "token",
    ["abc", "a.b.c", "a.b", "....", "e30.e30.", "x" * 10_000, "Zm9v.YmFy.YmF6"],
)
def test_malformed_tokens_are_401(api, token):
    response = api.with_token(token).conversations()

    assert (response.status, response.errors) == (401, ["token_invalid"])


def test_a_token_names_its_user_in_any_case_of_scheme(api, register):
    register("andrewbrown")
    token = api.sign_in("andrewbrown").body["access_token"]

    response = api.request(
        "GET", "/api/message_groups", headers={"Authorization": f"bearer   {token}"}
    )

    assert response.status == 200


@pytest.fixture
def andrew_uuid(register) -> str:
    register("bayko")
    return register("andrewbrown").uuid


FORGERIES = {
    "expired": lambda mint, sub: mint.token(sub, exp=int(time.time()) - 60),
    "issued to another client": lambda mint, sub: mint.token(sub, client_id="someone-else"),
    "another issuer": lambda mint, sub: mint.token(sub, iss="https://evil.example"),
    "an id token": lambda mint, sub: mint.token(sub, token_use="id"),
    "no token_use": lambda mint, sub: mint.token(sub, token_use=None),
    "no exp": lambda mint, sub: mint.token(sub, exp=None),
    "no client_id": lambda mint, sub: mint.token(sub, client_id=None),
    "no sub": lambda mint, sub: mint.token(sub, sub=None),
    "an unknown sub": lambda mint, sub: mint.token("0b9e6c9e-2f1d-4a5e-8a77-d0c7d9a2b000"),
    "a sub that is no uuid": lambda mint, sub: mint.token("andrewbrown"),
    "alg none": lambda mint, sub: mint.unsigned(sub),
    "HS256 keyed with the public key": lambda mint, sub: mint.hs256_with_public_key(sub),
    "an unknown kid": lambda mint, sub: mint.token(sub, headers={"kid": "not-our-key"}),
    "no kid": lambda mint, sub: mint.token(sub, headers={"kid": None}),
    "another key under our kid": lambda mint, sub: TokenMint(
        mint.issuer, mint.client_id, generate_private_key()
    ).token(sub, headers={"kid": mint.kid}),
    "a tampered payload": lambda mint, sub: _tamper(mint.token(sub)),
    "not yet valid": lambda mint, sub: mint.token(sub, nbf=int(time.time()) + 600),
}


def _tamper(token: str) -> str:
    header, payload, signature = token.split(".")
    flipped = payload[:-2] + ("A" if payload[-2] != "A" else "B") + payload[-1]
    return f"{header}.{flipped}.{signature}"


@pytest.mark.parametrize("forgery", sorted(FORGERIES))
def test_forged_or_stale_tokens_are_401(api, local_mint, andrew_uuid, forgery):
    token = FORGERIES[forgery](local_mint, andrew_uuid)

    response = api.with_token(token).conversations()

    expected = "token_expired" if forgery == "expired" else "token_invalid"
    assert (response.status, response.errors) == (401, [expected])


def test_the_mint_itself_makes_valid_tokens(api, local_mint, andrew_uuid):
    """The forgeries above differ from a good token only by what their names say."""
    response = api.with_token(local_mint.token(andrew_uuid)).conversations()

    assert response.status == 200


def test_the_sender_is_the_token_user_whatever_the_body_says(signed_in, register):
    andrew = signed_in("andrewbrown")
    bayko = register("bayko")

    response = andrew.post(
        "/api/messages",
        {
            "message": "who am I?",
            "handle": "bayko",
            "user_uuid": bayko.uuid,
            "user_handle": "bayko",
            "handle_from": "bayko",
            "display_name": "Bayko",
        },
    )

    assert response.status == 200
    assert response.body["handle"] == "andrewbrown"


def test_a_token_outlives_no_user(api, register, users):
    user = register("andrewbrown")
    client = api.as_user("andrewbrown")
    assert client.conversations().status == 200

    with users.pool.connection() as conn:  # the store has no delete: the test removes the row
        conn.execute("DELETE FROM user_credentials WHERE user_uuid = %s", (user.uuid,))
        conn.execute("DELETE FROM users WHERE uuid = %s", (user.uuid,))

    assert (client.conversations().status, client.conversations().errors) == (
        401,
        ["token_invalid"],
    )


def test_no_token_or_password_reaches_the_logs(api, register, caplog):
    register("andrewbrown")
    caplog.set_level("DEBUG")

    token = api.sign_in("andrewbrown").body["access_token"]
    api.with_token(token).conversations()
    api.with_token(token + "x").conversations()
    api.sign_in("andrewbrown", "wrong password")

    logged = "\n".join(f"{r.getMessage()} {vars(r)}" for r in caplog.records)
    assert "request" in logged
    assert token not in logged
    assert token.split(".")[2] not in logged
    assert "correct horse" not in logged
    assert "wrong password" not in logged
