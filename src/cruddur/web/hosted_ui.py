"""Sign-in through the Amazon Cognito Hosted UI: OAuth 2.0 authorization code flow with PKCE (S256).

1. `/auth/cognito` makes a random `state` and PKCE verifier, keeps both server-side (a sign-in
   attempt, bound to the browser by a cookie), and redirects to `{domain}/oauth2/authorize` with
   the verifier's S256 challenge.
2. Cognito redirects back to the registered redirect URI (`/auth/callback?code=...&state=...`);
   the attempt is taken once, its `state` must match, and the code is exchanged at
   `{domain}/oauth2/token` with the verifier (the app client is public: no client secret).
3. The access token is verified like every API call's (JWKS, issuer, client id) and becomes the
   session.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass

from cruddur.config import Settings

EXCHANGE_TIMEOUT_SECONDS = 5.0
MAX_TOKEN_RESPONSE_BYTES = 64 * 1024
SCOPES = "openid email"


class HostedUiError(Exception):
    """The token endpoint refused the code (expired, replayed, wrong verifier): sign in again."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


class HostedUiUnavailable(Exception):
    """The token endpoint does not answer."""


@dataclass(frozen=True)
class TokenAnswer:
    access_token: str
    expires_in: int


def pkce_pair() -> tuple[str, str]:
    """A PKCE verifier (86 unreserved characters) and its S256 challenge (RFC 7636)."""
    verifier = secrets.token_urlsafe(64)
    return verifier, pkce_challenge(verifier)


def pkce_challenge(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")


def _base_url(domain: str) -> str:
    text = domain.strip().rstrip("/")
    if "://" not in text:
        text = f"https://{text}"
    parsed = urllib.parse.urlsplit(text)
    loopback = parsed.hostname in ("127.0.0.1", "localhost", "::1")
    if parsed.scheme != "https" and not (parsed.scheme == "http" and loopback):
        raise ValueError(f"the Hosted UI domain must be https (loopback may be http): {domain!r}")
    return text


@dataclass(frozen=True)
class HostedUi:
    base_url: str
    client_id: str
    redirect_uri: str

    @property
    def origin(self) -> str:
        parts = urllib.parse.urlsplit(self.base_url)
        return f"{parts.scheme}://{parts.netloc}"

    def authorize_url(self, state: str, code_challenge: str) -> str:
        query = urllib.parse.urlencode(
            {
                "response_type": "code",
                "client_id": self.client_id,
                "redirect_uri": self.redirect_uri,
                "scope": SCOPES,
                "state": state,
                "code_challenge": code_challenge,
                "code_challenge_method": "S256",
            }
        )
        return f"{self.base_url}/oauth2/authorize?{query}"

    def logout_url(self, logout_uri: str) -> str:
        """Cognito's own sign-out (its Hosted UI session), then back to `logout_uri` (which must be
        one of the app client's sign-out URLs)."""
        query = urllib.parse.urlencode({"client_id": self.client_id, "logout_uri": logout_uri})
        return f"{self.base_url}/logout?{query}"

    def exchange(self, code: str, verifier: str) -> TokenAnswer:
        """The tokens for an authorization code; HostedUiError when it is refused,
        HostedUiUnavailable when the endpoint does not answer."""
        body = urllib.parse.urlencode(
            {
                "grant_type": "authorization_code",
                "client_id": self.client_id,
                "code": code,
                "redirect_uri": self.redirect_uri,
                "code_verifier": verifier,
            }
        ).encode()
        request = urllib.request.Request(
            f"{self.base_url}/oauth2/token",
            data=body,
            method="POST",
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "Accept": "application/json",
            },
        )
        try:
            with urllib.request.urlopen(  # noqa: S310 - https, or http on loopback only
                request, timeout=EXCHANGE_TIMEOUT_SECONDS
            ) as response:
                raw = response.read(MAX_TOKEN_RESPONSE_BYTES + 1)
        except urllib.error.HTTPError as error:
            if 400 <= error.code < 500:
                raise HostedUiError(_oauth_error(error.read(4096))) from error
            raise HostedUiUnavailable(f"token endpoint answered {error.code}") from error
        except (OSError, ValueError) as exc:
            raise HostedUiUnavailable(f"token endpoint unreachable: {exc}") from exc
        if len(raw) > MAX_TOKEN_RESPONSE_BYTES:
            raise HostedUiError("token_response_too_large")
        try:
            answer = json.loads(raw)
            token = answer["access_token"]
            expires_in = int(answer.get("expires_in", 3600))
        except (ValueError, KeyError, TypeError):
            raise HostedUiError("token_response_malformed") from None
        if not isinstance(token, str) or not token:
            raise HostedUiError("token_response_malformed")
        return TokenAnswer(token, expires_in)


def _oauth_error(raw: bytes) -> str:
    try:
        error = json.loads(raw).get("error")
    except (ValueError, AttributeError):
        return "invalid_grant"
    return error if isinstance(error, str) and error.isidentifier() else "invalid_grant"


def hosted_ui_for(settings: Settings) -> HostedUi | None:
    """The Hosted UI when a Cognito pool, its client, the Hosted UI domain and the redirect URI are
    all configured; otherwise None (the local identity provider's form is the sign-in)."""
    if settings.uses_local_identity_provider:
        return None
    if not (settings.cognito_hosted_ui_domain and settings.cognito_redirect_uri):
        return None
    assert settings.cognito_client_id
    return HostedUi(
        _base_url(settings.cognito_hosted_ui_domain),
        settings.cognito_client_id,
        settings.cognito_redirect_uri,
    )
