"""The real thing: `qa-service serve` under gunicorn, on a free loopback port, with a real index."""

import io
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from qa_service import server as server_module
from qa_service import worker as worker_module
from qa_service.config import PROJECT_ROOT
from qa_service.devserver import ServeProcess
from qa_service.generation.build import build_index
from qa_service.worker import ClientSocket, SlowClient

from .fixtures import http


@pytest.fixture
def server(fresh_index, tmp_path):
    corpus, index = fresh_index
    env = {**os.environ, "QA_INDEX_DIR": str(index), "QA_CORPUS_DIR": str(corpus),
           "QA_CACHE_DIR": str(PROJECT_ROOT / "embeddings")}  # the session encoder's export
    served = ServeProcess(env, tmp_path / "server.log", workers=1, threads=2)
    try:
        served.wait_ready(120)
        yield served.base, corpus, index
    except RuntimeError as exc:
        pytest.fail(str(exc))
    finally:
        served.stop()


def test_served_api_answers_and_picks_up_a_rebuilt_index_without_restart(server, embedder):
    base, corpus, index = server
    status, data = http(base + "/api/ask", {"question": "What did Pompeo warn about?"})
    assert status == 200
    first = data["passages"][0]["citation"]
    assert (first["date"], first["paragraph"] in (1, 2)) == ("2018-11-22", True)
    version = http(base + "/healthz")[1]["index_version"]

    Path(corpus, "glaciers.txt").write_text(
        "Melting glaciers\n\nThe Greenland glaciers are melting faster than scientists predicted.\n"
    )
    build_index(corpus, index, embedder)
    status, data = http(base + "/api/ask", {"question": "How fast are Greenland glaciers melting?"})
    assert status == 200 and data["passages"][0]["citation"]["article_id"] == "glaciers"
    assert http(base + "/healthz")[1]["index_version"] != version


def test_served_errors_are_json(server):
    base, _, _ = server
    status, data = http(base + "/api/ask", {"question": ""})
    assert status == 400 and data["error"]["code"] == "invalid_request"
    status, data = http(base + "/api/missing")
    assert status == 404 and "error" in data


@pytest.mark.parametrize("log_questions", [False, True])
def test_the_access_log_carries_a_shared_links_question_only_when_questions_are_logged(fresh_index, tmp_path,
                                                                                      log_questions):
    corpus, index = fresh_index
    env = {**os.environ, "QA_INDEX_DIR": str(index), "QA_CORPUS_DIR": str(corpus),
           "QA_CACHE_DIR": str(PROJECT_ROOT / "embeddings"), "QA_LOG_QUESTIONS": "1" if log_questions else "0"}
    with open(tmp_path / "access.log", "w+") as access:
        served = ServeProcess(env, tmp_path / "server.log", workers=1, threads=2, stdout=access)
        try:
            served.wait_ready(120)
            with urllib.request.urlopen(served.base + "/?q=Is+my+diagnosis+covered%3F", timeout=30) as response:
                assert response.status == 200
        finally:
            served.stop()
        logged = (tmp_path / "access.log").read_text()
    assert '"GET / HTTP/1.1" 200' in logged or log_questions, logged
    assert ("diagnosis" in logged) is log_questions, logged


def test_a_port_in_use_is_one_line_naming_it_and_the_start_is_not_logged(fresh_index):
    corpus, index = fresh_index
    env = {**os.environ, "QA_INDEX_DIR": str(index), "QA_CORPUS_DIR": str(corpus)}
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run([sys.executable, "-m", "qa_service.cli", "serve", "--port", str(port)], env=env,
                              capture_output=True, text=True, timeout=120)
    assert done.returncode == 1 and done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and f"port {port} on 127.0.0.1 is in use" in lines[0], done.stderr
    assert f"PORT={port + 1} make run" in lines[0]


# --- the read deadline (worker.ClientSocket), without gunicorn -------------------------------------------------

@pytest.fixture
def socket_pair():
    client, served = socket.socketpair()
    yield client, ClientSocket(served, read_seconds=0.2)
    client.close()
    served.close()


def test_a_request_must_arrive_within_the_read_deadline(socket_pair):
    client, sock = socket_pair
    client.sendall(b"GET")
    assert sock.recv(16) == b"GET"  # the clock starts at the request's first read
    time.sleep(0.3)
    client.sendall(b" / HTTP/1.1")
    with pytest.raises(SlowClient):
        sock.recv(16)
    sock.new_request()  # the next request on the connection gets a clock of its own
    assert sock.recv(16) == b" / HTTP/1.1"


def test_a_long_answer_does_not_run_out_the_read_deadline(socket_pair, monkeypatch):
    """Once the body is read, the application may take as long as it needs (an admin build): reads after it
    (gunicorn draining the connection, a keep-alive client's next bytes) are not cut off as a slow client."""
    client, sock = socket_pair
    monkeypatch.setattr(worker_module.current, "sock", sock, raising=False)
    monkeypatch.setattr(worker_module.current, "req", None, raising=False)

    def slow_app(environ, start_response):
        time.sleep(0.3)  # past the 0.2 s read deadline
        start_response("201 CREATED", [("Content-Type", "application/json")])
        return [environ["wsgi.input"].read()]

    body = b'{"title": "T", "text": "x"}'
    environ = {"CONTENT_LENGTH": str(len(body)), "wsgi.input": io.BytesIO(body), "REQUEST_METHOD": "POST"}
    client.sendall(b"POST /api/articles HTTP/1.1\r\n")
    assert sock.recv(64).startswith(b"POST")  # gunicorn reads the request: the clock starts
    guarded = server_module.guarded(slow_app, slots=1, limit=1 << 16)
    answer = guarded(environ, lambda status, headers, exc_info=None: None)
    assert b"".join(answer) == body
    client.sendall(b"GET /healthz HTTP/1.1\r\n")
    assert sock.recv(64).startswith(b"GET /healthz")  # no SlowClient


# --- writes that never block (worker.ClientSocket), without gunicorn ----------------------------------------------

def test_a_response_the_client_does_not_read_is_kept_not_waited_for(socket_pair):
    client, sock = socket_pair
    response = b"x" * (8 << 20)  # more than the socket pair's buffers hold
    sock.sendall(response)  # returns at once: the rest is kept
    assert 0 < sock.unsent_bytes < len(response)
    assert not sock.flush()  # the client still does not read: nothing waits
    received = b""
    client.settimeout(10)
    while len(received) < len(response):
        received += client.recv(1 << 20)
        sock.flush()
    assert received == response and sock.unsent_bytes == 0 and sock.flush()


def test_unsent_responses_are_bounded_per_worker(caplog):
    """Past the worker's budget of unsent bytes, the connection whose response does not fit is given up (gunicorn
    takes BrokenPipeError as a client gone) and keeps nothing; what a client reads goes back to the budget."""
    budget = worker_module._Budget(1 << 20)
    pairs = [socket.socketpair() for _ in range(2)]
    try:
        first, second = (ClientSocket(served, budget=budget) for _, served in pairs)
        first.sendall(b"x" * ((1 << 20) - 1))
        assert budget.used == first.unsent_bytes > 0
        with pytest.raises(BrokenPipeError):
            second.sendall(b"y" * ((1 << 20) - 1))
        assert second.unsent_bytes == 0 and budget.used == first.unsent_bytes
        assert "do not fit in the worker's 1 MiB" in caplog.text
        reader = pairs[0][0]
        reader.settimeout(10)
        while first.unsent_bytes:
            reader.recv(1 << 20)
            first.flush()
        assert budget.used == 0
    finally:
        for client, served in pairs:
            client.close()
            served.close()
