"""One contract for both cache back ends (the in-process one and a real Redis): generations refuse
a fill that raced a change, invalidation drops keys, and a stream record drops a cached page only
when it changes it."""

from __future__ import annotations

import pytest

from cruddur.cache.backend import PageChange
from cruddur.cache.memory import InProcessCache
from cruddur.cache.redis_backend import RedisCache


@pytest.fixture(params=["memory", "redis"])
def backend(request):
    if request.param == "memory":
        return InProcessCache()
    url = request.getfixturevalue("redis_url")
    return RedisCache(url, prefix=request.getfixturevalue("redis_prefix"))


def test_a_fill_is_found_by_the_next_lookup(backend):
    value, generation = backend.lookup("k", "scope")
    assert value is None
    assert backend.fill("k", "v", "scope", generation, ttl=60)
    assert backend.lookup("k", "scope")[0] == "v"
    assert backend.stats.snapshot()["hits"] == 1 and backend.stats.snapshot()["misses"] == 1


def test_a_fill_that_raced_an_invalidation_is_refused(backend):
    _, generation = backend.lookup("k", "scope")
    backend.invalidate("scope", ["k"])
    assert not backend.fill("k", "stale", "scope", generation, ttl=60)
    assert backend.lookup("k", "scope")[0] is None
    assert backend.stats.stale_fills_refused == 1


def test_invalidation_drops_the_keys_and_spares_other_scopes(backend):
    for scope in ("a", "b"):
        backend.fill(f"{scope}-k", scope, scope, backend.lookup(f"{scope}-k", scope)[1], ttl=60)
    backend.invalidate("a", ["a-k"])
    assert backend.lookup("a-k", "a")[0] is None
    assert backend.lookup("b-k", "b")[0] == "b"


PAGE = '{"items":[{"sk":"2026-01-02"},{"sk":"2026-01-03"}]}'


@pytest.mark.parametrize(
    "change, sk, dropped",
    [
        (PageChange.INSERT, "2026-01-03", False),  # already shown: our own write seen again
        (PageChange.INSERT, "2026-01-04", True),  # newer than the page
        (PageChange.INSERT, "2026-01-01", False),  # older than a full page's oldest row
        (PageChange.MODIFY, "2026-01-02", True),  # a row on the page changed
        (PageChange.REMOVE, "2026-01-02", True),  # a row on the page went
        (PageChange.REMOVE, "2025-12-31", False),  # not on the page
    ],
)
def test_a_row_change_drops_a_full_page_only_when_it_changes_it(backend, change, sk, dropped):
    _, generation = backend.lookup("page", "s")
    backend.fill("page", PAGE, "s", generation, ttl=60, bound="2026-01-02")
    backend.page_row_changed("s", "page", sk, change)
    assert (backend.lookup("page", "s")[0] is None) is dropped


def test_any_new_row_drops_a_page_with_room_left(backend):
    _, generation = backend.lookup("page", "s")
    backend.fill("page", PAGE, "s", generation, ttl=60, bound="")
    backend.page_row_changed("s", "page", "2020-01-01", PageChange.INSERT)
    assert backend.lookup("page", "s")[0] is None


def test_a_row_change_refuses_a_fill_in_flight(backend):
    _, generation = backend.lookup("page", "s")
    backend.page_row_changed("s", "page", "2026-01-09", PageChange.INSERT)
    assert not backend.fill("page", PAGE, "s", generation, ttl=60)
