"""The shared cache back end: Redis, seen by every gunicorn worker, host and the stream processor.

Each operation is one round trip (a read is one MGET of the value and its scope's generation; a
fill, an invalidation and a page check are one Lua script each, atomic on the server). A scope's
keys carry the scope in a hash tag (`{...}`), so a Redis cluster keeps them in one slot.

Redis is an accelerator, never a dependency: short timeouts, and after a failure the back end stops
asking for a moment (`cruddur.redis_outages`) so an outage costs no request more than one timeout.
Each outage is logged once when it starts and once when Redis answers again; every failed or
skipped operation is counted in `stats.errors`.

Invalidations a process could not send during an outage are lost, and Redis may come back with
the values from before (it persists them). So every value records the *epoch* it was filled in,
a reader takes only values of the current epoch, and a process that saw an outage starts a new
epoch as soon as Redis answers again: whatever was cached before is then ignored everywhere.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

import redis

from cruddur.cache.backend import CacheStats, PageChange
from cruddur.redis_outages import RedisOutageGuard

log = logging.getLogger(__name__)

SOCKET_TIMEOUT_SECONDS = 0.25
# a generation outlives any fill in flight by far; it expires so idle scopes cost no memory
GENERATION_TTL_SECONDS = 86_400

_FILL = """
local current = redis.call('GET', KEYS[2]) or '0'
local epoch = redis.call('GET', KEYS[3]) or '0'
if current ~= ARGV[1] or epoch ~= ARGV[4] then return 0 end
redis.call('SET', KEYS[1], epoch .. '\\n' .. ARGV[3], 'EX', tonumber(ARGV[2]))
return 1
"""
_INVALIDATE = """
redis.call('INCR', KEYS[1])
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[1]))
for i = 2, #KEYS do redis.call('DEL', KEYS[i]) end
return 1
"""
# the rule of cache.backend.page_affected, on the server
_PAGE_ROW_CHANGED = """
redis.call('INCR', KEYS[2])
redis.call('EXPIRE', KEYS[2], tonumber(ARGV[3]))
local stored = redis.call('GET', KEYS[1])
if not stored then return 0 end
local first = string.find(stored, '\\n', 1, true)
local nl = first and string.find(stored, '\\n', first + 1, true)
if not nl then redis.call('DEL', KEYS[1]) return 1 end
local bound = string.sub(stored, first + 1, nl - 1)
local present = string.find(stored, '"' .. ARGV[1] .. '"', nl + 1, true) ~= nil
local drop
if present then drop = ARGV[2] ~= 'INSERT' else drop = ARGV[2] ~= 'REMOVE' and ARGV[1] > bound end
if drop then redis.call('DEL', KEYS[1]) return 1 end
return 0
"""


class RedisCache:
    name = "redis"

    def __init__(
        self,
        url: str,
        prefix: str = "cruddur:",
        client: Any = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stats = CacheStats()
        self.prefix = prefix
        self._client = client or redis.Redis.from_url(
            url,
            socket_timeout=SOCKET_TIMEOUT_SECONDS,
            socket_connect_timeout=SOCKET_TIMEOUT_SECONDS,
            decode_responses=True,
        )
        self._fill = self._client.register_script(_FILL)
        self._invalidate = self._client.register_script(_INVALIDATE)
        self._page_row_changed = self._client.register_script(_PAGE_ROW_CHANGED)
        self._outages = RedisOutageGuard(
            skipped=lambda: self.stats.count("errors"),
            outage_started=self._outage_started,
            outage_ended=self._new_epoch,
            monotonic=monotonic,
        )

    # --- keys ---------------------------------------------------------------------------------

    def _key(self, scope: str, key: str) -> str:
        return f"{self.prefix}{{{scope}}}|{key}"

    def _generation_key(self, scope: str) -> str:
        return f"{self.prefix}{{{scope}}}|gen"

    def _epoch_key(self) -> str:
        return f"{self.prefix}epoch"

    # --- outages ------------------------------------------------------------------------------

    def _outage_started(self, exc: redis.RedisError) -> None:
        log.warning("cache unavailable, serving from the engines: %s", exc)

    def _new_epoch(self) -> None:
        """After an outage: nothing cached before it is trusted any more, by any process."""
        try:
            self._client.incr(self._epoch_key())
        except redis.RedisError as exc:
            self._outages.mark_down()
            log.warning("cache unavailable again: %s", exc)
            return
        log.warning("cache available again; values from before the outage are ignored")

    # --- operations -----------------------------------------------------------------------------

    def lookup(self, key: str, scope: str) -> tuple[str | None, str]:
        names = [self._key(scope, key), self._generation_key(scope), self._epoch_key()]
        found = self._outages.run(lambda: self._client.mget(names), None)
        if found is None:
            return None, ""  # "" matches no generation: nothing is filled during an outage
        stored, generation, epoch = (None if v is None else str(v) for v in found)
        epoch = epoch or "0"
        value = None
        if stored is not None:
            filled_in, _, rest = stored.partition("\n")
            if filled_in == epoch:
                value = rest.partition("\n")[2]
        self.stats.count("hits" if value is not None else "misses")
        return value, f"{epoch}:{generation or '0'}"

    def fill(
        self, key: str, value: str, scope: str, generation: str, ttl: int, bound: str = ""
    ) -> bool:
        if not generation:
            return False
        epoch, _, scope_generation = generation.partition(":")
        keys = [self._key(scope, key), self._generation_key(scope), self._epoch_key()]
        stored = self._outages.run(
            lambda: self._fill(keys=keys, args=[scope_generation, ttl, f"{bound}\n{value}", epoch]),
            None,
        )
        if stored is None:
            return False  # counted as an error
        self.stats.count("fills" if stored else "stale_fills_refused")
        return bool(stored)

    def invalidate(self, scope: str, keys: Sequence[str]) -> None:
        all_keys = [self._generation_key(scope), *(self._key(scope, k) for k in keys)]
        self._outages.run(
            lambda: self._invalidate(keys=all_keys, args=[GENERATION_TTL_SECONDS]), None
        )
        self.stats.count("invalidations")

    def page_row_changed(self, scope: str, key: str, sk: str, change: PageChange) -> None:
        keys = [self._key(scope, key), self._generation_key(scope)]
        self._outages.run(
            lambda: self._page_row_changed(
                keys=keys, args=[sk, change.value, GENERATION_TTL_SECONDS]
            ),
            None,
        )
        self.stats.count("invalidations")

    def available(self) -> bool:
        return bool(self._outages.run(lambda: self._client.ping(), False))
