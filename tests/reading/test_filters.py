"""Date and article filters on /api/ask: restrict the search, empty when nothing matches, 400 when malformed."""


import pytest

from qa_service.config import Config
from qa_service.index.generation.build import build_index
from qa_service.service import QAService
from qa_service.serving.web import create_app

from ..fixtures import FISHERY_ID, MEASLES_ID, SEED_ID, TRAM_ID, WATER_ID, copy_index

# The seed is dated 2018-11-22 and the Markdown test article 2016-03-09; two plain-text ones are dated below.
DATES = {FISHERY_ID: "2014-12-20", TRAM_ID: "2014-12-16"}  # WATER_ID is left undated


@pytest.fixture(scope="module")
def client(tmp_path_factory, built_index, embedder):
    """The sample index with two articles given dates (as Markdown front matter); nothing is re-embedded."""
    corpus, index = built_index
    root = tmp_path_factory.mktemp("filters")
    copy_index(corpus, index, root)
    for article_id, day in DATES.items():
        plain = root / "corpus" / f"{article_id}.txt"
        title, body = plain.read_text().split("\n\n", 1)
        (root / "corpus" / f"{article_id}.md").write_text(f"---\ntitle: {title}\ndate: {day}\n---\n\n{body}")
        plain.unlink()
    report = build_index(root / "corpus", root / "index", embedder)
    assert report.texts_embedded == 0 and report.articles_updated == 2
    service = QAService(Config(corpus_dir=root / "corpus", index_dir=root / "index"), embedder=embedder)
    return create_app(service.config, service=service).test_client()


def ask(client, **body):
    response = client.post("/api/ask", json={"question": "What did the editorial argue?", "top_k": 50, **body})
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def articles_of(data):
    return {p["citation"]["article_id"] for p in data["passages"]}


def test_dates_reach_the_citations(client):
    data = ask(client)
    assert articles_of(data) == {SEED_ID, FISHERY_ID, TRAM_ID, WATER_ID, MEASLES_ID}
    dates = {p["citation"]["article_id"]: p["citation"]["date"] for p in data["passages"]}
    assert dates == {**DATES, SEED_ID: "2018-11-22", MEASLES_ID: "2016-03-09", WATER_ID: None}


@pytest.mark.parametrize("mode", ["hybrid", "dense", "lexical"])
@pytest.mark.parametrize(("bounds", "expected"), [
    ({"date_from": "2015-01-01"}, {SEED_ID, MEASLES_ID}),
    ({"date_to": "2014-12-31"}, {FISHERY_ID, TRAM_ID}),
    ({"date_from": "2014-12-17", "date_to": "2014-12-20"}, {FISHERY_ID}),
    ({"date_from": "2014-12-16", "date_to": "2014-12-16"}, {TRAM_ID}),
    ({"date_from": "2014-12-01", "date_to": "2018-11-22"}, {SEED_ID, FISHERY_ID, TRAM_ID, MEASLES_ID}),
])
def test_a_date_range_keeps_only_articles_dated_inside_it(client, mode, bounds, expected):
    # Undated articles never pass a date filter; the bounds are inclusive. top_k 50 reaches every passage
    # allowed, except in lexical mode, which only returns passages sharing a word with the question.
    data = ask(client, mode=mode, question="What did the government say about the country and its people?", **bounds)
    assert data["passages"] and articles_of(data) <= expected
    if mode != "lexical":
        assert articles_of(data) == expected


def test_an_article_list_restricts_the_search(client):
    data = ask(client, question="What did Pompeo warn about?", articles=[FISHERY_ID, WATER_ID])
    assert data["passages"] and articles_of(data) <= {FISHERY_ID, WATER_ID}
    data = ask(client, articles=[SEED_ID], date_from="2018-01-01")
    assert articles_of(data) == {SEED_ID} and len(data["passages"]) == 5  # all of the seed's paragraphs


@pytest.mark.parametrize("filters", [
    {"date_from": "2030-01-01"},
    {"date_to": "1990-12-31"},
    {"articles": ["no-such-article"]},
    {"articles": []},
    {"articles": [WATER_ID], "date_from": "2000-01-01"},  # undated
])
def test_a_filter_matching_nothing_is_an_empty_result_not_an_error(client, filters):
    data = ask(client, question="What did Pompeo warn about?", **filters)
    assert data["passages"] == [] and data["found"] is False and data["answer"] is None


@pytest.mark.parametrize("body", [
    {"date_from": "2018-13-01"},
    {"date_from": "22/11/2018"},
    {"date_to": "2018-02-30"},
    {"date_to": 20181122},
    {"date_to": "20181122"},  # ISO's basic form: the API takes YYYY-MM-DD, as its schema says
    {"date_from": "2019-01-01", "date_to": "2018-01-01"},
    {"articles": [1, 2]},
    {"articles": SEED_ID},
])
def test_malformed_filters_are_400(client, body):
    response = client.post("/api/ask", json={"question": "What did Pompeo warn about?", **body})
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "invalid_request"
    field = next(iter(body))
    assert response.get_json()["error"]["message"].startswith(field)
