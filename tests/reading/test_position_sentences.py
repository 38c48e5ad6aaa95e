"""The sentence an overview shows for an editorial states its position: not a byline, a bio, a greeting, a question
or a quotation (issue 28, 1), by the shipped position scorer (qa_service/reading/scorers/position.json)."""

from __future__ import annotations

import shutil

import pytest

from qa_service.config import Config
from qa_service.index.generation.build import build_index
from qa_service.index.voice import voice
from qa_service.service import QAService

from ..fixtures import SHARED_DATA, needs_shared_data, write_article

# Written for this test in the manner of an opinion piece that ends with its author's bio and a greeting.
LIBRARY_TITLE = "Keep the Harwick libraries open at night"
LIBRARY = [
    "Harwick council wants to close its three branch libraries at six o'clock every evening from April.",
    "“We have to find savings somewhere,” said the council's finance chief, Ellen Marsh. “Libraries are not "
    "exempt.” Is that really the best the council can do?",
    "The savings are tiny and the harm is large. Evening hours are when working parents, night-shift workers and "
    "students can use the libraries at all. The council should drop the plan and keep the branches open until nine.",
    "Merry Christmas, Harwick.",
    "Tom Avery is a senior fellow at the Civic Reading Institute. His latest book is Open Stacks. Follow him on "
    "Twitter @tomavery.",
]
NOT_POSITIONS = ("Merry Christmas", "senior fellow", "latest book", "Follow him", "said the council", "Is that")


@pytest.fixture(scope="module")
def library(tmp_path_factory, embedder) -> QAService:
    root = tmp_path_factory.mktemp("library")
    corpus = root / "corpus"
    corpus.mkdir()
    write_article(corpus, "libraries.txt", LIBRARY_TITLE, LIBRARY)
    build_index(corpus, root / "index", embedder)
    return QAService(Config(corpus_dir=corpus, index_dir=root / "index"), embedder=embedder)


def test_the_sentence_shown_states_the_position_not_a_bio_greeting_question_or_quote(library):
    [row] = library.overview("What has the paper said about library opening hours?")["editorials"]
    shown = row["sentence"]["text"]
    assert not any(marker in shown for marker in NOT_POSITIONS), shown
    assert voice(shown)[2] > 0 or "should" in shown or "harm" in shown, "a sentence that argues"


@needs_shared_data("editorials")
@pytest.mark.parametrize(("files", "topic"), [
    (("foxnews-257-towntoldtokeepchristoutchristm.txt",), "the Christmas parade in Piedmont, Alabama"),
    (("foxnews-079-expertblackstrustpolicemoretha.txt", "foxnews-290-whymostamericansopposemoregunc.txt"),
     "black crime victims and the police"),
])
def test_real_editorials_show_no_byline_or_greeting(tmp_path, embedder, files, topic):
    """Real editorials that end with a bio ("Follow him on Twitter") or a greeting ("Merry Christmas, …")."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name in files:
        shutil.copy(SHARED_DATA / "editorials" / name, corpus / name)
    build_index(corpus, tmp_path / "index", embedder)
    service = QAService(Config(corpus_dir=corpus, index_dir=tmp_path / "index"), embedder=embedder)
    rows = service.overview(f"What has the paper said about {topic}?")["editorials"]
    assert rows
    for row in rows:
        shown = row["sentence"]["text"]
        assert "Follow him on Twitter" not in shown and "Merry Christmas" not in shown, shown
        assert not shown.rstrip().endswith("?"), shown
