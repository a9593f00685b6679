"""A verified token's claims are kept (the signature is not checked again), but a kept token is
still refused once it expires or its key leaves the key set."""

from __future__ import annotations

import time

import pytest

from cruddur.auth.errors import Unauthenticated
from cruddur.auth.tokens import LEEWAY_SECONDS, TokenVerifier
from fixtures_api import TokenMint

ISSUER = "https://issuer.example"
CLIENT = "client-1"


class Keys:
    """A key set whose keys a test can take away."""

    def __init__(self, mint: TokenMint) -> None:
        self.keys = {mint.kid: mint.private_key.public_key()}

    def key_for(self, kid: str):
        return self.keys.get(kid)


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def mint() -> TokenMint:
    return TokenMint(ISSUER, CLIENT)


def test_a_kept_token_is_refused_once_its_key_is_gone(mint):
    keys = Keys(mint)
    verifier = TokenVerifier(keys, ISSUER, CLIENT)
    token = mint.token("alice")
    assert verifier.verify(token).subject == "alice"
    assert verifier.verify(token).subject == "alice"  # kept

    keys.keys.clear()

    with pytest.raises(Unauthenticated) as refused:
        verifier.verify(token)
    assert refused.value.code == "token_invalid"


def test_a_kept_token_expires(mint):
    clock = Clock(time.time())
    verifier = TokenVerifier(Keys(mint), ISSUER, CLIENT, clock=clock)
    token = mint.token("alice")
    claims = verifier.verify(token)
    clock.now = claims.expires_at + LEEWAY_SECONDS - 1  # kept: the clock says when it expires
    assert verifier.verify(token).subject == "alice"

    clock.now = claims.expires_at + LEEWAY_SECONDS

    with pytest.raises(Unauthenticated) as refused:
        verifier.verify(token)
    assert refused.value.code == "token_expired"
