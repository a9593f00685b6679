"""From an `Authorization` header to a user of the users store, and the wiring that picks Cognito
or the local identity provider from the settings."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from cruddur.auth.errors import Unauthenticated
from cruddur.auth.jwks import KeySet, LocalKeySet, RemoteKeySet
from cruddur.auth.local_idp import LOCAL_CLIENT_ID, LOCAL_ISSUER, LocalIdentityProvider
from cruddur.auth.tokens import AccessClaims, TokenVerifier, cognito_issuer, cognito_jwks_url
from cruddur.config import Settings
from cruddur.users.models import User


class UserLookup(Protocol):
    def find_by_cognito_id(self, cognito_user_id: str) -> User | None: ...

    def find_by_uuid(self, user_uuid: str) -> User | None: ...

    def verify_password(self, handle: str, password: str) -> User | None: ...


def bearer_token(authorization: str | None) -> str:
    """The token of an `Authorization: Bearer <token>` header; Unauthenticated("token_missing")
    when there is no such header."""
    if not authorization:
        raise Unauthenticated("token_missing")
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("token_missing", "not a bearer token")
    return token.strip()


class Authenticator:
    """Verifies the bearer token and finds its user; Unauthenticated for anything less."""

    def __init__(self, verifier: TokenVerifier, find_user: Callable[[str], User | None]) -> None:
        self.verifier = verifier
        self._find_user = find_user

    def authenticate(self, authorization: str | None) -> User:
        return self.authenticate_with_claims(authorization)[0]

    def authenticate_with_claims(self, authorization: str | None) -> tuple[User, AccessClaims]:
        """The user and the verified claims (`expires_at`: a long-lived response such as an
        event stream ends when the token does)."""
        claims = self.verifier.verify(bearer_token(authorization))
        user = self._find_user(claims.subject)
        if user is None:
            raise Unauthenticated("token_invalid", "no user for this subject")
        return user, claims


@dataclass(frozen=True)
class Identity:
    """What the API needs of authentication: the authenticator, and the local identity provider
    (None when Cognito issues the tokens)."""

    authenticator: Authenticator
    local: LocalIdentityProvider | None
    local_keys: LocalKeySet | None


def identity_for(settings: Settings, users: UserLookup, key_set: KeySet | None = None) -> Identity:
    """Cognito when a user pool and client are configured, else the local identity provider.
    `key_set` replaces the JWKS source (tests serve their own)."""
    if not settings.uses_local_identity_provider:
        assert settings.cognito_user_pool_id and settings.cognito_client_id
        keys = key_set or RemoteKeySet(
            cognito_jwks_url(settings.region, settings.cognito_user_pool_id)
        )
        verifier = TokenVerifier(
            keys,
            cognito_issuer(settings.region, settings.cognito_user_pool_id),
            settings.cognito_client_id,
        )
        return Identity(Authenticator(verifier, users.find_by_cognito_id), None, None)
    local_keys = LocalKeySet.in_data_dir(settings.data_dir)
    verifier = TokenVerifier(key_set or local_keys, LOCAL_ISSUER, LOCAL_CLIENT_ID)
    provider = LocalIdentityProvider(local_keys, users)
    return Identity(Authenticator(verifier, users.find_by_uuid), provider, local_keys)
