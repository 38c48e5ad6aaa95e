"""The lexical side: BM25 built in numpy must be exactly bm25s's, and sentence terms must cover titles."""

import random
import re

import bm25s
import numpy as np
import pytest

from qa_service.index.lexical import K1, B, LexicalIndex, SentenceTerms, build_lexical
from qa_service.index.passages import article_passages, cut_article
from qa_service.ingest.corpus import load_corpus
from qa_service.text import tokenize

from ..fixtures import make_corpus


def words(text: str) -> int:
    return len(text.split())


@pytest.fixture(scope="module")
def cut(tmp_path_factory):
    """The test corpus, cut into passages (40-word windows, so long paragraphs split)."""
    articles, _ = load_corpus(make_corpus(tmp_path_factory.mktemp("lexical") / "corpus"))
    return [cut_article(a, 40, words) for a in articles]


def lexical_inputs(cut):
    passages = [(number, p, sentences) for number, c in enumerate(cut) for p, sentences in c.passages]
    titles = [" ".join(tokenize(c.article.title)) for c in cut]
    passage_title = np.array([number for number, _, _ in passages])
    sentence_terms = [s.terms for _, _, sentences in passages for s in sentences]
    sentence_passage = np.array([row for row, (_, _, sentences) in enumerate(passages) for _ in sentences])
    return passages, titles, passage_title, sentence_terms, sentence_passage


def test_a_passages_terms_are_its_titles_then_its_sentences(cut):
    for c in cut:
        for passage, sentences in c.passages:
            whole = tokenize(f"{c.article.title}\n{passage.text}")
            joined = " ".join([" ".join(tokenize(c.article.title))] + [s.terms for s in sentences]).split()
            assert joined == whole


def test_bm25_built_in_numpy_scores_exactly_as_bm25s_own_build(cut, tmp_path):
    passages, titles, passage_title, sentence_terms, sentence_passage = lexical_inputs(cut)
    ours, _ = build_lexical(titles, passage_title, sentence_terms, sentence_passage)
    reference = bm25s.BM25(k1=K1, b=B)
    reference.index([tokenize(f"{cut[n].article.title}\n{p.text}") for n, p, _ in passages], show_progress=False)
    theirs = LexicalIndex(reference)
    ours.save(tmp_path / "saved")
    reloaded = LexicalIndex.load(tmp_path / "saved")

    assert set(ours.vocab) == set(theirs.vocab) and ours.n_docs == theirs.n_docs == len(passages)
    vocabulary = sorted(t for t in theirs.vocab if t)
    assert np.array_equal(ours.idf(vocabulary), theirs.idf(vocabulary))
    rng = random.Random(7)
    for _ in range(300):
        query = rng.sample(vocabulary, rng.randint(1, 5)) + ["neverseenword"]
        assert np.array_equal(ours.scores(query), theirs.scores(query))
        assert np.array_equal(reloaded.scores(query), theirs.scores(query))
    assert ours.scores(["pompeo"]).max() > 0


def test_sentence_terms_hold_each_sentences_words_and_its_titles(cut):
    _, titles, passage_title, sentence_terms, sentence_passage = lexical_inputs(cut)
    lexical, terms = build_lexical(titles, passage_title, sentence_terms, sentence_passage)
    assert terms.n_sentences == len(sentence_terms)
    sentence_words = [set(own.split()) | set(titles[passage_title[p]].split())
                      for own, p in zip(sentence_terms, sentence_passage, strict=True)]
    for word in ("pompeo", "seoul", tokenize(cut[1].article.title)[0]):
        holders = terms.weighted_presence([lexical.vocab[word]], np.array([1.0]))
        assert set(np.flatnonzero(holders)) == {i for i, held in enumerate(sentence_words) if word in held}


def test_sentence_term_postings_count_a_term_once_per_sentence():
    terms = SentenceTerms.from_occurrences(np.array([0, 1, 0, 1, 2, 2]), np.array([0, 0, 0, 1, 2, 2]), 4, 3)
    assert terms.n_sentences == 4
    assert np.allclose(terms.weighted_presence([0, 1], np.array([1.0, 0.5])), [1.5, 0.5, 0.0, 0.0])
    assert np.allclose(terms.weighted_presence([2], np.array([2.0])), [0.0, 0.0, 2.0, 0.0])


def test_sentences_cover_their_passage_but_for_whitespace(cut):
    seed = next(c for c in cut if c.article.source.startswith("donga"))
    assert [p for p, _ in seed.passages] == article_passages(seed.article, 40, words)
    for c in cut:
        for passage, sentences in c.passages:
            covered = "".join(passage.text[s.start:s.end] for s in sentences)
            assert re.sub(r"\s", "", covered) == re.sub(r"\s", "", passage.text)
