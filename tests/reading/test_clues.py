"""Sentence clues (clues.py), question kinds and names (kinds.py): the rules behind choosing and declining answers."""

import pytest

from qa_service.index.clues import CAUSE, OPINION, QUESTION, QUOTE, sentence_clues
from qa_service.reading.kinds import question_kind, question_names


@pytest.mark.parametrize(("question", "kind"), [
    ("How many children in Dunmore have caught measles?", "number"),
    ("How long did he serve?", "duration"),
    ("How many years was he in jail?", "duration"),
    ("How long ago did it happen?", "date"),
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
    ("There are still 58 million children out of school.", 0, CAUSE | OPINION | QUESTION | QUOTE),
    ("Pompeo's remarks were tough.", 0, CAUSE | OPINION),
    ("They refused because the deal was unfair.", CAUSE, QUESTION),
    ("Europe must accept larger asylum quotas.", OPINION, QUOTE),
    ("Should he have been allowed to die?", QUESTION | OPINION, CAUSE),
    ("“We view them as tandem,” he said.", QUOTE, OPINION),
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
