"""Requests that catch mistakes (misspelt fields, unknown article ids) and the terminal chat, on the real model."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from qa_service.cli import main
from qa_service.config import PROJECT_ROOT

from ..fixtures import write_scorer

SEED_ID = "donga-2018-11-22-us-warning-against-seoul-speeding"  # corpus/, dated 2018-11-22
QUESTION = "What did Pompeo warn about?"


SEED_TITLE = "U.S. warning against Seoul’s speeding in improving inter-Korean relations"


@pytest.fixture
def runner(monkeypatch):
    monkeypatch.delenv("QA_INDEX_DIR", raising=False)
    monkeypatch.delenv("QA_CORPUS_DIR", raising=False)
    monkeypatch.setenv("QA_CACHE_DIR", str(PROJECT_ROOT / "embeddings"))  # the session's model export (conftest.py)
    return CliRunner()


@pytest.mark.parametrize("field, hint", [("topk", "did you mean 'top_k'?"), ("date_form", "did you mean 'date_from'?"),
                                         ("colour", "")])
def test_a_misspelt_field_is_a_400_naming_it(client, field, hint):
    response = client.post("/api/ask", json={"question": QUESTION, field: 2})
    assert response.status_code == 400
    message = response.get_json()["error"]["message"]
    assert message.startswith(f"{field}: unknown field") and hint in message


def test_unknown_article_ids_give_an_answer_with_warnings(client):
    response = client.post("/api/ask", json={"question": QUESTION, "articles": [SEED_ID, "no-such-article"]})
    assert response.status_code == 200
    body = response.get_json()
    assert body["warnings"] == ["articles: no article with id 'no-such-article'; it was left out of the search"]
    assert body["passages"] and {p["citation"]["article_id"] for p in body["passages"]} == {SEED_ID}
    plain = client.post("/api/ask", json={"question": QUESTION, "articles": [SEED_ID]}).get_json()
    assert "warnings" not in plain
    nothing = client.post("/api/ask", json={"question": QUESTION, "articles": ["gone", "gone"]})
    assert nothing.status_code == 200
    assert (nothing.get_json()["passages"], nothing.get_json()["found"]) == ([], False)
    assert nothing.get_json()["warnings"] == ["articles: no article with id 'gone'; it was left out of the search"]


def test_ask_command_filters_by_article_and_date(runner, built_index):
    _, index = built_index
    args = ["ask", QUESTION, "--index", str(index), "--json", "--mode", "lexical", "--top-k", "3"]
    only_seed = json.loads(runner.invoke(main, [*args, "--article", SEED_ID, "--article", "gone"]).output)
    assert {p["citation"]["article_id"] for p in only_seed["passages"]} == {SEED_ID}
    assert only_seed["mode"] == "lexical" and only_seed["warnings"] == [
        "articles: no article with id 'gone'; it was left out of the search"]
    later = json.loads(runner.invoke(main, [*args, "--date-from", "2018-11-23"]).output)
    assert all(p["citation"]["date"] and p["citation"]["date"] >= "2018-11-23" for p in later["passages"])
    assert SEED_ID not in {p["citation"]["article_id"] for p in later["passages"]}
    upto = json.loads(runner.invoke(main, [*args, "--date-to", "2018-11-22", "--date-from", "2018-11-22"]).output)
    assert {p["citation"]["article_id"] for p in upto["passages"]} == {SEED_ID}
    wrong = runner.invoke(main, [*args, "--date-from", "2019-01-02", "--date-to", "2019-01-01"])
    assert wrong.exit_code == 1 and "is after --date-to" in wrong.output and "Traceback" not in wrong.output
    assert runner.invoke(main, [*args, "--date-from", "22/11/2018"]).exit_code == 2


def test_chat_keeps_the_conversation_and_prints_citations(runner, built_index):
    _, index = built_index
    piped = f"{QUESTION}\n\nWho did he call to complain?\n/new\nWho did he call to complain?\n"
    result = runner.invoke(main, ["chat", "--index", str(index)], input=piped)
    assert result.exit_code == 0, result.output
    turns = result.output.split("\nyou> ")[1:]
    assert [t.splitlines()[0] for t in turns] == [QUESTION, "Who did he call to complain?", "/new",
                                                  "Who did he call to complain?"]
    assert "Answer: " in turns[0] and "Pompeo" in turns[0]
    assert "[1] U.S. warning against Seoul" in turns[0] and "(2018-11-22), ¶" in turns[0]  # the citation
    # The follow-up is read with the conversation, in the editorial of the answer before it; after /new the same
    # words stand alone.
    assert f"(reading “he” as Pompeo; searched as: Who did he call to complain? (Pompeo); searched in: {SEED_TITLE})" \
        in turns[1]
    assert "Answer: Pompeo telephoned South Korean Foreign Minister Kang Kyung-wha" in turns[1]
    assert "a new conversation" in turns[2]
    assert "(reading" not in turns[3] and "searched" not in turns[3]


def test_chat_declines_a_follow_up_that_editorial_does_not_answer(runner, built_index, tmp_path, monkeypatch):
    monkeypatch.setenv("QA_FITTED_DIR", str(write_scorer(tmp_path / "fitted", decline_below=1e9)))
    piped = "Where did the Kessling tram derailment happen?\nWhich airline did he fly?\n"
    result = runner.invoke(main, ["chat", "--index", str(built_index[1])], input=piped)
    follow_up = result.output.split("\nyou> ")[2]
    assert "searched in: After the Kessling derailment" in follow_up
    assert "I couldn't find this in that editorial." in follow_up


def test_chat_without_an_index_is_a_clear_error(runner, tmp_path):
    result = runner.invoke(main, ["chat", "--index", str(tmp_path / "missing")], input="hello\n")
    assert result.exit_code == 1 and "Error:" in result.output and "Traceback" not in result.output


def test_chat_prints_the_next_best_sentences_of_an_unsure_answer(runner, built_index, tmp_path, monkeypatch):
    monkeypatch.setenv("QA_FITTED_DIR", str(write_scorer(tmp_path / "fitted", alternatives_within=1e9)))
    piped = "Where did the Kessling tram derailment happen?\nHow did the mayor respond?\n"
    result = runner.invoke(main, ["chat", "--index", str(built_index[1])], input=piped)
    first, follow_up = result.output.split("\nyou> ")[1:3]
    assert "Also in this editorial:" not in first
    also = follow_up.split("Also in this editorial:\n")[1].split("\n\n")[0]
    assert [line[:2] for line in also.splitlines() if not line.startswith("  ")] == ["- ", "- "]
    assert "¶" in also
