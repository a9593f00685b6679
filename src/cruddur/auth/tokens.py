"""Verification of bearer access tokens: Amazon Cognito's in production, the local identity
provider's in development. One verifier, configured with an issuer, a client id and a key set;
there is no switch that skips any check."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jwt

from cruddur.auth.errors import Unauthenticated
from cruddur.auth.jwks import KeySet

ALGORITHM = "RS256"
# The tokens' clocks and ours may differ a little; more leeway would stretch every token's life.
LEEWAY_SECONDS = 5
# A Cognito access token is about 1 KB; anything far larger is not one, and is refused unparsed.
MAX_TOKEN_CHARS = 8192
REQUIRED_CLAIMS = ["exp", "iat", "iss", "sub", "token_use", "client_id"]
# Checking the RS256 signature is most of what authenticating a request costs, and a client sends
# the same token with every request until it expires. So the claims of a verified token are kept,
# by the token's exact text, for a while; a kept token is accepted again only while its `exp` has
# not passed and its key (`kid`) is still in the key set, so a key taken out of the JWKS or a
# replaced local key refuses it at once, as before.
VERIFIED_TOKENS_KEPT = 4096
VERIFIED_TOKEN_SECONDS = 300.0


def cognito_issuer(region: str, user_pool_id: str) -> str:
    return f"https://cognito-idp.{region}.amazonaws.com/{user_pool_id}"


def cognito_jwks_url(region: str, user_pool_id: str) -> str:
    return f"{cognito_issuer(region, user_pool_id)}/.well-known/jwks.json"


@dataclass(frozen=True)
class AccessClaims:
    """The verified claims the service relies on."""

    subject: str
    issuer: str
    client_id: str
    expires_at: int
    username: str | None
    raw: dict[str, Any]


class TokenVerifier:
    """Checks a Cognito-shaped access token: RS256 signature by a key of `key_set` (the algorithm
    is fixed here, never read from the token), `exp`, `iss`, `token_use == "access"`, `client_id`.
    Raises Unauthenticated("token_expired" | "token_invalid"); KeySetUnavailable when the keys
    cannot be read."""

    def __init__(
        self,
        key_set: KeySet,
        issuer: str,
        client_id: str,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.key_set = key_set
        self.issuer = issuer
        self.client_id = client_id
        self._clock = clock
        self._verified: OrderedDict[str, tuple[AccessClaims, str, float]] = OrderedDict()
        self._verified_lock = threading.Lock()

    def verify(self, token: str) -> AccessClaims:
        if not token or len(token) > MAX_TOKEN_CHARS or token.count(".") != 2:
            raise Unauthenticated("token_invalid", "not a compact JWS")
        kept = self._kept(token)
        if kept is not None:
            return kept
        claims, kid = self._verify_signed(token)
        with self._verified_lock:
            self._verified[token] = (claims, kid, self._clock() + VERIFIED_TOKEN_SECONDS)
            while len(self._verified) > VERIFIED_TOKENS_KEPT:
                self._verified.popitem(last=False)
        return claims

    def _kept(self, token: str) -> AccessClaims | None:
        """The claims of `token` verified earlier, if it is still good; None: verify it again."""
        with self._verified_lock:
            kept = self._verified.get(token)
        if kept is None:
            return None
        claims, kid, keep_until = kept
        now = self._clock()
        if now > keep_until or self.key_set.key_for(kid) is None:
            with self._verified_lock:
                self._verified.pop(token, None)
            return None
        if now >= claims.expires_at + LEEWAY_SECONDS:  # as PyJWT judges `exp`
            raise Unauthenticated("token_expired", "expired")
        return claims

    def _verify_signed(self, token: str) -> tuple[AccessClaims, str]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise Unauthenticated("token_invalid", "unreadable header") from exc
        if header.get("alg") != ALGORITHM:
            raise Unauthenticated("token_invalid", "algorithm not RS256")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise Unauthenticated("token_invalid", "no kid")
        key = self.key_set.key_for(kid)
        if key is None:
            raise Unauthenticated("token_invalid", "unknown kid")
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[ALGORITHM],
                issuer=self.issuer,
                leeway=LEEWAY_SECONDS,
                options={"require": REQUIRED_CLAIMS},
            )
        except jwt.ExpiredSignatureError as exc:
            raise Unauthenticated("token_expired", "expired") from exc
        except jwt.PyJWTError as exc:
            raise Unauthenticated("token_invalid", type(exc).__name__) from exc
        if claims.get("token_use") != "access":
            raise Unauthenticated("token_invalid", "not an access token")
        if claims.get("client_id") != self.client_id:
            raise Unauthenticated("token_invalid", "issued to another client")
        subject = claims.get("sub")
        if not isinstance(subject, str) or not subject:
            raise Unauthenticated("token_invalid", "no subject")
        username = claims.get("username")
        verified = AccessClaims(
            subject=subject,
            issuer=self.issuer,
            client_id=self.client_id,
            expires_at=int(claims["exp"]),
            username=username if isinstance(username, str) else None,
            raw=claims,
        )
        return verified, kid
