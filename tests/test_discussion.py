"""A follow-up in the editorial under discussion: where it is searched, how it ranks, when it is declined."""

import pytest

from qa_service.discussion import answer_in_article, asked_thing, editorial_rows
from qa_service.followup import Reading, Turn
from qa_service.search import Filters, Query

from .fixtures import SEED_ID, TRAM_ID, WATER_ID


@pytest.mark.parametrize(("question", "thing"), [
    ("Which clubs did he play for himself?", "club"),
    ("And what interest rate is the party paying on it?", "rate"),
    ("Which airline did he fly?", "airlin"),
    ("So what reason did the mayor give?", None),  # the kind of answer, not a thing of the editorial's
    ("Which country backed it?", None),
    ("Which bank lent money to the party?", "bank"),  # the noun, not the verb after it
    ("What did they want done with him?", None),
    ("Why now?", None),
])
def test_the_thing_a_which_or_what_question_asks_about(question, thing):
    assert asked_thing(question) == thing


def reading_after(article_id, paragraph, answer="", question="What happened?"):
    previous = Turn(question, answer, article_id, paragraph)
    return Reading(leans=True, previous=previous, shown=(answer,) if answer else ())


def ask_in(service, snapshot, question, reading):
    rows = editorial_rows(snapshot, question, reading, Filters())
    if rows is None:
        return None
    query = Query(snapshot, question, service.embedder.encode([question])[0])
    return answer_in_article(snapshot, query, reading, rows, 5)


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


def test_a_thing_the_editorial_never_mentions_is_declined_there(service, snapshot):
    declined = ask_in(service, snapshot, "Which airline did he fly?", reading_after(TRAM_ID, 5))
    assert declined.answer is None and declined.hits, "declined, with the editorial's nearest passages"


def test_an_answer_already_shown_gives_way_to_the_next(service, snapshot):
    question = "Why did Pompeo call?"
    first = ask_in(service, snapshot, question, reading_after(SEED_ID, 2))
    again = ask_in(service, snapshot, question, reading_after(SEED_ID, 3, answer=first.answer.text))
    assert again.answer.text != first.answer.text
