"""gunicorn's threaded worker with deadlines on each client's reads and writes, so a slow client costs its own
connection only.

gunicorn's gthread worker reads a request and writes its response with blocking calls and no timeout, and
closes a connection by waiting (up to 2 s, on the thread that runs the event loop) for the client to close its
side. Clients that trickled a request, or sent requests and never read the answers, held every thread of a
worker and stalled its event loop: /healthz timed out for minutes. Here:

- a request's line, headers and body must all arrive within REQUEST_READ_SECONDS of its first byte;
- a worker thread never waits for a client to take a response: what the socket does not take at once is kept
  (within the worker's UNSENT_BYTES budget) and sent from the event loop as the client reads, and the next
  request on the connection is read only after that. A response not taken within RESPONSE_WRITE_SECONDS of its
  first byte, or one that does not fit in the budget, costs its connection, which is closed;
- a connection that ends waits for the client's FIN in the event loop (at most LINGER_SECONDS), not on it.
"""

from __future__ import annotations

import errno
import json
import logging
import selectors
import socket
import threading
import time
from collections import deque
from functools import partial

from gunicorn import util as gunicorn_util
from gunicorn.http.errors import NoMoreData
from gunicorn.workers.gthread import ThreadWorker

REQUEST_READ_SECONDS = 10.0
RESPONSE_WRITE_SECONDS = 10.0
LINGER_SECONDS = 2.0  # as gunicorn's util.close_graceful
LINGER_BYTES = 65536  # read and dropped while lingering, at most (as close_graceful)
# Bytes of responses written by a worker's application and not yet taken by their clients. Past it, the
# connection whose response does not fit is closed: stalled clients cannot grow a worker's memory.
UNSENT_BYTES = 64 << 20
log = logging.getLogger(__name__)
current = threading.local()  # the gunicorn request (.req) and ClientSocket (.sock) a worker thread is serving


class SlowClient(NoMoreData):
    """The request did not arrive within REQUEST_READ_SECONDS (gunicorn closes quietly on NoMoreData)."""


class _Budget:
    """A worker's count of unsent response bytes, shared by its threads."""

    def __init__(self, limit: int):
        self.limit, self.used = limit, 0
        self._lock = threading.Lock()

    def take(self, size: int) -> bool:
        with self._lock:
            if self.used + size > self.limit:
                return False
            self.used += size
            return True

    def give_back(self, size: int) -> None:
        with self._lock:
            self.used -= size


class ClientSocket:
    """A client socket whose reads for one request share one deadline and whose writes never block.

    Anything else (settimeout, shutdown, fileno ...) passes through to the socket.
    """

    def __init__(self, sock, read_seconds: float = REQUEST_READ_SECONDS,
                 write_seconds: float = RESPONSE_WRITE_SECONDS, budget: _Budget | None = None):
        self.raw = sock
        self._read_seconds, self._write_seconds = read_seconds, write_seconds
        self._budget = budget or _Budget(UNSENT_BYTES)
        self._deadline: float | None = None
        self._armed = True
        self._unsent: deque[memoryview] = deque()
        self.unsent_bytes = 0
        self.write_deadline: float | None = None

    def __getattr__(self, name):
        return getattr(self.raw, name)

    def new_request(self) -> None:
        """The clock starts at the request's first read, and at its response's first write."""
        self._deadline, self._armed, self.write_deadline = None, True, None

    def request_read(self) -> None:
        """The request is read whole: later reads (gunicorn draining the connection) keep their own timeouts."""
        self._armed = False

    def recv(self, size: int, *flags):
        if not self._armed:
            return self.raw.recv(size, *flags)
        now = time.monotonic()
        if self._deadline is None:
            self._deadline = now + self._read_seconds
        remaining = self._deadline - now
        if remaining <= 0:
            raise SlowClient()
        prior = self.raw.gettimeout()
        self.raw.settimeout(remaining if prior is None else min(remaining, prior))
        try:
            return self.raw.recv(size, *flags)
        except TimeoutError:
            raise SlowClient() from None
        finally:
            self.raw.settimeout(prior)

    def sendall(self, data) -> None:
        """Send what the socket takes now; keep the rest for flush(). Raises BrokenPipeError (which gunicorn
        takes as a client gone) when the rest does not fit in the worker's budget."""
        if self.write_deadline is None:
            self.write_deadline = time.monotonic() + self._write_seconds
        view = memoryview(data).cast("B")
        if not self._unsent:
            view = view[self._send_now(view):]
        if not view:
            return
        if not self._budget.take(len(view)):
            log.warning("closing a connection: its answer's %d unsent bytes do not fit in the worker's %d MiB for "
                        "answers that clients have not taken", len(view), self._budget.limit >> 20)
            self.drop()
            raise BrokenPipeError(errno.EPIPE, "the worker holds too many unsent responses: connection closed")
        self._unsent.append(view)
        self.unsent_bytes += len(view)

    def flush(self) -> bool:
        """Send unsent bytes while the socket takes them (never waits); True once none are left."""
        while self._unsent:
            sent = self._send_now(self._unsent[0])
            if not sent:
                return False
            self._budget.give_back(sent)
            self.unsent_bytes -= sent
            if sent == len(self._unsent[0]):
                self._unsent.popleft()
            else:
                self._unsent[0] = self._unsent[0][sent:]
        return True

    def drop(self) -> None:
        """Forget the unsent bytes (the connection is being closed)."""
        self._budget.give_back(self.unsent_bytes)
        self._unsent.clear()
        self.unsent_bytes = 0

    def _send_now(self, view: memoryview) -> int:
        prior = self.raw.gettimeout()
        self.raw.setblocking(False)
        try:
            return self.raw.send(view)
        except BlockingIOError:
            return 0
        finally:
            self.raw.settimeout(prior)


def _json_error(sock, status_int: int, reason: str, message: str) -> None:
    """gunicorn's answer to a request it refuses itself (bad request line, header too large ...), as JSON with
    the same security headers as the application's answers, instead of an HTML page."""
    from .web import SECURITY_HEADERS

    code = reason.lower().replace(" ", "_") or "bad_request"
    body = json.dumps({"error": {"code": code, "message": message or reason}}).encode()
    headers = {"Connection": "close", "Content-Type": "application/json", "Content-Length": str(len(body)),
               "Cache-Control": "no-store", **SECURITY_HEADERS}
    head = f"HTTP/1.1 {status_int} {reason}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
    gunicorn_util.write_nonblock(sock, head.encode("latin-1") + body)


class QAWorker(ThreadWorker):
    """gunicorn's threaded worker with the deadlines above and JSON for the requests it refuses.

    Needs gunicorn's `sendfile` setting off: a static file is then written through ClientSocket.sendall too.
    """

    def init_process(self):
        gunicorn_util.write_error = _json_error  # the one place gunicorn writes its own error pages (workers/base.py)
        self.unsent_budget = _Budget(UNSENT_BYTES)
        self.flushing: dict = {}  # connection -> its request's future, while its response is being taken
        self.lingering: dict = {}  # socket -> (deadline, bytes read), while waiting for the client's FIN
        super().init_process()

    def handle(self, conn):
        if not isinstance(conn.sock, ClientSocket):
            conn.sock = ClientSocket(conn.sock, budget=self.unsent_budget)  # before the parser is made from it
        conn.sock.new_request()
        return super().handle(conn)

    def handle_request(self, req, conn):
        current.req, current.sock = req, conn.sock
        try:
            return super().handle_request(req, conn)
        finally:
            current.req = current.sock = None

    def finish_request(self, conn, fs):
        """On the event loop after each request: a response the client has not taken yet is sent as it reads,
        before the connection is kept alive or closed; a connection is closed without waiting on this thread."""
        sock = conn.sock
        if isinstance(sock, ClientSocket) and sock.unsent_bytes and not fs.cancelled():
            self.flushing[conn] = fs
            self.poller.register(sock, selectors.EVENT_WRITE, partial(self._on_writable, conn))
        elif fs.cancelled() or fs.exception() is not None or not fs.result():
            self.nr_conns -= 1
            self._linger(sock)
        else:
            super().finish_request(conn, fs)

    def _on_writable(self, conn, _fileobj) -> None:
        try:
            done = conn.sock.flush()
        except OSError:
            self._stop_flushing(conn)
            self._close(conn)
            return
        if done:
            fs = self._stop_flushing(conn)
            self.finish_request(conn, fs)

    def _stop_flushing(self, conn):
        self.poller.unregister(conn.sock)
        return self.flushing.pop(conn)

    def _close(self, conn) -> None:
        self.nr_conns -= 1
        conn.sock.drop()
        gunicorn_util.close(conn.sock)

    def _linger(self, sock) -> None:
        """Half-close (the client sees the end of the response), then wait for its FIN in the poller, reading
        and dropping what it still sends, so that closing does not reset the connection under its last answer."""
        if isinstance(sock, ClientSocket):
            sock = sock.raw  # its reads here have no request deadline
        try:
            sock.shutdown(socket.SHUT_WR)
            sock.setblocking(False)
            self.poller.register(sock, selectors.EVENT_READ, self._on_lingering_readable)
        except (OSError, ValueError):
            gunicorn_util.close(sock)
            return
        self.lingering[sock] = (time.monotonic() + LINGER_SECONDS, 0)

    def _on_lingering_readable(self, sock) -> None:
        deadline, read = self.lingering[sock]
        try:
            data = sock.recv(LINGER_BYTES)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if data and read + len(data) < LINGER_BYTES:
            self.lingering[sock] = (deadline, read + len(data))
            return
        self._end_linger(sock)

    def _end_linger(self, sock) -> None:
        del self.lingering[sock]
        self.poller.unregister(sock)
        gunicorn_util.close(sock)

    def murder_pending(self):
        """gunicorn's expiry of idle connections, and of responses not taken and closes not answered in time."""
        super().murder_pending()
        now = time.monotonic()
        stalled = [c for c in self.flushing if c.sock.write_deadline is not None and c.sock.write_deadline < now]
        for conn in stalled:
            self._stop_flushing(conn)
            self._close(conn)
        if stalled:
            self.log.info("closed %d connection(s) whose client did not take a response within %.0f s",
                          len(stalled), RESPONSE_WRITE_SECONDS)
        for sock in [s for s, (deadline, _) in self.lingering.items() if deadline < now]:
            self._end_linger(sock)
