"""The real thing: `qa-service serve` under gunicorn, on a free loopback port, with a real index."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from qa_service.devserver import free_port
from qa_service.generation.build import build_index

from .fixtures import http


@pytest.fixture
def server(fresh_index):
    corpus, index = fresh_index
    port = free_port()
    env = {**os.environ, "QA_INDEX_DIR": str(index), "QA_CORPUS_DIR": str(corpus)}
    process = subprocess.Popen(
        [sys.executable, "-m", "qa_service.cli", "serve", "--port", str(port), "--workers", "1", "--threads", "2"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if http(base + "/healthz")[0] == 200:
                break
        except OSError:
            time.sleep(0.3)
    else:
        process.kill()
        pytest.fail("server did not start: " + process.stderr.read().decode()[-2000:])
    yield base, corpus, index
    os.killpg(process.pid, signal.SIGTERM)
    process.wait(timeout=30)


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
