"""The local identity provider's signing key: created once, atomically, never replaced by a
racing process; read from disk by every verifier."""

from __future__ import annotations

import os
import stat
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest

from cruddur.auth import (
    LOCAL_CLIENT_ID,
    LOCAL_ISSUER,
    KeySetUnavailable,
    LocalKeySet,
    TokenVerifier,
    ensure_signing_key,
    signing_key_path,
)
from cruddur.auth.keys import generate_private_key, load_private_key, private_key_pem
from fixtures_api import TokenMint

SUB = "5a5a5a5a-0000-4000-8000-000000000001"


def test_the_key_is_created_private_and_kept(tmp_path: Path):
    path = ensure_signing_key(tmp_path)
    first = path.read_bytes()

    assert path == signing_key_path(tmp_path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert ensure_signing_key(tmp_path).read_bytes() == first


def _ensure(data_dir: str) -> bytes:
    return ensure_signing_key(Path(data_dir)).read_bytes()


def test_racing_processes_end_with_one_key(tmp_path: Path):
    with ProcessPoolExecutor(max_workers=8) as pool:
        keys = list(pool.map(_ensure, [str(tmp_path)] * 16))

    assert len(set(keys)) == 1
    assert keys[0] == signing_key_path(tmp_path).read_bytes()
    assert os.listdir(signing_key_path(tmp_path).parent) == [signing_key_path(tmp_path).name]


def test_the_local_key_set_verifies_what_the_key_signs(tmp_path: Path):
    keys = LocalKeySet(ensure_signing_key(tmp_path))
    mint = TokenMint(LOCAL_ISSUER, LOCAL_CLIENT_ID, load_private_key(keys.path))
    verifier = TokenVerifier(keys, LOCAL_ISSUER, LOCAL_CLIENT_ID)

    assert verifier.verify(mint.token(SUB)).subject == SUB
    assert keys.document()["keys"][0]["kid"] == mint.kid


def test_a_replaced_key_file_is_followed_without_a_restart(tmp_path: Path):
    path = ensure_signing_key(tmp_path)
    keys = LocalKeySet(path)
    verifier = TokenVerifier(keys, LOCAL_ISSUER, LOCAL_CLIENT_ID)
    old = TokenMint(LOCAL_ISSUER, LOCAL_CLIENT_ID, load_private_key(path))
    assert verifier.verify(old.token(SUB))

    new_key = generate_private_key()
    staged = path.with_suffix(".new")
    staged.write_bytes(private_key_pem(new_key))
    staged.replace(path)
    new = TokenMint(LOCAL_ISSUER, LOCAL_CLIENT_ID, new_key)

    assert verifier.verify(new.token(SUB)).subject == SUB
    assert keys.document()["keys"][0]["kid"] == new.kid


def test_a_missing_key_is_unavailable_not_unauthenticated(tmp_path: Path):
    keys = LocalKeySet(signing_key_path(tmp_path))
    mint = TokenMint(LOCAL_ISSUER, LOCAL_CLIENT_ID)

    with pytest.raises(KeySetUnavailable, match="cruddur serve"):
        TokenVerifier(keys, LOCAL_ISSUER, LOCAL_CLIENT_ID).verify(mint.token(SUB))
