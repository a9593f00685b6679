"""Key sets the verifier trusts: a remote JWKS (Amazon Cognito's), fetched and cached, and the local
identity provider's key, read from disk. Both answer one question: the public key for a `kid`."""

from __future__ import annotations

import http.client
import json
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from cruddur.auth import keys
from cruddur.auth.errors import KeySetUnavailable

# Cognito rotates keys rarely and publishes the new one before using it; an unknown kid triggers
# one early refresh, but never more than once per MIN_REFRESH_SECONDS, so a flood of tokens with
# made-up kids cannot turn into a flood of requests to the JWKS endpoint.
MAX_AGE_SECONDS = 3600.0
MIN_REFRESH_SECONDS = 30.0
FETCH_TIMEOUT_SECONDS = 5.0
MAX_JWKS_BYTES = 256 * 1024

FetchJson = Callable[[str], Any]


class KeySet(Protocol):
    def key_for(self, kid: str) -> rsa.RSAPublicKey | None:
        """The RSA public key published under `kid`, None if there is none."""
        ...


def parse_jwks(document: Any) -> dict[str, rsa.RSAPublicKey]:
    """The RS256 signing keys of a JWKS document by kid; other key types and uses are ignored."""
    found: dict[str, rsa.RSAPublicKey] = {}
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise ValueError("not a JWKS document")
    for jwk in document["keys"]:
        if not isinstance(jwk, dict) or jwk.get("kty") != "RSA":
            continue
        if jwk.get("use", "sig") != "sig" or jwk.get("alg", "RS256") != "RS256":
            continue
        kid = jwk.get("kid")
        if not isinstance(kid, str) or not kid:
            continue
        try:
            key = RSAAlgorithm.from_jwk(jwk)
        except Exception:  # noqa: BLE001 - one bad entry must not hide the good ones
            continue
        if isinstance(key, rsa.RSAPublicKey):
            found[kid] = key
    return found


def fetch_json(url: str) -> Any:
    """GET a JSON document over HTTPS (or HTTP for tests on loopback), bounded in time and size."""
    request = urllib.request.Request(url, headers={"Accept": "application/json"})
    with urllib.request.urlopen(request, timeout=FETCH_TIMEOUT_SECONDS) as response:  # noqa: S310
        body = response.read(MAX_JWKS_BYTES + 1)
    if len(body) > MAX_JWKS_BYTES:
        raise ValueError(f"JWKS at {url} is larger than {MAX_JWKS_BYTES} bytes")
    return json.loads(body)


class RemoteKeySet:
    """A JWKS fetched from `url`, cached for MAX_AGE_SECONDS. Thread-safe. When the endpoint does
    not answer, keys already known keep working; with none known, KeySetUnavailable."""

    def __init__(
        self,
        url: str,
        *,
        fetch: FetchJson = fetch_json,
        max_age: float = MAX_AGE_SECONDS,
        min_refresh: float = MIN_REFRESH_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.url = url
        self._fetch = fetch
        self._max_age = max_age
        self._min_refresh = min_refresh
        self._clock = clock
        self._keys: dict[str, rsa.RSAPublicKey] = {}
        self._fetched_at: float | None = None
        self._attempted_at: float | None = None
        self._lock = threading.Lock()

    def key_for(self, kid: str) -> rsa.RSAPublicKey | None:
        with self._lock:
            now = self._clock()
            stale = self._fetched_at is None or now - self._fetched_at >= self._max_age
            unknown = kid not in self._keys
            may_refresh = (
                self._attempted_at is None or now - self._attempted_at >= self._min_refresh
            )
            if stale or (unknown and may_refresh):
                self._refresh(now, must_succeed=not self._keys)
            return self._keys.get(kid)

    def _refresh(self, now: float, must_succeed: bool) -> None:
        if self._attempted_at is not None and now - self._attempted_at < self._min_refresh:
            if must_succeed:
                raise KeySetUnavailable(f"no keys from {self.url} yet (last fetch failed)")
            return
        self._attempted_at = now
        try:
            self._keys = parse_jwks(self._fetch(self.url))
            self._fetched_at = now
        except (OSError, ValueError, http.client.HTTPException) as exc:
            if must_succeed:
                raise KeySetUnavailable(f"cannot read the JWKS at {self.url}: {exc}") from exc


@dataclass(frozen=True)
class _LoadedKey:
    stamp: tuple[int, int, int]
    private_key: rsa.RSAPrivateKey
    jwk: dict[str, Any]


class LocalKeySet:
    """The local identity provider's key, read from the file `cruddur serve` created. Re-read when
    the file changes (replaced by a rotation), so every worker follows without a restart."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._loaded: _LoadedKey | None = None
        self._lock = threading.Lock()

    @classmethod
    def in_data_dir(cls, data_dir: Path) -> LocalKeySet:
        return cls(keys.signing_key_path(data_dir))

    def _current(self) -> _LoadedKey:
        try:
            stat = self.path.stat()
        except FileNotFoundError as exc:
            raise KeySetUnavailable(
                f"the local signing key {self.path} is missing: `cruddur serve` creates it"
            ) from exc
        stamp = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
        with self._lock:
            if self._loaded is None or self._loaded.stamp != stamp:
                try:
                    private_key = keys.load_private_key(self.path)
                except (OSError, ValueError) as exc:
                    raise KeySetUnavailable(f"cannot read {self.path}: {exc}") from exc
                self._loaded = _LoadedKey(
                    stamp, private_key, keys.public_jwk(private_key.public_key())
                )
            return self._loaded

    def key_for(self, kid: str) -> rsa.RSAPublicKey | None:
        loaded = self._current()
        return loaded.private_key.public_key() if kid == loaded.jwk["kid"] else None

    def signing_key(self) -> tuple[str, rsa.RSAPrivateKey]:
        loaded = self._current()
        return loaded.jwk["kid"], loaded.private_key

    def document(self) -> dict[str, Any]:
        """The JWKS served at /.well-known/jwks.json."""
        return {"keys": [dict(self._current().jwk)]}

    def exists(self) -> bool:
        return self.path.exists()
