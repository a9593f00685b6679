"""The gunicorn worker `cruddur serve` runs: gunicorn's threaded worker (gthread), with deadlines a
server holding hundreds of open event streams needs.

Every open event stream holds one thread of its worker (and one Redis connection while it waits),
so workers run many threads (`cruddur.cli.serve.DEFAULT_THREADS`) and accept a connection only
while a thread is free (`worker_connections` = threads: a full worker leaves new connections to
the others instead of queueing them behind streams). What gthread lacks, added here:

- a request deadline: a connection's request (line, headers, body) must have arrived
  `REQUEST_READ_SECONDS` after a thread took it up, else the connection is closed. gthread waits
  for the first byte without a thread (5 s, then the poller), but a client that sends half a
  request would hold a thread for ever;
- a send deadline: a client that reads nothing for `SEND_SECONDS` (a full socket buffer) is
  dropped, so a stalled reader cannot hold a stream's thread;
- on a graceful stop (SIGTERM), `cruddur.live.lifecycle.STOPPING` is set: every event stream ends
  at its next wake-up, and the client reconnects to another worker or host.
"""

from __future__ import annotations

import errno
import socket
import time
from typing import Any

from gunicorn.workers.gthread import TConn, ThreadWorker

from cruddur.live.lifecycle import STOPPING

REQUEST_READ_SECONDS = 10.0
SEND_SECONDS = 30.0


class DeadlineSocket:
    """A client socket whose reads end at `read_deadline` (monotonic; None: no deadline) and whose
    sends give up after SEND_SECONDS without progress. Everything else is the socket's."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self.read_deadline: float | None = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)

    # A deadline that passes ends the connection as a reset would: gthread closes it quietly
    # (a slow or stalled client is not a server error worth a traceback).

    def _read_timeout(self) -> None:
        if self.read_deadline is None:
            return
        remaining = self.read_deadline - time.monotonic()
        if remaining <= 0:
            raise ConnectionResetError(
                errno.ECONNRESET, "the request did not arrive in time"
            ) from None
        self._sock.settimeout(remaining)

    def recv(self, size: int, *flags: int) -> bytes:
        self._read_timeout()
        try:
            return self._sock.recv(size, *flags)
        except TimeoutError:
            raise ConnectionResetError(
                errno.ECONNRESET, "the request did not arrive in time"
            ) from None

    def recv_into(self, buffer: Any, *args: int) -> int:
        self._read_timeout()
        try:
            return self._sock.recv_into(buffer, *args)
        except TimeoutError:
            raise ConnectionResetError(
                errno.ECONNRESET, "the request did not arrive in time"
            ) from None

    def sendall(self, data: Any, *flags: int) -> None:
        self._sock.settimeout(SEND_SECONDS)
        try:
            self._sock.sendall(data, *flags)
        except TimeoutError:
            raise ConnectionResetError(errno.ECONNRESET, "the client stopped reading") from None

    def send(self, data: Any, *flags: int) -> int:
        self._sock.settimeout(SEND_SECONDS)
        try:
            return self._sock.send(data, *flags)
        except TimeoutError:
            raise ConnectionResetError(errno.ECONNRESET, "the client stopped reading") from None


class StreamingThreadWorker(ThreadWorker):
    """gthread with a request deadline, a send deadline and event streams that end on a stop."""

    def accept(self, listener: Any) -> None:
        # gthread's accept, with the client socket wrapped (TLS is not terminated by gunicorn here)
        try:
            client_sock, client_addr = listener.accept()
            self.nr_conns += 1
            client_sock.setblocking(True)
            sock: Any = client_sock if self.cfg.is_ssl else DeadlineSocket(client_sock)
            conn = TConn(self.cfg, sock, client_addr, listener.getsockname())
            self.enqueue_req(conn)
        except OSError as e:
            if e.errno not in (errno.EAGAIN, errno.ECONNABORTED, errno.EWOULDBLOCK):
                raise

    def handle(self, conn: Any) -> Any:
        # each request of the connection (kept alive or not) has its own deadline
        if isinstance(conn.sock, DeadlineSocket):
            conn.sock.read_deadline = time.monotonic() + REQUEST_READ_SECONDS
        return super().handle(conn)

    def handle_exit(self, sig: Any, frame: Any) -> None:
        STOPPING.set()
        super().handle_exit(sig, frame)
