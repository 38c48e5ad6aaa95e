from collections import Counter

import pytest

from qa_service.index.passages import article_passages, split_paragraph
from qa_service.ingest.corpus import Article

from ..fixtures import FISHERY_ID, MEASLES_ID


def words(text: str) -> int:
    return len(text.split())


def test_short_paragraphs_become_one_passage_each_citing_their_number():
    article = Article(id="a", title="T", paragraphs=("One two three.", "Four five."))
    passages = article_passages(article, limit=10, count=words)
    assert [(p.paragraph, p.part, p.text) for p in passages] == [(1, 0, "One two three."), (2, 0, "Four five.")]


def test_long_paragraph_is_split_into_overlapping_windows_covering_all_text():
    sentences = [f"Sentence number {i} has exactly seven words." for i in range(12)]
    paragraph = " ".join(sentences)
    spans = split_paragraph(paragraph, limit=20, count=words)
    assert len(spans) > 1
    assert all(words(paragraph[s:e]) <= 20 for s, e in spans)
    assert spans[0][0] == 0 and spans[-1][1] == len(paragraph)
    for (_, end), (start, _) in zip(spans, spans[1:]):
        assert start < end, "consecutive windows overlap"
    covered = set()
    for s, e in spans:
        covered.update(range(s, e))
    assert all(i in covered for i, ch in enumerate(paragraph) if not ch.isspace())


def test_windows_of_a_long_paragraph_all_cite_the_same_paragraph():
    long = " ".join(f"Claim {i} is made here." for i in range(40))
    article = Article(id="a", title="T", paragraphs=("Intro.", long))
    passages = article_passages(article, limit=30, count=words)
    second = [p for p in passages if p.paragraph == 2]
    assert len(second) > 1
    assert [p.part for p in second] == list(range(1, len(second) + 1))
    assert all(long[p.start:p.end] == p.text for p in second)


def test_a_single_huge_sentence_is_cut_between_words():
    sentence = " ".join(f"w{i}" for i in range(100))
    spans = split_paragraph(sentence, limit=30, count=words)
    assert len(spans) >= 4
    assert all(words(sentence[s:e]) <= 30 for s, e in spans)
    assert spans[-1][1] == len(sentence)


def test_real_tokenizer_limit_holds(embedder):
    paragraph = " ".join(["The committee deliberated extensively about infrastructure appropriations."] * 60)
    spans = split_paragraph(paragraph, embedder.max_tokens, embedder.count_tokens)
    assert len(spans) > 1
    assert all(embedder.count_tokens(paragraph[s:e]) <= embedder.max_tokens for s, e in spans)


def test_the_test_corpus_has_paragraphs_cut_into_windows_that_fit_the_encoder(snapshot, embedder):
    per_paragraph = Counter(zip(snapshot.passage_article, snapshot.passage_paragraph.tolist()))
    assert per_paragraph[(FISHERY_ID, 5)] > 1 and per_paragraph[(MEASLES_ID, 2)] > 1
    assert all(embedder.count_tokens(text) <= embedder.max_tokens for text in snapshot.passage_text)


@pytest.mark.parametrize("text", [
    "Go now. " * 4000,  # many short sentences
    "j. k. " * 4000,  # one sentence of short words (initials are not sentence ends), cut between words
    "Words of a long sentence that goes on. " * 1000,
])
def test_cutting_a_long_paragraph_counts_each_character_a_few_times_not_once_per_window_span(text):
    """The tokenizer is asked about each span once and each window about twice (issue 21, 5): the text it is
    handed stays a small multiple of the paragraph, where growing every window a span at a time re-counted
    each window once per span in it (20 to 40 times the paragraph with these)."""
    counted = []

    def count(part: str) -> int:
        counted.append(len(part))
        return len(part.split())

    windows = split_paragraph(text, 64, count)
    assert all(len(text[s:e].split()) <= 64 for s, e in windows) and windows[-1][1] == len(text.rstrip())
    assert sum(counted) < 10 * len(text)
