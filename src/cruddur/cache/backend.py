"""What the cached repositories ask of a cache back end, and the counters every back end keeps.

Values live under keys; every key belongs to a *scope* (a user's conversation list, a group's
messages, a group's membership) whose *generation* counter any change bumps. A reader takes the
generation with its miss, reads the engine, and fills only if the generation is still the one it
took: a fill that raced a change never puts older data back (no "member" after a removal, no list
going backwards). A TTL bounds whatever a lost invalidation leaves behind.

Pages are stored with a bound (the oldest sort key of a full page, or "" for a page with room left),
so that a stream record can tell whether it changes a cached page: a row on the page that changes
or goes, or a new row that sorts inside the page's range (`PageChange`).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol


class PageChange(StrEnum):
    """What happened to a row that may be on a cached page (the stream's event names)."""

    INSERT = "INSERT"
    MODIFY = "MODIFY"
    REMOVE = "REMOVE"


def page_affected(stored: str, sk: str, change: PageChange) -> bool:
    """Whether a change of the row `sk` makes the stored page (`bound\\ndata`) wrong: the row is on
    the page and changed or went, or it is new and sorts within the page's range. The Redis back
    end runs the same rule in Lua; this is its reference."""
    bound, _, data = stored.partition("\n")
    present = f'"{sk}"' in data
    if present:
        return change is not PageChange.INSERT
    return change is not PageChange.REMOVE and sk > bound


@dataclass
class CacheStats:
    """Counters of one process (each gunicorn worker keeps its own)."""

    hits: int = 0
    misses: int = 0
    fills: int = 0
    stale_fills_refused: int = 0
    invalidations: int = 0
    errors: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def count(self, name: str, n: int = 1) -> None:
        with self._lock:
            setattr(self, name, getattr(self, name) + n)

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return {
                "hits": self.hits,
                "misses": self.misses,
                "fills": self.fills,
                "stale_fills_refused": self.stale_fills_refused,
                "invalidations": self.invalidations,
                "errors": self.errors,
            }


class CacheBackend(Protocol):
    """A shared (Redis) or one-process (memory) store of values, scopes and generations. Never
    raises for the store's sake: an unreachable store is a miss, a refused fill, a skipped
    invalidation, and an error counted."""

    name: str
    stats: CacheStats

    def lookup(self, key: str, scope: str) -> tuple[str | None, str]:
        """The value under `key` (None on a miss) and the scope's current generation."""
        ...

    def fill(
        self, key: str, value: str, scope: str, generation: str, ttl: int, bound: str = ""
    ) -> bool:
        """Store `value` for `ttl` seconds unless the scope moved past `generation`."""
        ...

    def invalidate(self, scope: str, keys: Sequence[str]) -> None:
        """Bump the scope's generation and drop `keys`."""
        ...

    def page_row_changed(self, scope: str, key: str, sk: str, change: PageChange) -> None:
        """Bump the scope's generation and drop the page under `key` if the change affects it
        (`page_affected`)."""
        ...

    def available(self) -> bool:
        """Whether the store answers now (the health check's probe)."""
        ...
