"""A server's life under signals, against the real server (`qa-service serve`, gunicorn, the real model) on
127.0.0.1: a reload (SIGHUP) and a worker more or less (SIGTTIN, SIGTTOU) under load, shutdowns, and connections
opened while a shutdown finishes. Each test starts a server of its own (one worker), with its own TMPDIR, where
the server makes its metrics folder."""

from __future__ import annotations

import os
import signal
import socket
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator

import psutil
import pytest

from qa_service.config import PROJECT_ROOT
from qa_service.serving.devserver import ServeProcess

from ..fixtures import http, read_response, slow


@pytest.fixture
def served(built_index, tmp_path) -> Iterator[ServeProcess]:
    corpus, index = built_index  # only read: no admin token
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    env = {**os.environ, "QA_INDEX_DIR": str(index), "QA_CORPUS_DIR": str(corpus), "TMPDIR": str(scratch),
           "QA_CACHE_DIR": str(PROJECT_ROOT / "embeddings")}  # the session encoder's export
    env.pop("QA_ADMIN_TOKEN", None)
    server = ServeProcess(env, tmp_path / "server.log", workers=1, threads=2)
    server.scratch = scratch  # type: ignore[attr-defined]
    try:
        server.wait_ready(150)
        yield server
    except RuntimeError as exc:
        pytest.fail(str(exc))
    finally:
        server.stop()


def workers(server: ServeProcess) -> set[int]:
    return {child.pid for child in psutil.Process(server.process.pid).children()}


def wait_for(server: ServeProcess, condition: Callable[[], bool], what: str, timeout: float = 150) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert server.process.poll() is None, f"the server exited waiting for {what}: {server.log()[-3000:]}"
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


class Load:
    """Questions and health checks asked one after another from a thread, each on a new connection."""

    def __init__(self, base: str):
        self.base = base
        self.answers: list[tuple[float, int]] = []  # (when, status)
        self.failures: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                if len(self.answers) % 2:
                    status, _ = http(self.base + "/healthz", timeout=60)
                else:
                    status, _ = http(self.base + "/api/ask", {"question": "What did Pompeo warn about?"}, timeout=60)
                self.answers.append((time.monotonic(), status))
            except Exception as exc:  # any refusal, reset or time-out is a failure of the test
                self.failures.append(repr(exc))
            time.sleep(0.02)

    def answered_since(self, moment: float) -> int:
        return sum(1 for at, _ in self.answers if at > moment)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(90)


@slow
def test_a_reload_and_a_worker_more_or_less_keep_the_service_answering(served):
    """SIGHUP starts a new worker and lets the old one go, SIGTTIN adds a worker, SIGTTOU takes one away; questions
    go on throughout, and every one is answered. (The master used to die at once: its shared occupancy array had a
    slot per initial worker, and a reload forks the new workers before the old ones leave.)"""
    master = served.process.pid
    first = workers(served)
    assert len(first) == 1
    load = Load(served.base)
    try:
        wait_for(served, lambda: load.answered_since(0) >= 5, "the first answers")
        os.kill(master, signal.SIGHUP)
        wait_for(served, lambda: len(now := workers(served)) == 1 and not now & first, "a new worker for the old")
        reloaded = time.monotonic()
        wait_for(served, lambda: load.answered_since(reloaded) >= 5, "answers after the reload")
        os.kill(master, signal.SIGTTIN)
        wait_for(served, lambda: len(workers(served)) == 2, "a second worker")
        os.kill(master, signal.SIGTTOU)
        wait_for(served, lambda: len(workers(served)) == 1, "one worker again")
        shrunk = time.monotonic()
        wait_for(served, lambda: load.answered_since(shrunk) >= 5, "answers after the worker left")
    finally:
        load.stop()
    assert served.process.poll() is None, served.log()[-3000:]
    assert not load.failures, load.failures[:5]
    assert {status for _, status in load.answers} == {200}
    with urllib.request.urlopen(served.base + "/metrics", timeout=30) as response:  # the old workers' exit kept it
        assert b"qa_requests_total" in response.read()
    assert "Traceback" not in served.log() and "IndexError" not in served.log()


@slow
@pytest.mark.parametrize(("signalled", "sig"), [("server", signal.SIGTERM), ("group", signal.SIGINT)])
def test_a_shutdown_exits_0_without_a_traceback_and_removes_its_metrics_folder(served, signalled, sig):
    """SIGTERM to the server (a service manager), or SIGINT to its process group (Ctrl-C in a terminal)."""
    assert http(served.base + "/api/ask", {"question": "What did Pompeo warn about?"})[0] == 200
    assert len(list(served.scratch.glob("qa-metrics-*"))) == 1
    if signalled == "server":
        os.kill(served.process.pid, sig)
    else:
        os.killpg(served.process.pid, sig)
    assert served.process.wait(60) == 0, served.log()[-3000:]
    assert "Traceback" not in served.log() and "Bad file descriptor" not in served.log(), served.log()[-3000:]
    assert not list(served.scratch.glob("qa-metrics-*"))


def try_healthz(port: int) -> str:
    """What a new connection gets: 'refused' or 'reset', or the answer's Connection header."""
    try:
        sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    except ConnectionRefusedError:
        return "refused"
    with sock:
        try:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
            status, headers, _ = read_response(sock)  # times out (an error) when never answered
        except (ConnectionResetError, BrokenPipeError):
            return "reset"
        assert status == 200
        return headers.get("connection", "")


@slow
def test_connections_opened_while_a_shutdown_finishes_are_refused_or_told_to_close(served):
    """A client in the middle of sending its body holds the stop for up to 10 s; a connection opened meanwhile is
    refused at once (or, accepted in the moment before, answered with `Connection: close`), never left waiting."""
    slow_client = socket.create_connection(("127.0.0.1", served.port), timeout=30)
    with slow_client:
        slow_client.sendall(b"POST /api/ask HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
                            b"Content-Length: 1000\r\n\r\n{\"q")
        time.sleep(0.5)
        os.kill(served.process.pid, signal.SIGTERM)
        outcomes = []
        for _ in range(5):
            time.sleep(0.3)
            outcomes.append(try_healthz(served.port))
        assert served.process.poll() is None  # still finishing: the slow client holds it
        assert set(outcomes) <= {"refused", "reset", "close"}, outcomes
        assert outcomes[-1] == "refused"
        status, headers, _ = read_response(slow_client)  # the request in progress is answered still
        assert (status, headers["connection"]) == (408, "close")
    assert served.process.wait(60) == 0, served.log()[-3000:]
