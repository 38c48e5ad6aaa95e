"""The JSON API, against the real model and a real index over the test corpus (tests/fixtures.py)."""

import pytest

from qa_service.config import Config
from qa_service.index.generation.build import build_index
from qa_service.service import QAService
from qa_service.serving.web import create_app

from ..fixtures import ARTICLE_COUNT, FISHERY_ID, SEED_ID, TRAM_ID


def ask(client, **body):
    return client.post("/api/ask", json=body)


def test_pompeo_question_returns_the_seed_paragraph_on_his_warning_first(client):
    response = ask(client, question="What did Pompeo warn about?")
    assert response.status_code == 200
    data = response.get_json()
    first = data["passages"][0]
    assert first["rank"] == 1
    assert first["citation"]["article_id"] == SEED_ID
    assert first["citation"]["date"] == "2018-11-22"
    assert first["citation"]["title"].startswith("U.S. warning against Seoul")
    assert first["citation"]["paragraph"] in (1, 2)
    assert "Pompeo" in first["text"] and "warning" in first["text"]
    assert set(data) >= {"question", "answer", "passages", "took_ms"}
    assert len(data["passages"]) == 5
    assert [p["rank"] for p in data["passages"]] == [1, 2, 3, 4, 5]
    scores = [p["score"] for p in data["passages"]]
    assert scores == sorted(scores, reverse=True)


def test_answer_is_a_sentence_of_a_returned_passage_with_offsets(client):
    data = ask(client, question="What did Pompeo warn about?").get_json()
    answer = data["answer"]
    assert answer is not None and data["found"] is True
    passage = data["passages"][answer["passage"] - 1]["text"]
    assert passage[answer["start"]:answer["end"]] == answer["text"]
    assert "Pompeo" in answer["text"] or "warning" in answer["text"]


def test_top_k_limits_passages(client):
    assert len(ask(client, question="Cuba embargo", top_k=2).get_json()["passages"]) == 2
    assert len(ask(client, question="Cuba embargo", top_k=50).get_json()["passages"]) <= 50


def test_editorial_questions_find_their_editorials(client):
    data = ask(client, question="How many passengers were on the tram that derailed in Kessling?").get_json()
    assert data["passages"][0]["citation"]["article_id"] == TRAM_ID
    data = ask(client, question="What changed in relations between Grimsvik and Port Aird?").get_json()
    assert data["passages"][0]["citation"]["article_id"] == FISHERY_ID


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"question": ""},
        {"question": "   "},
        {"question": 42},
        {"question": None},
        {"question": ["list"]},
        {"question": "x" * 1001},
        {"question": "ok", "top_k": 0},
        {"question": "ok", "top_k": 51},
        {"question": "ok", "top_k": "5"},
        {"question": "ok", "top_k": 2.5},
        {"question": "ok", "top_k": True},
        {"question": "ok", "mode": "magic"},
        {"question": "ok", "date_from": "yesterday"},
        {"question": "ok", "articles": "not-a-list"},
        {"question": "ok", "history": "not-a-list"},
        {"question": "ok", "history": [{"question": "q", "answer": "a", "paragraph": 0}]},
        {"question": "ok", "history": [{"question": "q", "answer": "a", "paragraph": "2"}]},
        {"question": "ok", "history": [{"question": "q", "answer": "a", "paragraph": True}]},
        {"question": "ok", "history": [{"question": "q", "answer": "a", "article_id": 7}]},
        {"question": "ok", "history": [{"question": "q", "answer": "a", "article_id": "x" * 201}]},
    ],
)
def test_bad_ask_bodies_are_400_json(client, body):
    response = client.post("/api/ask", json=body)
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert error["code"] and error["message"]


def test_history_turns_carry_the_article_and_paragraph_of_their_answer(client):
    turn = {"question": "What did Pompeo warn about?", "answer": "Pompeo’s remarks were tough.",
            "article_id": SEED_ID, "paragraph": 2}
    data = ask(client, question="Who did he call?", history=[turn]).get_json()
    assert data["context"]["article_id"] == SEED_ID
    assert data["context"]["title"].startswith("U.S. warning")
    # null article and paragraph (a turn that was declined, no answer shown) are accepted and search everywhere.
    declined = {**turn, "answer": "", "article_id": None, "paragraph": None}
    assert ask(client, question="Who did he call?", history=[declined]).get_json()["context"]["article_id"] is None


def test_a_history_of_questions_and_answers_only_is_read_in_the_answers_editorial(client):
    """The simplest client sends no article (issue 27, 4): an answer sentence that occurs in exactly one editorial
    names it, so "Who did he call?" is still searched there."""
    first = ask(client, question="What did Pompeo warn about?").get_json()
    turn = {"question": "What did Pompeo warn about?", "answer": first["answer"]["text"]}
    data = ask(client, question="Who did he call?", history=[turn]).get_json()
    assert data["context"]["article_id"] == SEED_ID
    cited = data["passages"][data["answer"]["passage"] - 1]["citation"]
    assert cited["article_id"] == SEED_ID


def test_an_unknown_history_field_is_a_400_naming_it(client):
    response = ask(client, question="Who did he call?", history=[{"question": "q", "answer": "a", "articleid": "x"}])
    assert response.status_code == 400
    message = response.get_json()["error"]["message"]
    assert "articleid" in message and "did you mean 'article_id'?" in message


def test_question_of_exactly_1000_characters_is_accepted(client):
    assert ask(client, question="Pompeo " + "x" * 993).status_code == 200


@pytest.mark.parametrize(
    ("data", "content_type", "status"),
    [
        ("{not json", "application/json", 400),
        ("[1, 2]", "application/json", 400),
        (b"\xff\xfe\x00bad", "application/json", 400),
        ('{"question": "hi"}', "text/plain", 415),
        ("question=hi", "application/x-www-form-urlencoded", 415),
        ('{"question": "hi"}', None, 415),
        ("[" * 100000 + "]" * 100000, "application/json", 413),
        ('{"question": "' + "y" * 70000 + '"}', "application/json", 413),
    ],
)
def test_malformed_bodies_get_json_errors(client, data, content_type, status):
    headers = {"Content-Type": content_type} if content_type else {}
    response = client.post("/api/ask", data=data, headers=headers)
    assert response.status_code == status
    assert response.is_json and "error" in response.get_json()


def test_deeply_nested_json_is_400_not_500(client):
    response = client.post("/api/ask", data="[" * 5000 + "]" * 5000, content_type="application/json")
    assert response.status_code == 400


def test_unknown_route_is_404_json_and_wrong_method_405_json(client):
    response = client.get("/api/nothing")
    assert response.status_code == 404 and response.get_json()["error"]["code"] == "not_found"
    response = client.get("/api/ask")
    assert response.status_code == 405 and response.get_json()["error"]["code"] == "method_not_allowed"
    assert "POST" in response.headers["Allow"]
    assert client.delete("/healthz").status_code == 405


def test_a_mistyped_page_address_gets_an_html_page_not_json(client):
    response = client.get("/artikles")
    assert response.status_code == 404 and response.mimetype == "text/html"
    assert "Page not found" in response.get_data(as_text=True)
    assert "Content-Security-Policy" in response.headers


def test_articles_list_and_one_article(client):
    data = client.get("/api/articles").get_json()
    by_id = {a["id"]: a for a in data["articles"]}
    assert len(by_id) == ARTICLE_COUNT
    seed = by_id[SEED_ID]
    assert seed["date"] == "2018-11-22" and seed["paragraphs"] == 5
    one = client.get(f"/api/articles/{SEED_ID}").get_json()
    assert one["title"] == seed["title"]
    assert [p["number"] for p in one["paragraphs"]] == [1, 2, 3, 4, 5]
    assert one["paragraphs"][2]["text"].startswith("There have been quite a few cases")
    missing = client.get("/api/articles/nope")
    assert missing.status_code == 404 and missing.get_json()["error"]["code"] == "not_found"


def test_healthz_reports_counts_model_and_version(client, service):
    data = client.get("/healthz").get_json()
    assert data["status"] == "ok"
    assert data["articles"] == ARTICLE_COUNT
    assert data["passages"] == service.snapshot().n_passages > ARTICLE_COUNT
    assert data["model"] == "sentence-transformers/all-MiniLM-L6-v2"
    assert data["index_version"] == service.snapshot().version


def test_without_an_index_health_is_503_and_ask_is_503_json(tmp_path, embedder):
    config = Config(index_dir=tmp_path / "none")
    app = create_app(config, service=QAService(config, embedder))
    client = app.test_client()
    health = client.get("/healthz")
    assert health.status_code == 503 and "qa-service index" in health.get_json()["error"]["message"]
    assert client.post("/api/ask", json={"question": "hi"}).status_code == 503


def test_the_app_answers_from_a_rebuilt_index_without_restarting(fresh_index, embedder):
    corpus, index = fresh_index
    service = QAService(Config(corpus_dir=corpus, index_dir=index), embedder)
    client = create_app(service.config, service=service).test_client()
    before = client.get("/healthz").get_json()["index_version"]
    (corpus / "penguins.txt").write_text(
        "Penguins of the Antarctic\n\nEmperor penguins huddle together to survive winter storms of the Antarctic.\n"
    )
    build_index(corpus, index, embedder)
    data = ask(client, question="How do emperor penguins survive the winter?").get_json()
    assert data["passages"][0]["citation"]["article_id"] == "penguins"
    assert data["index_version"] != before


def test_security_headers_on_pages_and_api(client):
    for path in ("/", "/healthz"):
        headers = client.get(path).headers
        assert "unsafe-inline" not in headers["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Referrer-Policy"]


def test_chat_page_and_article_page_render(client):
    page = client.get("/")
    assert page.status_code == 200 and b"<textarea" in page.data
    article = client.get(f"/articles/{SEED_ID}")
    assert article.status_code == 200
    assert b'id="p3"' in article.data and b"Pompeo telephoned" in article.data
