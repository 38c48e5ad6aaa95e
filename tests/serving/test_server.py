"""The real thing: `qa-service serve` under gunicorn, on a free loopback port, with a real index."""

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from qa_service.config import PROJECT_ROOT
from qa_service.index.generation.build import build_index
from qa_service.serving import worker as worker_module
from qa_service.serving.devserver import ServeProcess
from qa_service.serving.worker import ClientSocket, SlowClient

from ..fixtures import http


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


# --- a thread's reads (worker.ClientSocket), without gunicorn ---------------------------------------------------

@pytest.fixture
def socket_pair():
    client, served = socket.socketpair()
    yield client, ClientSocket(served)
    client.close()
    served.close()


def test_a_thread_reads_the_request_the_event_loop_read_and_never_waits_past_a_whole_one(socket_pair):
    """However long the answer took (an admin build past the read deadline), the request's bytes are there; what
    follows a whole request is not read from the socket on the thread but handed back to the event loop."""
    client, sock = socket_pair
    sock.take_request(b"GET / HTTP/1.1\r\n\r\nGET /next", read_deadline=time.monotonic() - 1, whole=True,
                      continued=False)
    assert sock.recv(18) == b"GET / HTTP/1.1\r\n\r\n"
    client.sendall(b" HTTP/1.1\r\n\r\n")
    assert sock.unread() == b"GET /next"  # the start of a pipelined request, for the event loop
    with pytest.raises(SlowClient):
        sock.recv(16)  # a whole request never waits for more
    assert sock.raw.recv(64) == b" HTTP/1.1\r\n\r\n"  # left on the socket for the event loop


def test_a_body_left_unread_is_read_on_the_thread_until_the_requests_deadline(socket_pair):
    client, sock = socket_pair
    head = b"POST /api/articles HTTP/1.1\r\nContent-Length: 100000\r\n\r\n"
    sock.take_request(head + b"ab", read_deadline=time.monotonic() + 0.3, whole=False, continued=False)
    assert sock.recv(1 << 16) == head + b"ab"
    client.sendall(b"cd")
    assert sock.recv(16) == b"cd"
    with pytest.raises(SlowClient):
        sock.recv(16)  # nothing more within the deadline


@pytest.mark.parametrize(("whole", "continued", "sent"), [(False, False, True), (False, True, False),
                                                         (True, False, False)])
def test_gunicorns_100_continue_goes_out_only_when_the_body_is_still_to_come(socket_pair, whole, continued, sent):
    client, sock = socket_pair
    sock.take_request(b"POST / HTTP/1.1\r\n", read_deadline=time.monotonic() + 30, whole=whole, continued=continued)
    assert sock.send(worker_module.CONTINUE) == len(worker_module.CONTINUE)
    sock.sendall(b"HTTP/1.1 200 OK\r\n")
    client.settimeout(10)
    expected = (worker_module.CONTINUE if sent else b"") + b"HTTP/1.1 200 OK\r\n"
    received = b""
    while len(received) < len(expected):
        received += client.recv(64)
    assert received == expected


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
