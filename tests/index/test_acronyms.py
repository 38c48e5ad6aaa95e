"""The acronyms articles define (acronyms.py), and the overview finding an editorial that only uses one."""

import pytest

from qa_service.index.acronyms import Definitions
from qa_service.index.generation.build import build_index
from qa_service.index.generation.layout import read_current_name
from qa_service.index.generation.read import Snapshot
from qa_service.reading.search import Query, acronym_tokens

from ..fixtures import write_article

ARTICLES = [
    "Fighters of the Islamic State of Iraq and the Levant (ISIL) took Mosul in June.",
    "The Guardian writes of the Islamic State (Isis); others of ISIL.",
    "Congress never passed an Authorisation for the Use of Military Force (AUMF) for this war.",
    "The Central Intelligence Agency's (CIA) report was released.",
    "He moved to St Petersburg (Florida) in May.",  # no acronym: the letters of Florida are not there
    "The National Aeronautics and Space Administration (NASA) and the National Institutes of Health (NIH) agreed.",
    "Aid from the United States Agency for International Development (USAID) fell.",
]


@pytest.fixture(scope="module")
def defined() -> Definitions:
    return Definitions(ARTICLES)


def test_the_long_form_is_the_shortest_run_of_words_that_spells_the_acronym(defined):
    forms = {acronym: " ".join(form) for forms in defined.by_first_word.values() for form, acronym in forms}
    assert forms == {
        "ISIL": "islamic state of iraq and the levant",
        "Isis": "islamic state",
        "AUMF": "authorisation for the use of military force",
        "CIA": "central intelligence agency",  # the possessive is not part of the name
        "NASA": "national aeronautics and space administration",
        "NIH": "national institutes of health",
        "USAID": "united states agency for international development",
    }


@pytest.mark.parametrize(("text", "named"), [
    ("the Islamic State group and the war against it", [["ISIL", "Isis"]]),  # one place, two acronyms
    ("islamic state", [["ISIL", "Isis"]]),  # readers type names in lower case
    ("the Authorisation for the Use of Military Force", [["AUMF"]]),
    ("Central Intelligence torture", [["CIA"]]),  # the first words, holding half the name's content words
    ("the National Aeronautics budget", [["NASA"]]),
    ("aid from the United States", []),  # two content words of five are not the name
    ("the National budget", []),  # nor is one word
    ("the National Institutes of Health and NASA", [["NIH"]]),
    ("What did ISIL do in the Islamic State?", []),  # the text abbreviates the name itself
    ("the state of Islam", []),  # the words, not in the name's order
    ("", []),
])
def test_a_text_names_a_long_form_by_all_of_it_or_its_first_half(defined, text, named):
    assert defined.named(text) == named


def test_nothing_is_named_when_the_articles_define_nothing():
    assert Definitions(["No acronym (here) at all.", "Unbalanced ( (parentheses"]).named("the Islamic State") == []


@pytest.fixture(scope="module")
def acronym_snapshot(tmp_path_factory, embedder) -> Snapshot:
    """Three small editorials: one defines the North Atlantic Treaty Organization (NATO), one only writes "NATO"."""
    corpus, index = tmp_path_factory.mktemp("acronym-corpus"), tmp_path_factory.mktemp("acronym-index")
    write_article(corpus, "alliance.txt", "Promises to the east must be paid for", [
        "The North Atlantic Treaty Organization (NATO) promised this week to defend its eastern members.",
        "Its members should spend what they pledged, or stop pledging what they will not spend.",
    ])
    write_article(corpus, "baltic.txt", "A brigade on the Baltic is worth a dozen summits", [
        "NATO will station a brigade in Lithuania from the spring, its first there.",
        "NATO summits have produced communiques; a brigade produces deterrence.",
    ])
    write_article(corpus, "bakery.txt", "The bakery on Mill Street closes after ninety years", [
        "The bakery on Mill Street sold its last loaf on Saturday after ninety years of trade.",
    ])
    build_index(corpus, index, embedder)
    return Snapshot(index / str(read_current_name(index)))


def test_a_query_with_acronyms_searches_the_acronym_of_a_name_it_gives(acronym_snapshot, embedder):
    snapshot, topic = acronym_snapshot, "the North Atlantic Treaty Organization"
    vector = embedder.encode([topic])[0]
    baltic = [row for row, article in enumerate(snapshot.passage_article) if article == "baltic"]
    assert acronym_tokens(snapshot, topic) == ["nato"]
    assert (Query(snapshot, topic, vector, acronyms=True).bm25()[baltic] > 0).all()
    assert (Query(snapshot, topic, vector).bm25()[baltic] == 0).all()  # questions leave it out (see Query)
    assert acronym_tokens(snapshot, "What did NATO promise the North Atlantic Treaty Organization's members?") == []
