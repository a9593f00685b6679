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
  at its next wake-up, and the client reconnects to another worker or host;
- the answers gunicorn writes itself, for requests it cannot parse before the app sees them (400,
  414, 431, 501, ...), are the API's JSON (`{"errors": [code]}` with the API's headers) instead
  of gunicorn's HTML page; they never repeat what the client sent.
"""

from __future__ import annotations

import errno
import json
import re
import socket
import time
from typing import Any

from gunicorn import util as gunicorn_util
from gunicorn.workers.gthread import TConn, ThreadWorker

from cruddur.hardening.headers import API_HEADERS
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


# The codes of gunicorn's own answers (the app's codes where they mean the same: api/errors.py).
GUNICORN_ERROR_CODES = {
    400: "request_malformed",
    403: "forbidden",
    414: "request_line_too_long",
    417: "expectation_failed",
    431: "request_headers_too_large",
    500: "internal_error",
    501: "transfer_coding_not_implemented",
}
_STATUS_LINE = re.compile(rb"^HTTP/1\.[01] (\d{3}) ([^\r\n]*)\r\n")


class _CapturedAnswer:
    """Stands for the client socket while gunicorn writes its error page: keeps the bytes."""

    def __init__(self) -> None:
        self.data = b""

    def gettimeout(self) -> float:
        return 0.0

    def setblocking(self, flag: bool) -> None:
        pass

    def sendall(self, data: bytes) -> None:
        self.data += data


def json_error_answer(gunicorn_answer: bytes) -> bytes | None:
    """The API's JSON answer for the status of gunicorn's HTML error page; None when the page is
    not one (then it is sent as it is)."""
    found = _STATUS_LINE.match(gunicorn_answer)
    if found is None:
        return None
    status, reason = int(found.group(1)), found.group(2).decode("latin-1")
    code = GUNICORN_ERROR_CODES.get(status, f"http_{status}")
    body = json.dumps({"errors": [code]}).encode()
    head = [f"HTTP/1.1 {status} {reason}", "Connection: close"]
    head += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
    head += [f"{name}: {value}" for name, value in API_HEADERS.items()]
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body


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

    def handle_error(self, req: Any, client: Any, addr: Any, exc: BaseException) -> None:
        # gunicorn decides the status and logs (its own rules, kept), writing into a stand-in;
        # the client gets the same status as JSON
        captured = _CapturedAnswer()
        super().handle_error(req, captured, addr, exc)
        answer = json_error_answer(captured.data) if captured.data else None
        try:
            gunicorn_util.write_nonblock(client, answer or captured.data)
        except Exception:  # noqa: BLE001 - the client may be gone; as gunicorn does
            self.log.debug("Failed to send error message.")
