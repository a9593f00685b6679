"""Redis outages, met one way by every user of Redis that can go on without it (the cache, the
rate limits).

An operation that fails marks Redis down: for `PAUSE_SECONDS` every operation is skipped without
a round trip, so an outage costs a request at most one timeout, not one per operation. After the
pause the next operation tries again; the first that succeeds ends the outage. The owner says what
a skipped operation counts as, and what to log (or do) when an outage starts and when it ends:
once each per outage, however many threads meet it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TypeVar

import redis

T = TypeVar("T")

PAUSE_SECONDS = 1.0


class RedisOutageGuard:
    def __init__(
        self,
        *,
        skipped: Callable[[], None],
        outage_started: Callable[[redis.RedisError], None],
        outage_ended: Callable[[], None],
        monotonic: Callable[[], float] = time.monotonic,
        pause_seconds: float = PAUSE_SECONDS,
    ) -> None:
        self._skipped = skipped  # every operation that failed or was not tried
        self._outage_started = outage_started
        self._outage_ended = outage_ended
        self._monotonic = monotonic
        self._pause_seconds = pause_seconds
        self._lock = threading.Lock()
        self._down = False
        self._down_until = 0.0

    def run(self, operation: Callable[[], T], default: T) -> T:
        """`operation()`, or `default` when Redis failed it or is paused after a failure."""
        with self._lock:
            if self._down and self._monotonic() < self._down_until:
                self._skipped()
                return default
        try:
            result = operation()
        except redis.RedisError as exc:
            self._skipped()
            if self.mark_down():
                self._outage_started(exc)
            return default
        with self._lock:
            recovered, self._down = self._down, False
        if recovered:
            self._outage_ended()
        return result

    def mark_down(self) -> bool:
        """Redis failed (also outside `run`): pause from now. True when this starts an outage."""
        with self._lock:
            starting = not self._down
            self._down, self._down_until = True, self._monotonic() + self._pause_seconds
        return starting
