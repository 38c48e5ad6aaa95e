"""A follow-up in the editorial under discussion: where it is searched, how it ranks, when it is declined."""

from dataclasses import replace

import numpy as np

from qa_service.reading.discussion import answer_in_article, editorial_rows, with_articles
from qa_service.reading.fitted import Scorer
from qa_service.reading.followup import Reading, Turn
from qa_service.reading.search import Filters, Query
from qa_service.reading.sentence_features import FEATURES

from ..fixtures import SEED_ID, TRAM_ID, WATER_ID


def reading_after(article_id, paragraph, answer="", question="What happened?"):
    previous = Turn(question, answer, article_id, paragraph)
    return Reading(leans=True, previous=previous, shown=(answer,) if answer else ())


def scorer(decline_below=-1e9, alternatives_within=0.0, **weights) -> Scorer:
    """A scorer with these weights (by feature name; cosine 1 unless given), for the mechanics, not the fit."""
    weights = {"cosine": 1.0, **weights}
    return Scorer(FEATURES, np.array([weights.get(f, 0.0) for f in FEATURES]), decline_below, alternatives_within,
                  0.3, ("test",))


def ask_in(service, snapshot, question, reading, with_scorer=None):
    rows = editorial_rows(snapshot, question, reading, Filters())
    if rows is None:
        return None
    query = Query(snapshot, question, service.embedder.encode([question])[0])
    return answer_in_article(snapshot, query, reading, rows, 5, with_scorer or service.follow_up_scorer)


def test_the_editorial_under_discussion_is_left_for_a_question_naming_what_it_never_mentions(snapshot):
    reading = reading_after(TRAM_ID, 1)
    assert editorial_rows(snapshot, "How did the mayor respond?", reading, Filters()) is not None
    assert editorial_rows(snapshot, "What did Pompeo warn about?", reading, Filters()) is None
    assert editorial_rows(snapshot, "How did the mayor respond?", Reading(), Filters()) is None, "no earlier answer"
    assert editorial_rows(snapshot, "How did the mayor respond?", reading_after("gone", 1), Filters()) is None
    dated = Filters(date_from="2018-01-01")  # the tram editorial is undated: the filter leaves nothing of it
    assert editorial_rows(snapshot, "How did the mayor respond?", reading, dated) is None


def test_only_the_editorials_own_passages_are_ranked(service, snapshot):
    found = ask_in(service, snapshot, "Who is its president?", reading_after(WATER_ID, 1))
    assert {snapshot.passage_article[hit.row] for hit in found.hits} == {WATER_ID}
    assert "Margit Solberg" in found.answer.text
    assert found.hits[found.answer.passage - 1].row in {hit.row for hit in found.hits}


def test_a_best_sentence_under_the_fitted_threshold_is_declined_there(service, snapshot):
    reading = reading_after(TRAM_ID, 5)
    assert ask_in(service, snapshot, "Who is to blame?", reading, scorer()).answer is not None
    declined = ask_in(service, snapshot, "Who is to blame?", reading, scorer(decline_below=1e9))
    assert declined.answer is None and declined.hits, "declined, with the editorial's nearest passages"


def test_the_features_the_scorer_weighs_move_the_answer(service, snapshot):
    question = "Why did Pompeo call?"
    first = ask_in(service, snapshot, question, reading_after(SEED_ID, 2), scorer())
    shown = reading_after(SEED_ID, 2, answer=first.answer.text)
    assert ask_in(service, snapshot, question, shown, scorer()).answer.text == first.answer.text
    again = ask_in(service, snapshot, question, shown, scorer(shown=-10.0))
    assert again.answer.text != first.answer.text, "a sentence already shown gives way when the scorer says so"


def test_close_seconds_are_offered_beside_the_answer(service, snapshot):
    reading = reading_after(SEED_ID, 2)
    sure = ask_in(service, snapshot, "Why did Pompeo call?", reading, scorer(alternatives_within=0.0))
    unsure = ask_in(service, snapshot, "Why did Pompeo call?", reading, scorer(alternatives_within=10.0))
    assert sure.alternatives == ()
    assert len(unsure.alternatives) == 2 and unsure.answer == sure.answer
    assert all(a.text != unsure.answer.text for a in unsure.alternatives)
    for alternative in unsure.alternatives:  # each one cites a passage of the ones returned, at its offsets
        passage = snapshot.passage_text[unsure.hits[alternative.passage - 1].row]
        assert passage[alternative.start:alternative.end] == alternative.text


def test_an_answer_sent_back_without_its_article_is_found_by_its_text(snapshot):
    """A client that keeps only question and answer (issue 27, 4): the sentence names its editorial and paragraph."""
    row = int(np.flatnonzero(np.asarray(snapshot.passage_article) == SEED_ID)[1])
    start, end = snapshot.sentence_span[snapshot.sentence_first[row]]
    sentence = snapshot.passage_text[row][start:end]
    [turn] = with_articles(snapshot, (Turn("What did Pompeo warn about?", "  " + sentence.replace(" ", "\n ")),))
    assert (turn.article_id, turn.paragraph) == (SEED_ID, int(snapshot.passage_paragraph[row]))
    unknown = Turn("What happened?", "A sentence no editorial holds.")
    assert with_articles(snapshot, (unknown,)) == (unknown,)
    given = replace(turn, article_id=WATER_ID, paragraph=1)
    assert with_articles(snapshot, (given,)) == (given,), "an article the client names is kept"
