"""gunicorn's threaded worker, changed so that a silent, slow or stalled client costs its own connection only.

gunicorn's gthread worker gives each new or kept-alive connection a thread, which waits up to 5 s for the request's
first bytes and then reads the request with blocking calls; it writes the response with blocking calls too, and
closes a connection by waiting (up to 2 s, on the thread that runs the event loop) for the client to close its side.
Silent connections, clients that trickled a request or never read their answers held every thread of a worker:
beside 300 silent or trickling connections /healthz took 5-9 s and a question 20 s; beside clients that never read,
/healthz timed out for minutes. Here no thread, and no event loop, waits for a client:

- a request is read in the event loop, by non-blocking reads as its bytes arrive, into a RequestBuffer
  (request_buffer.py); a thread takes the connection only once the request is whole (or refused) and reads it from
  there. Its line, headers and body must arrive within REQUEST_READ_SECONDS of its first byte: a request still in
  its head is then closed, one in its body answered 408 (by the application, which finds it cut short). A
  connection that sends nothing is closed after REQUEST_READ_SECONDS when new, gunicorn's `keepalive` when kept
  alive. The one body not read there is one over the application's limit, which it refuses from the
  Content-Length before reading a byte; only an admin's upload is read on its thread, within the same deadline;
- what the socket does not take of a response at once is kept (within the worker's UNSENT_BYTES budget) and sent
  from the event loop as the client reads, and the next request on the connection is read only after that. A
  response not taken within RESPONSE_WRITE_SECONDS of its first byte, or one that does not fit in the budget,
  costs its connection, which is closed;
- a connection that ends waits for the client's FIN in the event loop (at most LINGER_SECONDS), not on it;
- a worker that stops closes its listening sockets at once: a connection opened from then on is refused, where it
  waited in the backlog, unanswered, until the worker had finished and was reset.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import math
import selectors
import socket
import threading
import time
from collections import deque
from functools import partial

from gunicorn import util as gunicorn_util
from gunicorn.http.errors import NoMoreData
from gunicorn.http.parser import RequestParser
from gunicorn.workers.gthread import STOP_KEEPALIVE_LINGER, TConn, ThreadWorker

from .request_buffer import RequestBuffer

REQUEST_READ_SECONDS = 10.0
RESPONSE_WRITE_SECONDS = 10.0
LINGER_SECONDS = 2.0  # as gunicorn's util.close_graceful
LINGER_BYTES = 65536  # read and dropped while lingering, at most (as close_graceful)
READ_BYTES = 65536  # one read of a request's bytes in the event loop, at most
# Bytes of responses written by a worker's application and not yet taken by their clients, and of requests read in
# its event loop and not yet handed to a thread. Past either, the connection that does not fit is closed: stalled
# or flooding clients cannot grow a worker's memory (a head may hold 800 KB, a connection 1,000 per worker).
UNSENT_BYTES = 64 << 20
UNREAD_BYTES = 64 << 20
CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
log = logging.getLogger(__name__)
current = threading.local()  # the gunicorn request (.req) a worker thread is serving


class SlowClient(NoMoreData):
    """The request did not arrive within REQUEST_READ_SECONDS (gunicorn closes quietly on NoMoreData)."""


class _Budget:
    """A worker's count of bytes held for its clients (responses not taken, requests not answered), shared by its
    threads."""

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
    """A client socket as a worker thread sees it: reads come from the request the event loop read, and (only when
    its body was not all read there) then from the socket, until the request's deadline; writes never block.

    Anything else (settimeout, shutdown, fileno ...) passes through to the socket.
    """

    def __init__(self, sock, write_seconds: float = RESPONSE_WRITE_SECONDS, budget: _Budget | None = None):
        self.raw = sock
        self._write_seconds = write_seconds
        self._budget = budget or _Budget(UNSENT_BYTES)
        self._received = b""
        self._taken = 0
        self.whole = True
        self._read_deadline = 0.0
        self._continue_due = False
        self._unsent: deque[memoryview] = deque()
        self.unsent_bytes = 0
        self.write_deadline: float | None = None

    def __getattr__(self, name):
        return getattr(self.raw, name)

    def take_request(self, received: bytes, read_deadline: float, whole: bool, continued: bool) -> None:
        """A thread takes the connection with the bytes the event loop read: the whole request when `whole`, else
        its head and what came of its body, the rest to be read from the socket until `read_deadline`. `continued`:
        the event loop answered its `Expect: 100-continue` already. The response's clock starts at its first write."""
        self._received, self._taken = received, 0
        self.whole, self._read_deadline = whole, read_deadline
        self._continue_due = not (whole or continued)
        self.write_deadline = None

    def unread(self) -> bytes:
        """The bytes received that the thread did not take (the start of a pipelined request), taken from here."""
        rest = self._received[self._taken:]
        self._received, self._taken = b"", 0
        return rest

    def recv(self, size: int, *flags):
        if self._taken < len(self._received):
            data = self._received[self._taken:self._taken + size]
            self._taken += len(data)
            return data
        remaining = self._read_deadline - time.monotonic()
        if self.whole or remaining <= 0:  # a whole request never waits for more
            raise SlowClient()
        prior = self.raw.gettimeout()
        self.raw.settimeout(remaining if prior is None else min(remaining, prior))
        try:
            return self.raw.recv(size, *flags)
        except TimeoutError:
            raise SlowClient() from None
        finally:
            self.raw.settimeout(prior)

    def send(self, data, *flags) -> int:
        """gunicorn's `100 Continue` goes out only when its body is still to come and the event loop did not send
        it; other interim writes pass through."""
        if bytes(data) == CONTINUE and not self._continue_due:
            return len(data)
        return self.raw.send(data, *flags)

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


class _Reading:
    """A connection whose next request the event loop is reading, and by when it must have arrived."""

    __slots__ = ("request", "deadline", "held", "continued")

    def __init__(self, request: RequestBuffer, deadline: float):
        self.request, self.deadline = request, deadline
        self.held = 0  # of the worker's UNREAD_BYTES
        self.continued = False  # `100 Continue` sent


class QAWorker(ThreadWorker):
    """gunicorn's threaded worker with requests read in the event loop, the deadlines above and JSON for the requests
    it refuses.

    Needs gunicorn's `sendfile` setting off: a static file is then written through ClientSocket.sendall too. Its
    application (server._Gunicorn) says how large a body it takes (`qa_config.max_body_bytes`).
    """

    def init_process(self) -> None:
        gunicorn_util.write_error = _json_error  # the one place gunicorn writes its own error pages (workers/base.py)
        self.body_limit = self.app.qa_config.max_body_bytes
        self.unsent_budget = _Budget(UNSENT_BYTES)
        self.unread_budget = _Budget(UNREAD_BYTES)
        self.reading: dict = {}  # connection -> its _Reading, while the event loop reads its request
        self.next_expiry = math.inf  # no reading deadline falls before this
        self.flushing: dict = {}  # connection -> its request's future, while its response is being taken
        self.lingering: dict = {}  # socket -> (deadline, bytes read), while waiting for the client's FIN
        super().init_process()

    def accept(self, listener):
        """A new connection: its request is read in the event loop (gthread handed it to a thread at once)."""
        try:
            sock, client = listener.accept()
        except OSError as exc:
            if exc.errno not in (errno.EAGAIN, errno.ECONNABORTED, errno.EWOULDBLOCK):
                raise
            return
        self.nr_conns += 1
        conn = TConn(self.cfg, sock, client, listener.getsockname())
        conn.sock = ClientSocket(sock, budget=self.unsent_budget)
        self._read(conn, b"", idle_seconds=REQUEST_READ_SECONDS)

    def _read(self, conn, received: bytes, idle_seconds: float) -> None:
        """Read the connection's next request in the event loop; `received`: its first bytes, if any came already."""
        now = time.monotonic()
        reading = _Reading(RequestBuffer(self.cfg, conn.client, self.body_limit), now + idle_seconds)
        conn.sock.raw.setblocking(False)
        if received and not self._take_bytes(reading, received, now):
            self._close(conn)
            return
        if reading.request.ready:
            self._hand_over(conn, reading)
            return
        self.reading[conn] = reading
        self.poller.register(conn.sock.raw, selectors.EVENT_READ, partial(self._on_readable, conn))
        self.next_expiry = min(self.next_expiry, reading.deadline)

    def _on_readable(self, conn, _fileobj) -> None:
        reading = self.reading[conn]
        try:
            data = conn.sock.raw.recv(READ_BYTES)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:  # the client closed its side (or reset): no request will come whole
            self._stop_reading(conn)
            self._close(conn)
            return
        if not self._take_bytes(reading, data, time.monotonic()):
            self._stop_reading(conn)
            self._close(conn)
            return
        if reading.request.ready:
            self._stop_reading(conn)
            self._hand_over(conn, reading)
        elif reading.request.expects_continue and not reading.continued:
            reading.continued = True
            with contextlib.suppress(OSError):  # else the client sends its body after a wait of its own, or is gone
                conn.sock.raw.send(CONTINUE)  # 25 bytes on a connection that has not been answered yet: taken

    def _take_bytes(self, reading: _Reading, data: bytes, now: float) -> bool:
        """Add bytes received to the request (its clock starts at its first byte); False when they do not fit in
        the worker's UNREAD_BYTES (the connection is then to be closed)."""
        if not self.unread_budget.take(len(data)):
            log.warning("closing a connection: its request's %d bytes read so far do not fit in the worker's %d MiB "
                        "for requests not yet answered", reading.held + len(data), UNREAD_BYTES >> 20)
            self.unread_budget.give_back(reading.held)
            return False
        if not reading.request.data:
            reading.deadline = now + REQUEST_READ_SECONDS
        reading.held += len(data)
        reading.request.feed(data)
        return True

    def _stop_reading(self, conn) -> None:
        self.poller.unregister(conn.sock.raw)
        del self.reading[conn]

    def _hand_over(self, conn, reading: _Reading) -> None:
        """A thread takes the connection, with the request read (gthread's handle() runs it from its parser)."""
        self.unread_budget.give_back(reading.held)
        request = reading.request
        conn.sock.take_request(bytes(request.data), reading.deadline, request.whole, reading.continued)
        conn.parser = RequestParser(self.cfg, conn.sock, conn.client)
        conn.initialized = conn.data_ready = True  # handle() would wait for data, and init() make a parser
        self.enqueue_req(conn)

    def handle_request(self, req, conn):
        if not conn.sock.whole:
            req.force_close()  # the rest of its body is never read after the answer: the connection closes
        current.req = req
        try:
            return super().handle_request(req, conn)
        finally:
            current.req = None

    def finish_request(self, conn, fs):
        """On the event loop after each request: a response the client has not taken yet is sent as it reads,
        before the connection is kept alive or closed; a connection is closed without waiting on this thread; a
        kept-alive connection's next request is read here (its first bytes may have come with this one's)."""
        sock = conn.sock
        if sock.unsent_bytes and not fs.cancelled():
            self.flushing[conn] = fs
            self.poller.register(sock, selectors.EVENT_WRITE, partial(self._on_writable, conn))
        elif fs.cancelled() or fs.exception() is not None or not fs.result():
            self.nr_conns -= 1
            self._linger(sock)
        else:
            idle = self.cfg.keepalive if self.alive else min(self.cfg.keepalive, STOP_KEEPALIVE_LINGER)
            self._read(conn, conn.parser.unreader.take_buffered() + sock.unread(), idle_seconds=idle)

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
        """Expiry of requests not read in time, of responses not taken and of closes not answered in time (in place
        of gthread's expiry of connections waiting for data, which never wait here)."""
        now = time.monotonic()
        if now >= self.next_expiry:
            self._expire_reading(now)
        stalled = [c for c in self.flushing if c.sock.write_deadline is not None and c.sock.write_deadline < now]
        for conn in stalled:
            self._stop_flushing(conn)
            self._close(conn)
        if stalled:
            self.log.info("closed %d connection(s) whose client did not take a response within %.0f s",
                          len(stalled), RESPONSE_WRITE_SECONDS)
        for sock in [s for s, (deadline, _) in self.lingering.items() if deadline < now]:
            self._end_linger(sock)

    def _expire_reading(self, now: float) -> None:
        """A request not arrived by its deadline: in its body, a thread takes it (the application answers 408);
        silent or in its head, its connection is closed."""
        self.next_expiry = math.inf
        for conn, reading in list(self.reading.items()):
            if reading.deadline > now:
                self.next_expiry = min(self.next_expiry, reading.deadline)
                continue
            self._stop_reading(conn)
            if reading.request.body_start is not None:
                self._hand_over(conn, reading)
            else:
                self.unread_budget.give_back(reading.held)
                self._close(conn)

    def _cap_keepalive(self, deadline):
        """A stopping worker: connections that have sent nothing yet are closed by `deadline` (gthread closes its
        kept-alive connections so, STOP_KEEPALIVE_LINGER after the stop; here they are among those being read)."""
        for reading in self.reading.values():
            if not reading.request.data:
                reading.deadline = min(reading.deadline, deadline)
        self.next_expiry = min(self.next_expiry, deadline)

    def set_accept_enabled(self, enabled):
        """A stopping worker closes its listening sockets at once: a connection opened while it finishes is refused
        (the other workers and the master have closed theirs, or go on accepting), not left in the backlog."""
        super().set_accept_enabled(enabled)
        if not self.alive:
            for listener in self.sockets:
                listener.close()
