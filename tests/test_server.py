"""The real thing: `qa-service serve` under gunicorn, on a free loopback port, with a real index."""

import io
import os
import socket
import time
from pathlib import Path

import pytest

from qa_service import server as server_module
from qa_service.config import PROJECT_ROOT
from qa_service.devserver import ServeProcess
from qa_service.generation.build import build_index
from qa_service.server import SlowClient, _DeadlineSocket

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


# --- the read deadline (server._DeadlineSocket), without gunicorn -------------------------------------------------

@pytest.fixture
def deadline_pair():
    client, served = socket.socketpair()
    yield client, _DeadlineSocket(served, 0.2)
    client.close()
    served.close()


def test_a_request_must_arrive_within_the_read_deadline(deadline_pair):
    client, sock = deadline_pair
    client.sendall(b"GET")
    assert sock.recv(16) == b"GET"  # the clock starts at the request's first read
    time.sleep(0.3)
    client.sendall(b" / HTTP/1.1")
    with pytest.raises(SlowClient):
        sock.recv(16)
    sock.new_request()  # the next request on the connection gets a clock of its own
    assert sock.recv(16) == b" / HTTP/1.1"


def test_a_long_answer_does_not_run_out_the_read_deadline(deadline_pair, monkeypatch):
    """Once the body is read, the application may take as long as it needs (an admin build): reads after it
    (gunicorn draining the connection, a keep-alive client's next bytes) are not cut off as a slow client."""
    client, sock = deadline_pair
    monkeypatch.setattr(server_module._current, "sock", sock, raising=False)
    monkeypatch.setattr(server_module._current, "req", None, raising=False)

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
