"""Authentication: bearer access tokens verified against a JWKS (Amazon Cognito's, or the local
identity provider's), and the local identity provider itself."""

from cruddur.auth.errors import AuthError, InvalidCredentials, KeySetUnavailable, Unauthenticated
from cruddur.auth.identity import Authenticator, Identity, bearer_token, identity_for
from cruddur.auth.jwks import LocalKeySet, RemoteKeySet, parse_jwks
from cruddur.auth.keys import ensure_signing_key, signing_key_path
from cruddur.auth.local_idp import LOCAL_CLIENT_ID, LOCAL_ISSUER, IssuedToken, LocalIdentityProvider
from cruddur.auth.tokens import AccessClaims, TokenVerifier, cognito_issuer, cognito_jwks_url

__all__ = [
    "LOCAL_CLIENT_ID",
    "LOCAL_ISSUER",
    "AccessClaims",
    "AuthError",
    "Authenticator",
    "Identity",
    "InvalidCredentials",
    "IssuedToken",
    "KeySetUnavailable",
    "LocalIdentityProvider",
    "LocalKeySet",
    "RemoteKeySet",
    "TokenVerifier",
    "Unauthenticated",
    "bearer_token",
    "cognito_issuer",
    "cognito_jwks_url",
    "ensure_signing_key",
    "identity_for",
    "parse_jwks",
    "signing_key_path",
]
