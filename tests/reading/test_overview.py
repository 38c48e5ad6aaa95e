"""The overview of a topic: the core (overview.py) on a real index, POST /api/overview and `qa-service overview`."""

import json

import pytest
from click.testing import CliRunner

from qa_service.cli import main
from qa_service.reading.fitted import load_position_scorer
from qa_service.reading.overview import ORDERS, overview
from qa_service.reading.position_features import POSITION_FEATURES
from qa_service.reading.search import Filters, Query

from ..fixtures import MEASLES_ID, SEED_ID, TRAM_ID

TRAM_TOPIC = "the Kessling tram derailment and the city's response"


SCORER = load_position_scorer(None, POSITION_FEATURES)  # the shipped one, fitted on the dev topics


def _overview(snapshot, embedder, topic, limit=10, filters=None):
    return overview(snapshot, Query(snapshot, topic, embedder.encode([topic])[0]), limit, SCORER, filters)


def test_an_overview_lists_the_editorial_that_discusses_the_topic(snapshot, embedder):
    found = _overview(snapshot, embedder, TRAM_TOPIC)
    assert found.total == len(found.editorials) >= 1
    assert found.editorials[0].article_id == TRAM_ID
    tram = found.editorials[0]
    paragraphs = snapshot.paragraphs[TRAM_ID]
    assert tram.sentence.text in paragraphs[tram.sentence.paragraph - 1]
    assert tram.paragraphs and all(1 <= p <= len(paragraphs) for p in tram.paragraphs)
    assert list(tram.paragraphs) == sorted(set(tram.paragraphs)) and tram.sentence.paragraph in tram.paragraphs


def test_an_editorial_that_does_not_discuss_the_topic_is_left_out(snapshot, embedder):
    listed = {e.article_id for e in _overview(snapshot, embedder, TRAM_TOPIC).editorials}
    assert MEASLES_ID not in listed  # a measles outbreak in schools: nothing about trams


def test_a_topic_nothing_discusses_gives_an_empty_list(snapshot, embedder):
    found = _overview(snapshot, embedder, "cryptocurrency and bitcoin mining")
    assert found.editorials == [] and found.total == 0


def test_the_date_filter_leaves_undated_editorials_out(snapshot, embedder):
    found = _overview(snapshot, embedder, TRAM_TOPIC, filters=Filters(date_from="2000-01-01"))
    assert TRAM_ID not in {e.article_id for e in found.editorials}  # the tram editorial is undated


def test_the_order_is_by_date_only_when_every_row_has_one(snapshot, embedder):
    """Issue 28, 3: the test articles are undated but for the seed and the measles one."""
    undated = _overview(snapshot, embedder, TRAM_TOPIC)
    assert all(not snapshot.articles[e.article_id].date for e in undated.editorials)
    assert undated.order == "relevance"
    assert [e.score for e in undated.editorials] == sorted((e.score for e in undated.editorials), reverse=True)
    dated = _overview(snapshot, embedder, "Pompeo's warning to Seoul", filters=Filters(date_from="2000-01-01"))
    assert [e.article_id for e in dated.editorials][:1] == [SEED_ID] and dated.order == "date"
    everything = _overview(snapshot, embedder, "editorials about a city and its people", limit=50)
    assert everything.order in ORDERS
    if {bool(snapshot.articles[e.article_id].date) for e in everything.editorials} == {True, False}:
        assert everything.order == "date, then relevance"
    assert _overview(snapshot, embedder, "cryptocurrency and bitcoin mining").order == "relevance"


def test_the_limit_caps_the_list_but_not_the_total(snapshot, embedder):
    everything = _overview(snapshot, embedder, "editorials about a city and its people", limit=50)
    one = _overview(snapshot, embedder, "editorials about a city and its people", limit=1)
    assert len(one.editorials) == min(1, everything.total) and one.total == everything.total


def test_the_service_encodes_the_topic_once(service, monkeypatch):
    calls = []
    encode = service.embedder.encode
    monkeypatch.setattr(service.embedder, "encode", lambda texts: calls.append(texts) or encode(texts))
    service.overview("What has the paper said about the tram derailment?")
    assert calls == [["the tram derailment"]]


# --- POST /api/overview ---------------------------------------------------------------------------------------

def test_api_overview_answers_with_the_documented_fields(client, snapshot):
    response = client.post("/api/overview", json={"topic": f"Editorials on {TRAM_TOPIC}", "limit": 3})
    assert response.status_code == 200
    data = response.get_json()
    assert set(data) == {"topic", "editorials", "total", "order", "took_ms", "index_version"}
    assert data["topic"] == f"Editorials on {TRAM_TOPIC}" and data["index_version"] == snapshot.version
    first = data["editorials"][0]
    assert set(first) - {"second_sentence"} == {"article_id", "title", "date", "url", "score", "sentence",
                                                  "paragraphs"}
    assert first["article_id"] == TRAM_ID and first["title"].startswith("After the Kessling derailment")
    assert set(first["sentence"]) == {"text", "paragraph"} and isinstance(first["paragraphs"], list)


def test_api_overview_of_nothing_is_an_empty_list_not_an_error(client):
    response = client.post("/api/overview", json={"topic": "cryptocurrency and bitcoin mining"})
    assert response.status_code == 200
    assert response.get_json()["editorials"] == [] and response.get_json()["total"] == 0


@pytest.mark.parametrize(("body", "field"), [
    ({}, "topic"),
    ({"topic": ""}, "topic"),
    ({"topic": "   "}, "topic"),
    ({"topic": 3}, "topic"),
    ({"topic": "x" * 1001}, "topic"),
    ({"topic": "trams", "limit": 0}, "limit"),
    ({"topic": "trams", "limit": 51}, "limit"),
    ({"topic": "trams", "limit": True}, "limit"),
    ({"topic": "trams", "limit": "5"}, "limit"),
    ({"topic": "trams", "date_from": "yesterday"}, "date_from"),
    ({"topic": "trams", "date_from": "2020-01-02", "date_to": "2020-01-01"}, "date_from"),
    ({"topic": "trams", "top_k": 5}, "top_k"),  # a field of /api/ask, unknown here
])
def test_api_overview_rejects_bad_requests_as_api_ask_does(client, body, field):
    response = client.post("/api/overview", json=body)
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert error["code"] == "invalid_request" and error["message"].startswith(f"{field}:")


def test_api_overview_wants_json(client):
    response = client.post("/api/overview", data="topic=trams", content_type="application/x-www-form-urlencoded")
    assert response.status_code == 415


# --- qa-service overview --------------------------------------------------------------------------------------

@pytest.fixture
def runner(monkeypatch, embedder):
    """The CLI with the session's encoder (no second model load, no export into the user's cache)."""
    monkeypatch.setattr("qa_service.index.embedder.Embedder", lambda *args, **kwargs: embedder)
    monkeypatch.delenv("QA_INDEX_DIR", raising=False)
    return CliRunner()


def test_cli_overview_prints_each_editorial_with_its_key_sentence(runner, built_index):
    _, index = built_index
    result = runner.invoke(main, ["overview", TRAM_TOPIC, "--index", str(index)])
    assert result.exit_code == 0, result.output
    assert "After the Kessling derailment" in result.output and "“" in result.output and "¶" in result.output
    assert "most relevant first:" in result.output.splitlines()[0] and "by date" not in result.output


def test_cli_overview_json_is_the_routes_content(runner, built_index, client):
    _, index = built_index
    result = runner.invoke(main, ["overview", TRAM_TOPIC, "--index", str(index), "--json", "--limit", "2"])
    assert result.exit_code == 0, result.output
    printed = json.loads(result.output)
    served = client.post("/api/overview", json={"topic": TRAM_TOPIC, "limit": 2}).get_json()
    for data in (printed, served):
        del data["took_ms"]
    assert printed == served


def test_cli_overview_of_nothing_says_so(runner, built_index):
    _, index = built_index
    result = runner.invoke(main, ["overview", "cryptocurrency and bitcoin mining", "--index", str(index)])
    assert result.exit_code == 0 and "No editorial discusses" in result.output


def test_cli_overview_rejects_an_empty_topic_and_a_bad_limit(runner, built_index):
    _, index = built_index
    empty = runner.invoke(main, ["overview", "  ", "--index", str(index)])
    assert empty.exit_code == 1 and "Error: the topic is empty" in empty.output
    assert runner.invoke(main, ["overview", "trams", "--limit", "0", "--index", str(index)]).exit_code == 2


def test_the_cli_says_the_order_and_the_second_sentence_as_the_page_does():
    from qa_service.cli.asking import format_overview

    row = {"date": None, "title": "T", "paragraphs": [2], "sentence": {"text": "First.", "paragraph": 2},
           "second_sentence": {"text": "Second.", "paragraph": 3}}
    for order, words in (("date", "by date"), ("relevance", "most relevant first"),
                         ("date, then relevance", "dated ones by date, then the undated most relevant first")):
        printed = format_overview({"topic": "t", "total": 1, "order": order, "editorials": [row]})
        assert printed.splitlines()[0] == f"1 editorial on 't', {words}:"
        assert "also: “Second.” (¶3)" in printed
