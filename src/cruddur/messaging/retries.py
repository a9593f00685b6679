"""Our own bounded retries, for what botocore does not retry: cancelled transactions (conflicts)
and conditional races. Exhaustion raises ContentionExhausted; nothing is half-written by then."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator

from cruddur.messaging.errors import ContentionExhausted

MAX_ATTEMPTS = 8
BACKOFF_BASE_SECONDS = 0.02
BACKOFF_CAP_SECONDS = 0.5

Sleep = Callable[[float], None]


def attempts(what: str, sleep: Sleep = time.sleep) -> Iterator[int]:
    """Attempt numbers 0..MAX_ATTEMPTS-1, with full-jitter exponential backoff before each retry;
    ContentionExhausted when the caller asks for more."""
    for attempt in range(MAX_ATTEMPTS):
        if attempt:
            delay = min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * (2**attempt))
            sleep(random.uniform(0, delay))  # noqa: S311 - jitter, not security
        yield attempt
    raise ContentionExhausted(f"{what}: still contended after {MAX_ATTEMPTS} attempts")
