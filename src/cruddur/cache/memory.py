"""The in-process cache back end: bounded, one process only (unit tests, the tool-kit). Nothing that
runs as several processes uses it: their caches would disagree after a change."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence

from cruddur.cache.backend import CacheStats, PageChange, page_affected

DEFAULT_MAX_ENTRIES = 10_000


class InProcessCache:
    name = "memory"

    def __init__(
        self, max_entries: int = DEFAULT_MAX_ENTRIES, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.stats = CacheStats()
        self._max = max_entries
        self._clock = clock
        self._lock = threading.Lock()
        self._values: OrderedDict[str, tuple[float, str]] = OrderedDict()
        self._generations: dict[str, int] = {}
        self._epoch = 0  # part of every generation token: tokens from before a clear never match

    def _get(self, key: str) -> str | None:
        entry = self._values.get(key)
        if entry is None:
            return None
        expires, stored = entry
        if expires <= self._clock():
            del self._values[key]
            return None
        self._values.move_to_end(key)
        return stored

    def lookup(self, key: str, scope: str) -> tuple[str | None, str]:
        with self._lock:
            stored = self._get(key)
            generation = self._token(scope)
        self.stats.count("hits" if stored is not None else "misses")
        return (stored.partition("\n")[2] if stored is not None else None), generation

    def fill(
        self, key: str, value: str, scope: str, generation: str, ttl: int, bound: str = ""
    ) -> bool:
        with self._lock:
            if self._token(scope) != generation:
                self.stats.count("stale_fills_refused")
                return False
            self._values[key] = (self._clock() + ttl, f"{bound}\n{value}")
            self._values.move_to_end(key)
            while len(self._values) > self._max:
                self._values.popitem(last=False)
        self.stats.count("fills")
        return True

    def _token(self, scope: str) -> str:
        return f"{self._epoch}:{self._generations.get(scope, 0)}"

    def _bump(self, scope: str) -> None:
        if len(self._generations) >= 4 * self._max:
            # bounded: forget every counter, start a new epoch (the fills in flight hold tokens of
            # the old one and are refused) and drop the values checked against the old counters
            self._generations.clear()
            self._values.clear()
            self._epoch += 1
        self._generations[scope] = self._generations.get(scope, 0) + 1

    def invalidate(self, scope: str, keys: Sequence[str]) -> None:
        with self._lock:
            self._bump(scope)
            for key in keys:
                self._values.pop(key, None)
        self.stats.count("invalidations")

    def page_row_changed(self, scope: str, key: str, sk: str, change: PageChange) -> None:
        with self._lock:
            self._bump(scope)
            stored = self._get(key)
            if stored is not None and page_affected(stored, sk, change):
                del self._values[key]
        self.stats.count("invalidations")

    def available(self) -> bool:
        return True
