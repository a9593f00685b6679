"""The users store behind a real Redis: found users are cached, a change through the store drops
them, and an absent user is never cached (a new sign-up is found at once)."""

from __future__ import annotations

import pytest

from cruddur.cache.users import CachedUserRepository
from cruddur.users.models import demo_user_uuid


@pytest.fixture
def cached(counting_users, cache) -> CachedUserRepository:
    return CachedUserRepository(counting_users, cache)


def test_a_user_is_read_from_postgresql_once(cached, counting_users, register):
    alice = register("alice")
    for _ in range(3):
        assert cached.find_by_uuid(alice.uuid) == alice
        assert cached.find_by_handle("Alice") == alice
    assert counting_users.lookups == 2  # one per key: by uuid, by handle


def test_a_change_through_the_store_is_seen_at_once(cached, register):
    alice = register("alice")
    assert cached.find_by_uuid(alice.uuid).display_name == "Alice"
    assert cached.find_by_handle("alice").display_name == "Alice"

    cached.update_display_name(alice.uuid, "Alice Liddell")

    assert cached.find_by_uuid(alice.uuid).display_name == "Alice Liddell"
    assert cached.find_by_handle("alice").display_name == "Alice Liddell"


def test_an_absent_user_is_not_cached(cached, register):
    assert cached.find_by_handle("newcomer") is None
    register("newcomer")
    found = cached.find_by_handle("newcomer")
    assert found is not None and found.uuid == demo_user_uuid("newcomer")
