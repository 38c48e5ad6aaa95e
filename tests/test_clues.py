"""Question kinds, sentence clues and question names: the rules behind choosing and declining answers."""

import pytest

from qa_service.clues import (
    CAUSE,
    NAME,
    NUMBER,
    OPINION,
    PLACE,
    QUESTION,
    QUOTE,
    YEAR,
    question_kind,
    question_names,
    sentence_clues,
)


@pytest.mark.parametrize(("question", "kind"), [
    ("How many children in Dunmore have caught measles?", "number"),
    ("How much did Cuba's economy shrink?", "number"),
    ("When did the tram derail?", "date"),
    ("In what year was the dam finished?", "date"),
    ("Who did he call?", "person"),
    ("Which Sony boss gave the film the go-ahead?", "person"),
    ("Where did the tram derail?", "place"),
    ("In which town did the activists win?", "place"),
    ("Why is Pyongyang unwilling to give up its weapons?", "reason"),
    ("In the chemo case, why might her age have saved her?", "reason"),
    ("What should Europe do for Syrians, in the writer's view?", "opinion"),
    ("What does the author make of the deal?", "opinion"),
    ("What did Pompeo warn about?", "other"),
])
def test_the_kind_of_answer_a_question_asks_for(question, kind):
    assert question_kind(question) == kind


@pytest.mark.parametrize(("sentence", "present", "absent"), [
    ("There are still 58 million children out of school.", NUMBER, YEAR | QUESTION),
    ("It arrived in London in 1900, when Charles Candler brought it.", YEAR | NAME | PLACE | NUMBER, QUESTION),
    ("Pompeo's remarks were tough.", 0, NAME | NUMBER | CAUSE | OPINION),
    ("They refused because the deal was unfair.", CAUSE, NAME),
    ("Europe must accept larger asylum quotas.", OPINION, NUMBER),
    ("Should he have been allowed to die?", QUESTION | OPINION, NUMBER),
    ("“We view them as tandem,” he said.", QUOTE, NUMBER),
])
def test_sentence_clues_flag_what_a_sentence_can_answer(sentence, present, absent):
    clues = sentence_clues(sentence)
    assert clues & present == present
    assert clues & absent == 0


def test_question_names_are_its_capitalised_names_and_years_as_terms():
    assert question_names("Who won the 2015 UK general election?") == [["uk"], ["2015"]]
    assert question_names("Which New York judge ordered Argentina to pay?") == [["new", "york"], ["argentina"]]
    assert question_names("At which Super Bowl did Beyoncé sing?") == [["super", "bowl"], ["beyonc"]], \
        "accents are folded, as in the index"
    assert question_names("Besides coffee, what did they sell?") == [], "a question's first word is capitalised anyway"
    assert question_names("What did Pompeo warn about?") == [["pompeo"]]
