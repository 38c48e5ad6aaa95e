"""The answer sentence (best evidence among the top passages) and the "not in the editorials" decision."""

import pytest

from qa_service.reading.answer import FOUND_THRESHOLD, NAMES_PENALTY, choose_sentence, evidence, is_found, names_agree
from qa_service.reading.search import Hit, Query, retrieve

from ..fixtures import FISHERY_ID, MEASLES_ID, SEED_ID, TRAM_ID, WATER_ID


def row_of(snapshot, article_id, paragraph):
    return next(r for r, (a, p) in enumerate(zip(snapshot.passage_article, snapshot.passage_paragraph))
                if a == article_id and p == paragraph)


def test_the_answer_comes_from_the_best_evidence_not_the_first_passage(snapshot, embedder):
    text = "Who did Pompeo telephone to complain about the agreement?"
    q = Query(snapshot, text, embedder.encode([text])[0])
    weak, strong = row_of(snapshot, WATER_ID, 1), row_of(snapshot, SEED_ID, 3)
    answer = choose_sentence(snapshot, q, [Hit(weak, 1.0, 0.0, 0.0), Hit(strong, 0.5, 0.0, 0.0)])
    assert answer.passage == 2
    assert "Kang Kyung-wha" in answer.text
    assert snapshot.passage_text[strong][answer.start:answer.end] == answer.text


def test_the_answer_sentence_is_a_whole_sentence_of_its_passage(snapshot, embedder):
    text = "Who has led the cod surveys on the Skerry Banks since 2004?"  # in a long ¶'s window
    q = Query(snapshot, text, embedder.encode([text])[0])
    hits = retrieve(snapshot, q, 5)
    answer = choose_sentence(snapshot, q, hits)
    passage = snapshot.passage_text[hits[answer.passage - 1].row]
    assert passage[answer.start:answer.end] == answer.text
    assert answer.start == 0 or passage[answer.start - 1] == " "
    assert answer.text[-1] in ".!?\"”'’" or answer.end == len(passage)


def query(snapshot, embedder, text):
    return Query(snapshot, text, embedder.encode([text])[0])


def test_no_passages_means_no_answer_and_no_evidence(snapshot, embedder):
    q = query(snapshot, embedder, "anything")
    assert choose_sentence(snapshot, q, []) is None
    assert evidence([]) == 0.0 and not is_found(snapshot, q, [])


def test_evidence_is_twice_the_best_sentence_cosine_plus_its_coverage(snapshot, embedder):
    hit = Hit(0, 1.0, dense=0.3, lexical=2.0, sentence=0.5, coverage=0.4)
    assert evidence([hit, Hit(1, 0.9, 0.9, 9.0, 0.9, 1.0)]) == pytest.approx(1.4), "the best passage decides"
    row = row_of(snapshot, SEED_ID, 3)
    at = Hit(row, 1.0, 0.0, 0.0, sentence=(FOUND_THRESHOLD - 0.25) / 2, coverage=0.25)
    below = Hit(row, 1.0, 0.0, 0.0, sentence=(FOUND_THRESHOLD - 0.25) / 2 - 0.01, coverage=0.25)
    q = query(snapshot, embedder, "Who did Pompeo telephone?")
    assert is_found(snapshot, q, [at]) and not is_found(snapshot, q, [below])


def test_a_name_the_article_never_mentions_costs_evidence(snapshot, embedder):
    row = row_of(snapshot, SEED_ID, 3)
    agreeing = query(snapshot, embedder, "When did Pompeo telephone Kang Kyung-wha?")
    # Kessling is named by another article, Zxqvort by none.
    lookalike = query(snapshot, embedder, "When did Pompeo telephone the mayor of Kessling?")
    misspelt = query(snapshot, embedder, "When did Pompeo telephone Zxqvort?")
    assert names_agree(snapshot, agreeing, row)
    assert not names_agree(snapshot, lookalike, row)
    assert names_agree(snapshot, misspelt, row), "a name no article has is as often a misspelling: coverage counts it"
    just = Hit(row, 1.0, 0.0, 0.0, sentence=(FOUND_THRESHOLD - 0.25) / 2, coverage=0.25)
    strong = Hit(row, 1.0, 0.0, 0.0, sentence=(FOUND_THRESHOLD + NAMES_PENALTY - 0.25) / 2, coverage=0.25)
    assert is_found(snapshot, agreeing, [just]) and not is_found(snapshot, lookalike, [just])
    assert is_found(snapshot, lookalike, [strong])


@pytest.mark.parametrize("question", ["?", "...", "\u200b", "Who is it?"])
def test_a_question_without_content_words_is_declined(client, question):
    data = client.post("/api/ask", json={"question": question}).get_json()
    assert data["found"] is False and data["answer"] is None


def test_the_seed_question_is_answered_with_the_warning_not_the_topic_sentence(client):
    data = client.post("/api/ask", json={"question": "What did Pompeo warn about?"}).get_json()
    assert data["found"] is True
    assert "open warning against Seoul’s independent arguments" in data["answer"]["text"]


@pytest.mark.parametrize(("question", "holds"), [
    ("How many children in Dunmore have caught measles?", "41 children"),  # a number, not "Measles has returned"
    ("Who is the school nurse at Castle Hill Primary?", "Priya Natarajan"),
])
def test_the_answer_sentence_holds_the_kind_of_answer_asked_for(client, question, holds):
    data = client.post("/api/ask", json={"question": question}).get_json()
    assert data["found"] is True and holds in data["answer"]["text"]


@pytest.mark.parametrize("question", [
    "Which NFL team represented the AFC at Super Bowl 50?",
    "What is the atomic number of oxygen?",
    "In what year did Genghis Khan die?",
])
def test_questions_the_editorials_do_not_answer_are_declined_with_nearest_passages(client, question):
    data = client.post("/api/ask", json={"question": question}).get_json()
    assert data["found"] is False and data["answer"] is None
    assert len(data["passages"]) == 5


@pytest.mark.parametrize(("question", "article"), [
    ("What did Pompeo warn about?", SEED_ID),
    ("Who did Pompeo call to complain about the military agreement?", SEED_ID),
    ("What does the Arlen Valley Water Board want to build?", WATER_ID),
    ("Who led the angry reaction of the trawler owners?", FISHERY_ID),
    ("Where did the tram derail in Kessling?", TRAM_ID),
    ("How many children in Dunmore have caught measles?", MEASLES_ID),
])
def test_questions_the_editorials_answer_are_answered(client, question, article):
    data = client.post("/api/ask", json={"question": question}).get_json()
    assert data["found"] is True
    assert data["passages"][data["answer"]["passage"] - 1]["citation"]["article_id"] == article
