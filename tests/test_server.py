"""The real thing: `qa-service serve` under gunicorn, on a free loopback port, with a real index."""

import os
from pathlib import Path

import pytest

from qa_service.config import PROJECT_ROOT
from qa_service.devserver import ServeProcess
from qa_service.generation.build import build_index

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
