"""Running the Flask app under gunicorn, configured from Python rather than a config file.

Each worker process loads the encoder and the index once, before it accepts a connection, and
serves requests from a few threads. The cores are divided between the workers: an encoder (and
FAISS's OpenMP and numpy's BLAS) in each worker uses cores // workers threads, so two workers on
two cores never fight over a core ($QA_ENCODER_THREADS overrides that). A threaded BLAS or OpenMP
pool left at every core would spin against the other worker and stall a request for milliseconds.
A question encoded while no other encode runs in any worker uses every core instead (occupancy.py).
"""

from __future__ import annotations

import errno
import io
import os
import socket

from gunicorn.app.base import BaseApplication
from gunicorn.http.errors import NoMoreData, ParseException
from werkzeug.exceptions import BadRequest, ClientDisconnected, HTTPException, RequestTimeout

from ..config import Config
from ..index.occupancy import SharedOccupancy
from .access_log import AccessLogger
from .metrics import configure_event_log, enable_multiprocess, log_event, remove_multiprocess_folder, worker_exited
from .worker import REQUEST_READ_SECONDS, QAWorker, SlowClient, current

# Statuses after which the rest of the request is not read: the connection is closed, and says so.
CLOSING_STATUSES = ("408", "413")


class _GuardedInput:
    """wsgi.input whose failures are HTTP errors: a malformed chunked body is 400, a body too slow 408.

    gunicorn raises its parse errors (not OSError) from the body read, which reached Flask as a 500.
    """

    def __init__(self, stream):
        self._stream = stream
        self.failed = False

    def _guard(self, read, *args):
        try:
            return read(*args)
        except SlowClient:
            self.failed = True
            raise RequestTimeout(f"the request body did not arrive within {REQUEST_READ_SECONDS:.0f} s") from None
        except ParseException as exc:
            self.failed = True
            raise BadRequest(f"malformed request body ({type(exc).__name__})") from None
        except NoMoreData:
            self.failed = True
            raise ClientDisconnected("the client closed the connection before the whole body arrived") from None

    def read(self, size=None):
        return self._guard(self._stream.read, size)

    def readline(self, size=None):
        return self._guard(self._stream.readline, size)

    def readlines(self, hint=None):
        return self._guard(self._stream.readlines, hint)

    def __iter__(self):
        return iter(self.readline, b"")


def _read_body(environ, stream: _GuardedInput, limit: int):
    """The request body, read whole before the application runs (at most `limit` + 1 bytes), as a new wsgi.input.

    A body that cannot be read (too slow, malformed, cut off) gives an input that raises that error when
    the application reads it, so the application still answers it as JSON. A body over the limit that
    the client announced is not read: the application refuses it (413) from its Content-Length.
    """
    length = environ.get("CONTENT_LENGTH") or ""
    try:
        if length.isdigit():
            if int(length) > limit:
                return stream
            data = stream.read(int(length))
        elif environ.get("wsgi.input_terminated"):  # chunked: read to its end, or one byte over the limit
            data = stream.read(limit + 1)
        else:
            return stream
    except HTTPException as exc:
        return _FailedInput(exc)
    return io.BytesIO(data)


class _FailedInput:
    def __init__(self, error: HTTPException):
        self.error = error

    def read(self, *args):
        raise self.error

    readline = readlines = read

    def __iter__(self):
        raise self.error


def guarded(app, limit: int):
    """WSGI middleware: the body is read whole before the application runs (the worker's event loop has read it
    already, unless it is over `limit`), its read errors made 4xx answers.

    After those errors (or a 408/413) gunicorn closes the connection and says `Connection: close` (it said
    keep-alive, then closed, when a refused body was left unread).
    """

    def wsgi(environ, start_response):
        stream = _GuardedInput(environ["wsgi.input"])
        environ["wsgi.input"] = _read_body(environ, stream, limit)

        def start(status, headers, exc_info=None):
            req = getattr(current, "req", None)
            if req is not None and (stream.failed or status[:3] in CLOSING_STATUSES):
                req.must_close = True
            return start_response(status, headers, exc_info)

        return app(environ, start)

    return wsgi


def threads_per_worker(workers: int) -> int:
    return max(1, (os.cpu_count() or 1) // max(1, workers))


class _Gunicorn(BaseApplication):
    def __init__(self, config: Config, options: dict, compute_threads: int):
        self.qa_config = config  # read by QAWorker too (the largest body it reads)
        self.options = options
        self.compute_threads = compute_threads
        self.occupancy = SharedOccupancy()  # made here, in the master, before any fork
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)
        self.cfg.set("pre_fork", self._pre_fork)
        self.cfg.set("post_fork", self._post_fork)
        self.cfg.set("child_exit", self._child_exit)

    def _pre_fork(self, server, worker) -> None:
        worker.qa_slot = self.occupancy.assign()
        if worker.qa_slot is None:
            server.log.warning("every shared occupancy slot is taken: the new worker's questions are not seen by the "
                               "others (a question may then be encoded on every core beside another)")

    def _post_fork(self, server, worker) -> None:
        self.occupancy.slot = worker.qa_slot

    def _child_exit(self, server, worker) -> None:
        self.occupancy.release(worker.qa_slot)
        worker_exited(worker.pid)

    def load(self):
        """Runs in each worker after the fork: the model is loaded here, once per worker."""
        from ..changes.corpus_change import recover_at_start
        from ..service import limit_math_threads
        from .web import create_app
        from .web.admin import LOCK_WAIT_SECONDS

        limit_math_threads(self.compute_threads)
        configure_event_log()
        recover_at_start(self.qa_config, LOCK_WAIT_SECONDS)  # an admin change a killed worker left half-done
        app = create_app(self.qa_config)
        service = app.extensions["qa_service"]
        service.occupancy = self.occupancy  # before the encoder is loaded (by warm_up), which shares it
        service.warm_up()
        return guarded(app, limit=self.qa_config.max_body_bytes)


class CannotListen(Exception):
    """The server's address cannot be bound (in use, or not an address of this machine): one line says which."""


def listen(host: str, port: int) -> socket.socket:
    """The server's socket, bound here and handed to gunicorn (`fd://`), so that the start is logged only once
    the address is the server's, and an address in use is one line instead of gunicorn's five retries."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                                             flags=socket.AI_PASSIVE)[0]
    except socket.gaierror as exc:
        raise CannotListen(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as gunicorn: a restart need not wait
    try:
        sock.bind(address)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            other = port + 1 if port < 65535 else port - 1
            raise CannotListen(f"port {port} on {host} is in use (another server?): stop it, or choose another "
                               f"port with PORT={other} make run (qa-service serve --port {other})") from None
        raise CannotListen(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    return sock


def run_gunicorn(config: Config, host: str, port: int, workers: int = 2, threads: int = 4,
                 access_log: bool = True) -> None:
    """Each worker loads the model once at start (never per request) and then serves threads."""
    # Each worker's share of the cores, unless QA_ENCODER_THREADS says otherwise; the workers are handed `config`.
    compute_threads = threads_per_worker(workers) if config.encoder_threads is None else config.encoder_threads
    # Every question on its worker's share, alone or not (unless QA_ENCODER_SOLO_THREADS says otherwise): a lone
    # question on every core was faster on a quiet machine, but its encoder threads then spin against the next
    # question's worker, so a client that opens a connection per request, or another job on the machine,
    # doubled the latency (BENCHMARKS.md, "Serving over HTTP").
    solo_threads = 0 if config.encoder_solo_threads is None else config.encoder_solo_threads
    config = config.with_overrides(encoder_threads=compute_threads, encoder_solo_threads=solo_threads)
    listener = listen(host, port)
    options = {
        # gunicorn takes the socket over: it keeps a copy and closes this descriptor, and closes its copy on shutdown
        "bind": f"fd://{listener.detach()}",
        "workers": workers,
        "threads": threads,  # they only answer: requests are read, and answers sent, by the event loop (worker.py)
        "worker_class": QAWorker,
        "logger_class": AccessLogger,  # the access log escapes what a client sends (access_log.py)
        "sendfile": False,  # a static file is written through QAWorker's sockets, which never block a thread
        # No control socket: by default every server of one user shares ~/.gunicorn/gunicorn.ctl, and a
        # second server took over the first's. Nothing here uses gunicornc.
        "control_socket_disable": True,
        "timeout": 120,
        "graceful_timeout": 30,
        "keepalive": 5,
    }
    if access_log:
        # The request line without its query string (the method, path and protocol), unless the operator logs
        # questions: a shared link (`/?q=…`) carries the question, and questions can be personal.
        request = "%(r)s" if config.log_questions else "%(m)s %(U)s %(H)s"
        options.update({"accesslog": "-", "access_log_format": f'%(h)s "{request}" %(s)s %(b)s %(M)sms'})
    metrics_folder = enable_multiprocess()  # before any worker: /metrics adds up every worker's counts
    configure_event_log()
    admin = "enabled" if config.admin_token else "disabled"
    log_event("start", bind=f"{host}:{port}", workers=workers, threads=threads, admin_api=admin,
              log_questions=config.log_questions, index_dir=str(config.index_dir),
              message=f"admin API {admin}: POST/DELETE /api/articles "
                      + ("need the token" if config.admin_token else "answer 403 (set QA_ADMIN_TOKEN to enable)"))
    master = os.getpid()
    try:
        _Gunicorn(config, options, compute_threads).run()
    finally:
        if os.getpid() == master:  # each worker leaves gunicorn through here too, by SystemExit after its fork
            remove_multiprocess_folder(metrics_folder)
