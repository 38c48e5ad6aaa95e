"""The sentence splitter: where it cuts, and that its cost grows with the paragraph, not its square (issue 21, 5)."""

from __future__ import annotations

import re

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from qa_service.index.passages import cut_article
from qa_service.ingest.corpus import Article
from qa_service.text import ABBREVIATIONS, sentence_spans, trimmed_spans

from .fakes import HashingEmbedder
from .fixtures import linear


def sentences(text: str) -> list[str]:
    return [text[s:e] for s, e in sentence_spans(text)]


@pytest.mark.parametrize(("text", "expected"), [
    ("Mr. Smith went to Washington. He said so! Really? Yes.",
     ["Mr. Smith went to Washington.", "He said so!", "Really?", "Yes."]),
    ("J. K. Rowling wrote it. It sold.", ["J. K. Rowling wrote it.", "It sold."]),
    ("Prices rose, e.g. Bread. Then fell.", ["Prices rose, e.g. Bread.", "Then fell."]),
    ('"Stop!" he said. "Now." (It did.) Then 3 more.', ['"Stop!" he said.', '"Now."', "(It did.)", "Then 3 more."]),
    ("Wait!!! What?! Fine...  Done", ["Wait!!!", "What?!", "Fine...", "Done"]),
    ("no capital. after it", ["no capital. after it"]),
    ("  padded.   Text  ", ["padded.", "Text"]),
])
def test_sentences_end_where_a_reader_would_end_them(text, expected):
    assert sentences(text) == expected


SENTENCE_END_AS_BEFORE = re.compile(r"[.!?]+[\"'”’)\]]*(?=\s+[\"'“‘(\[]?[A-Z0-9])")


def spans_as_before(text: str) -> list[tuple[int, int]]:
    """Where the splitter cut before issue 21 (quadratic on runs of marks and of abbreviations): the reference."""
    spans, start = [], 0
    for match in SENTENCE_END_AS_BEFORE.finditer(text):
        # \Z, not the $ it had: $ also matches before a final newline, so in "A\n. A" it took the "A" a line
        # before the mark for the word ending there (an initial), where the new splitter sees no word at all.
        word = re.search(r"(\S+)\Z", text[start:match.start()])
        token = word.group(1).lower().rstrip(".") if word else ""
        if token in ABBREVIATIONS or re.fullmatch(r"[a-z]", token):
            continue
        spans.append((start, match.end()))
        start = match.end()
    spans.append((start, len(text)))
    return trimmed_spans(text, spans)


PIECES = st.sampled_from([".", "!", "?", "...", " ", "  ", "\n", '"', "'", "”", ")", "(", "A", "Bb", "j", "K", "7",
                          "mr", "Dr", "e.g", "U.S", "word", "etc", "é", "\t"])


@settings(max_examples=400, deadline=None)
@example("A\n. A")  # found by Hypothesis: a mark after a line break ends a sentence (issue 26, 8)
@given(st.lists(PIECES, max_size=40).map("".join))
def test_the_linear_splitter_cuts_exactly_where_the_old_one_did(text):
    assert sentence_spans(text) == spans_as_before(text)


ADVERSARIAL = {
    "a run of marks": lambda n: "!" * n,
    "initials": lambda n: ("J. K. " * n)[:n],
    "abbreviations": lambda n: ("Mr. Dr. etc. " * n)[:n],
    "marks and spaces": lambda n: ("?" + " " * 30) * (n // 31),
    "short sentences": lambda n: ("Go! Now. " * n)[:n],
}


@pytest.mark.parametrize("make", ADVERSARIAL.values(), ids=ADVERSARIAL.keys())
def test_splitting_grows_linearly_with_the_paragraph(make):
    assert linear(sentence_spans, make)


@pytest.mark.parametrize("make", ADVERSARIAL.values(), ids=ADVERSARIAL.keys())
def test_cutting_a_paragraph_into_passages_grows_linearly(make):
    encoder = HashingEmbedder()
    assert linear(lambda text: cut_article(Article("a", "T", (text,)), 16, encoder.count_tokens), make)
