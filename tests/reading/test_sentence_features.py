"""The features of a follow-up's candidate sentences, computed from what the index stores and one question vector."""

from __future__ import annotations

import numpy as np

from qa_service.reading.discussion import shown_from
from qa_service.reading.followup import Reading, Turn
from qa_service.reading.search import Query
from qa_service.reading.sentence_features import FEATURES, Candidates, editorial_sentences, follow_up_features

from ..fixtures import TRAM_ID, WATER_ID


def candidates(service, snapshot, question, article_id, answer="", paragraph=None) -> Candidates:
    previous = Turn("What happened?", answer, article_id, paragraph)
    reading = Reading(leans=True, previous=previous, shown=(answer,) if answer else ())
    rows = np.flatnonzero(snapshot.passage_article_number == snapshot.article_number[article_id])
    query = Query(snapshot, question, service.embedder.encode([question])[0])
    return follow_up_features(snapshot, query, shown_from(snapshot, reading), rows)


def column(found: Candidates, name: str) -> np.ndarray:
    return found.features[:, FEATURES.index(name)]


def text(snapshot, found: Candidates, i: int) -> str:
    start, end = snapshot.sentence_span[found.rows[i]]
    return snapshot.passage_text[found.passages[i]][start:end]


def test_every_sentence_of_the_editorial_is_a_candidate_once_in_reading_order(service, snapshot):
    found = candidates(service, snapshot, "Who is its president?", WATER_ID)
    assert found.features.shape == (len(found.rows), len(FEATURES))
    assert (np.diff(found.rows) > 0).all()
    keys = list(zip(snapshot.passage_paragraph[found.passages], snapshot.sentence_text_key[found.rows], strict=True))
    assert len(set(keys)) == len(keys), "a sentence two windows share is counted once"
    rows, _ = editorial_sentences(snapshot, np.flatnonzero(snapshot.passage_article_number
                                                           == snapshot.article_number[WATER_ID]))
    assert list(rows) == list(found.rows)


def test_a_who_question_marks_the_sentences_that_name_a_person(service, snapshot):
    found = candidates(service, snapshot, "Who is its president?", WATER_ID)
    held = {text(snapshot, found, i) for i in np.flatnonzero(column(found, "kind_held"))}
    assert any("Margit Solberg" in t for t in held)
    assert not column(found, "kind_held").all(), "only some sentences name someone"
    plain = candidates(service, snapshot, "Is the dam a good idea?", WATER_ID)
    assert not column(plain, "kind_held").any(), "no kind asked"


def test_where_each_sentence_stands_from_the_answer_shown(service, snapshot):
    answer = "Drivers have been warning about this for some time."
    found = candidates(service, snapshot, "What did she say?", TRAM_ID, answer=answer, paragraph=4)
    at = int(np.flatnonzero(column(found, "previous_answer"))[0])
    assert text(snapshot, found, at) == answer and column(found, "shown")[at] == 1
    assert column(found, "previous_answer").sum() == 1 and column(found, "shown").sum() == 1
    paragraph = snapshot.passage_paragraph[found.passages]
    assert (column(found, "same_paragraph") == (paragraph == 4)).all()
    assert (column(found, "before") == (paragraph < 4)).all()
    alone = candidates(service, snapshot, "What did she say?", TRAM_ID)
    assert not column(alone, "previous_answer").any() and not column(alone, "same_paragraph").any()


def test_the_sentence_holding_all_the_question_s_words_covers_it_most(service, snapshot):
    found = candidates(service, snapshot, "Who is the president of the Arlen Valley Water Board?", WATER_ID)
    best = int(np.argmax(column(found, "coverage")))
    assert "Margit Solberg, president of the Arlen Valley Water Board" in text(snapshot, found, best)
    assert column(found, "coverage")[best] == 1.0 and column(found, "cosine")[best] > np.median(column(found, "cosine"))
