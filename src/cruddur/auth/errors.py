"""Errors of authentication. The API maps them to status codes in its one error handler."""

from __future__ import annotations


class AuthError(Exception):
    """Base class of every failure to establish who is calling."""


class Unauthenticated(AuthError):
    """No usable identity: missing, malformed, expired or unverifiable token, or no such user.

    `code` is the stable code of the HTTP answer (401). The message is for logs and never carries
    the token itself."""

    def __init__(self, code: str, detail: str = "") -> None:
        super().__init__(detail or code)
        self.code = code


class KeySetUnavailable(AuthError):
    """The key set could not be read (the JWKS endpoint does not answer, or the local key file is
    missing): a fault of the service, not of the caller's token."""


class InvalidCredentials(AuthError):
    """A wrong password or an unknown handle: one answer for both, on purpose."""
