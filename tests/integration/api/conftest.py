"""Fixtures of the API tests: andrewbrown signed in, and his direct group with bayko."""

from __future__ import annotations

import pytest


@pytest.fixture
def andrew(signed_in):
    return signed_in("andrewbrown")


@pytest.fixture
def group(andrew, signed_in) -> str:
    signed_in("bayko")
    return andrew.send_to_handle("bayko", "hello").body["message_group_uuid"]
