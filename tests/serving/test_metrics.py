"""Operations: /metrics scraped and parsed (in-process and under gunicorn with 2 workers), the JSON log
lines, build progress off a terminal, and one model export shared by every index folder."""

from __future__ import annotations

import json
import logging
import os
import urllib.error
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from qa_service.cli.common import progress_lines
from qa_service.config import PROJECT_ROOT, Config
from qa_service.service import QAService
from qa_service.serving.devserver import ServeProcess
from qa_service.serving.metrics import EVENTS
from qa_service.serving.web import create_app

from ..fakes import HashingEmbedder
from ..fixtures import http

NAMES = ("qa_requests_total", "qa_ask_seconds", "qa_answers_total", "qa_index_passages", "qa_index_articles",
         "qa_index_age_seconds", "qa_build_seconds", "qa_admin_changes_total")
QUESTION = "What did Pompeo warn about?"


def samples(text: str) -> dict[tuple[str, tuple], float]:
    """{(sample name, sorted labels): value} of a Prometheus text exposition (parsed by prometheus-client)."""
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def scrape(client) -> dict:
    response = client.get("/metrics")
    assert response.status_code == 200 and response.content_type.startswith("text/plain")
    return samples(response.get_data(as_text=True))


def value(scraped: dict, name: str, **labels) -> float:
    return scraped.get((name, tuple(sorted(labels.items()))), 0.0)


def test_metrics_count_requests_answers_and_describe_the_index(client, snapshot):
    before = scrape(client)
    assert client.post("/api/ask", json={"question": QUESTION}).status_code == 200
    assert client.post("/api/ask", json={"question": QUESTION, "topk": 2}).status_code == 400
    assert client.get("/api/articles/no-such-id").status_code == 404
    after = scrape(client)
    names = {name for name, _ in after}
    for name in NAMES[:-2]:
        assert any(n == name or n.startswith(name + "_") for n in names), name
    assert value(after, "qa_requests_total", route="/api/ask", status="200") == \
        value(before, "qa_requests_total", route="/api/ask", status="200") + 1
    assert value(after, "qa_requests_total", route="/api/ask", status="400") == \
        value(before, "qa_requests_total", route="/api/ask", status="400") + 1
    # Routes are counted by template, never by the raw path.
    assert value(after, "qa_requests_total", route="/api/articles/<article_id>", status="404") == \
        value(before, "qa_requests_total", route="/api/articles/<article_id>", status="404") + 1
    assert not any("no-such-id" in str(labels) for _, labels in after)
    assert value(after, "qa_answers_total", found="true") == value(before, "qa_answers_total", found="true") + 1
    assert value(after, "qa_ask_seconds_count") == value(before, "qa_ask_seconds_count") + 1
    assert value(after, "qa_ask_seconds_bucket", le="+Inf") == value(after, "qa_ask_seconds_count")
    assert value(after, "qa_index_passages") == snapshot.n_passages
    assert value(after, "qa_index_articles") == len(snapshot.articles)
    assert value(after, "qa_index_age_seconds") > 0


def test_admin_changes_and_builds_are_counted(tmp_path):
    corpus, index = tmp_path / "corpus", tmp_path / "index"
    corpus.mkdir()
    (corpus / "harbour.txt").write_text("The old harbour\n\nFishing boats leave the old harbour at dawn.\n")
    config = Config(corpus_dir=corpus, index_dir=index, admin_token="t0ken")
    from qa_service.index.generation.build import build_index

    build_index(corpus, index, HashingEmbedder())
    client = create_app(config, service=QAService(config, embedder=HashingEmbedder())).test_client()
    auth = {"Authorization": "Bearer t0ken"}
    before = scrape(client)
    article = {"title": "Night trains", "text": "Sleeper trains are back."}
    assert client.post("/api/articles", json=article, headers=auth).status_code == 201
    assert client.post("/api/articles", json=article, headers=auth).status_code == 409
    assert client.delete("/api/articles/night-trains", headers={"Authorization": "Bearer wrong"}).status_code == 401
    after = scrape(client)
    for action, status in (("add", "201"), ("add", "409"), ("delete", "401")):
        assert value(after, "qa_admin_changes_total", action=action, status=status) == \
            value(before, "qa_admin_changes_total", action=action, status=status) + 1
    assert value(after, "qa_build_seconds_count") == value(before, "qa_build_seconds_count") + 1
    assert value(after, "qa_index_articles") == 2


@pytest.mark.parametrize("log_questions", [False, True])
def test_one_json_log_line_per_question_with_the_text_only_when_asked(service, caplog, log_questions):
    app = create_app(Config(corpus_dir=service.config.corpus_dir, index_dir=service.config.index_dir,
                            log_questions=log_questions), service=service)
    caplog.set_level(logging.INFO, logger=EVENTS)
    body = app.test_client().post("/api/ask", json={"question": QUESTION}).get_json()
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == EVENTS]
    assert len(lines) == 1
    line = lines[0]
    assert line["event"] == "question" and line["found"] is True and line["took_ms"] == body["took_ms"]
    assert line["top_score"] == body["passages"][0]["score"] and line["index_version"] == body["index_version"]
    assert ("question" in line) is log_questions and (QUESTION in json.dumps(line)) is log_questions


def test_log_questions_comes_from_the_environment_through_config():
    assert Config.from_env({"QA_LOG_QUESTIONS": "1"}).log_questions is True
    assert Config.from_env({"QA_LOG_QUESTIONS": "0"}).log_questions is False
    assert Config.from_env({}).log_questions is False


def test_build_progress_off_a_terminal_is_a_line_every_few_seconds():
    now = [100.0]
    lines: list[str] = []
    tick = progress_lines(1000, "embedding", every=5.0, clock=lambda: now[0], echo=lines.append)

    def embed(batches: int) -> None:  # 100 texts a second, 25 at a time
        for _ in range(batches):
            now[0] += 0.25
            tick(25)

    embed(19)
    assert lines == []  # 4.75 s in: nothing yet
    embed(1)
    assert lines == ["embedding: 500/1000 texts (50%), 100.0 texts/s, 5 s"]
    embed(19)
    assert len(lines) == 1
    embed(1)  # the last batch: always a line, however soon
    assert lines[-1] == "embedding: 1000/1000 texts (100%), 100.0 texts/s, 10 s" and len(lines) == 2


def test_cache_folder_comes_from_config(tmp_path):
    assert Config.from_env({"QA_CACHE_DIR": str(tmp_path)}).model_cache_dir == tmp_path / "models"
    assert Config.from_env({"XDG_CACHE_HOME": str(tmp_path)}).cache_dir == tmp_path / "qa_service"


def test_every_index_folder_uses_the_one_cached_export(tmp_path, built_index):
    _, index = built_index
    cache = PROJECT_ROOT / "embeddings"  # the session's export (tests/conftest.py)
    files = set()
    for folder in (index, tmp_path / "another-index"):
        service = QAService(Config(index_dir=folder, cache_dir=cache))
        files.add(service.embedder.model_file)
        assert not (folder / "models").exists()
    assert len(files) == 1 and next(iter(files)).is_relative_to(cache.resolve() / "models")
    assert ".recipe-" in next(iter(files)).parent.parent.name  # keyed by model and export recipe


# --- the real server ---------------------------------------------------------------------------------------------

def test_gunicorn_with_two_workers_adds_up_the_metrics_of_both_and_logs_json(fresh_index, tmp_path):
    corpus, index = fresh_index
    env = {**os.environ, "QA_INDEX_DIR": str(index), "QA_CORPUS_DIR": str(corpus),
           "QA_CACHE_DIR": str(PROJECT_ROOT / "embeddings")}
    env.pop("QA_ADMIN_TOKEN", None)
    env.pop("QA_LOG_QUESTIONS", None)
    served = ServeProcess(env, tmp_path / "server.log", workers=2, threads=2)
    base = served.base
    try:
        served.wait_ready(180)
        asked = 6
        for _ in range(asked):
            assert http(base + "/api/ask", {"question": QUESTION})[0] == 200
        for _ in range(4):  # whichever worker answers the scrape, it reports both workers' counts
            with urllib.request.urlopen(base + "/metrics", timeout=30) as response:
                found = samples(response.read().decode())
            assert value(found, "qa_answers_total", found="true") == asked
            assert value(found, "qa_requests_total", route="/api/ask", status="200") == asked
            assert value(found, "qa_ask_seconds_count") == asked
            assert value(found, "qa_index_articles") > 0
    finally:
        served.stop()
    log = served.log_path.read_text()
    events = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    start = [e for e in events if e["event"] == "start"]
    assert len(start) == 1 and start[0]["admin_api"] == "disabled" and "admin API disabled" in start[0]["message"]
    questions = [e for e in events if e["event"] == "question"]
    assert len(questions) == asked and all("question" not in e and e["found"] for e in questions)
