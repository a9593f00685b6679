"""The local identity provider: with no Cognito pool configured, the service signs its own access
tokens, in the shape of Cognito's, with the key under the data directory.

`sub` is the user's uuid (not their cognito_user_id): locally there is no Cognito to own that id,
and a uuid never changes, so a token stays bound to one user whatever happens to the user's row.
The authenticator resolves local tokens by uuid and Cognito tokens by cognito_user_id, never both.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import jwt

from cruddur.auth.errors import InvalidCredentials
from cruddur.auth.jwks import LocalKeySet
from cruddur.auth.tokens import ALGORITHM
from cruddur.users.models import User

LOCAL_ISSUER = "urn:cruddur:local-identity-provider"
LOCAL_CLIENT_ID = "cruddur-local"
# Cognito's default access-token lifetime.
TOKEN_LIFETIME_SECONDS = 3600
# The seed's scope for Cognito access tokens; kept so local tokens read like production ones.
COGNITO_SCOPE = "aws.cognito.signin.user.admin"


class PasswordChecker(Protocol):
    def verify_password(self, handle: str, password: str) -> User | None: ...


@dataclass(frozen=True)
class IssuedToken:
    access_token: str
    expires_in: int
    token_type: str = "Bearer"


class LocalIdentityProvider:
    def __init__(
        self,
        key_set: LocalKeySet,
        users: PasswordChecker,
        *,
        issuer: str = LOCAL_ISSUER,
        client_id: str = LOCAL_CLIENT_ID,
        lifetime: int = TOKEN_LIFETIME_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.key_set = key_set
        self.users = users
        self.issuer = issuer
        self.client_id = client_id
        self.lifetime = lifetime
        self._clock = clock

    def sign_in(self, handle: str, password: str) -> IssuedToken:
        """A token for the user with this handle and password; InvalidCredentials otherwise, the
        same for an unknown handle as for a wrong password."""
        # the users store answers None alike for an unknown or impossible handle, a wrong, empty or
        # overlong password, after the same argon2 work
        user = self.users.verify_password(handle, password)
        if user is None:
            raise InvalidCredentials()
        return self.issue(user)

    def issue(self, user: User, lifetime: int | None = None) -> IssuedToken:
        lifetime = self.lifetime if lifetime is None else lifetime
        kid, private_key = self.key_set.signing_key()
        now = int(self._clock())
        claims = {
            "sub": user.uuid,
            "iss": self.issuer,
            "client_id": self.client_id,
            "token_use": "access",
            "scope": COGNITO_SCOPE,
            "auth_time": now,
            "iat": now,
            "exp": now + lifetime,
            "jti": str(uuid.uuid4()),
            "username": user.handle,
        }
        token = jwt.encode(claims, private_key, algorithm=ALGORITHM, headers={"kid": kid})
        return IssuedToken(access_token=token, expires_in=lifetime)
