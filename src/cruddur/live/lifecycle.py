"""The serving process's lifecycle as the event streams see it: set `STOPPING` when the process
begins a graceful shutdown, and every open stream ends at its next wake-up (at most
`cruddur.api.events.WAKE_SECONDS` later) instead of holding the shutdown up until a heartbeat."""

from __future__ import annotations

import threading

STOPPING = threading.Event()
