"""Retrieval: dense (FAISS), lexical (BM25) and hybrid, with date and article filters.

`hybrid` (the default) takes the top candidates of both rankings and scores each candidate on
five signals, all precomputed at index time except one matrix-vector product over the
candidates' sentences:

    score = BM25 / best BM25                                   (lexical, title included)
          + 4.0 * (0.5 * cos(question, passage) + 0.5 * max cos(question, sentence))
          + 2.0 * max IDF-weighted share of the question's terms in one sentence (+ title)
          + 1.0 * max cos(question, sentence) over the sentences that hold the kind of answer
                  asked for (a number for "how many", a reason for "why": clues.py)

The sentence-level terms are what plain fusion misses: a question is usually answered by one
sentence, and a passage vector averages it with everything around it. README.md ("Quality")
has the measurements behind each term and weight.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..config import MODES
from ..index.dense import best_first, search_dense
from ..index.entities import ASKED_MASKS
from ..index.generation.read import Snapshot
from ..text import tokenize
from .kinds import EXPECTED, question_kind, question_names

CANDIDATES = 40  # taken from each of the dense and BM25 rankings (at least 2 * k)
LEXICAL_WEIGHT = 1.0
DENSE_WEIGHT = 4.0
PASSAGE_SHARE = 0.5  # of the dense part: the whole passage's cosine vs its best sentence's (read in context)
COVERAGE_WEIGHT = 2.0
ANSWER_KIND_WEIGHT = 1.0  # of the best cosine among sentences that hold the kind of answer asked for
CONTEXT_WEIGHT = 0.5  # weight of the words a follow-up question carries over from the conversation


@dataclass(frozen=True)
class Filters:
    date_from: str | None = None
    date_to: str | None = None
    articles: tuple[str, ...] | None = None

    def __bool__(self) -> bool:
        return bool(self.date_from or self.date_to or self.articles is not None)


@dataclass(frozen=True)
class Hit:
    row: int
    score: float  # what the mode ranks by: the hybrid score, the cosine or the BM25 score
    dense: float  # cosine of the question and the passage
    lexical: float  # BM25 score of the passage
    sentence: float = 0.0  # cosine of the question and the passage's best-matching sentence
    coverage: float = 0.0  # IDF-weighted share of the question's terms in its best-covering sentence


def name_terms(snapshot: Snapshot, text: str) -> list[list[int]]:
    """The names a question gives (clues.question_names) as term ids (-1: a term the index has never seen)."""
    vocab = snapshot.lexical.vocab
    return [[vocab.get(t, -1) for t in name] for name in question_names(text)]


def acronym_tokens(snapshot: Snapshot, text: str) -> list[str]:
    """The BM25 tokens of the acronyms `text` names by their long forms (acronyms.py), one per name: of the
    acronyms the articles define for it ("Islamic State": ISIL, Isis), the one the most articles use, so that
    the name weighs as one more term, not two."""
    own = set(tokenize(text))
    chosen = []
    for group in snapshot.acronyms.named(text):
        tokens = [t for t in dict.fromkeys(tokenize(" ".join(group))) if t not in own]
        if tokens:
            chosen.append(tokens[int(snapshot.lexical.idf(tokens).argmin())])
    return chosen


class Query:
    """A question as retrieval sees it: its vector, BM25 tokens and IDF-weighted distinct terms.

    Term weights are each distinct term's IDF over the sum for all of the question's terms,
    including terms the index has never seen (weighted as the rarest), so a question about
    something absent from the editorials cannot reach a high coverage.
    """

    def __init__(self, snapshot: Snapshot, text: str, vector: np.ndarray, context: str = "", acronyms: bool = False):
        """`acronyms`: also search the acronyms the articles define for names the text gives (acronym_tokens):
        an overview must find every editorial on its topic, also one that only writes "ISIL"; a question's
        answer nearly always sits beside the long form, and there the added term costs more than it finds
        (README "An overview of the editorials on a topic")."""
        self.snapshot = snapshot
        self.text = text
        self.vector = np.ascontiguousarray(np.asarray(vector, dtype=np.float32).reshape(-1))
        self.tokens = tokenize(text) + (acronym_tokens(snapshot, text) if acronyms else [])
        kind = question_kind(text)
        self.expected = EXPECTED.get(kind, 0)  # clue flags an answer sentence should have (0: any)
        # entity labels one should hold (entities.ASKED; 0: the clue flags decide): who, when, how many, where
        self.expected_entities = ASKED_MASKS.get(kind, 0)
        vocab = snapshot.lexical.vocab
        self.names = name_terms(snapshot, text)
        own = set(self.tokens)
        self.context_tokens = [t for t in tokenize(context) if t not in own]
        distinct = sorted(own) + sorted(set(self.context_tokens))
        idf = snapshot.lexical.idf(distinct)
        idf[len(own):] *= CONTEXT_WEIGHT
        total = float(idf.sum())
        known = [(vocab[t], w / total) for t, w in zip(distinct, idf, strict=True) if t in vocab]
        self.term_ids = [t for t, _ in known]
        self.term_weights = np.array([w for _, w in known], dtype=np.float64)
        self._coverage: np.ndarray | None = None
        self._matched: np.ndarray | None = None

    def bm25(self) -> np.ndarray:
        """BM25 of every passage row: the question's tokens, plus carried-over context tokens at a lower weight."""
        scores = self.snapshot.lexical.scores(self.tokens)
        if self.context_tokens:
            scores = scores + CONTEXT_WEIGHT * self.snapshot.lexical.scores(self.context_tokens)
        return scores

    def matched_terms(self) -> np.ndarray:
        """Per sentence row: how many of the question's distinct terms it (or its title) holds."""
        if self._matched is None:
            self._matched = self.snapshot.sentence_terms.weighted_presence(self.term_ids, np.ones(len(self.term_ids)))
        return self._matched

    def coverage(self) -> np.ndarray:
        """Per sentence row: the IDF-weighted share of the question's terms it (or its title) holds."""
        if self._coverage is None:
            self._coverage = self.snapshot.sentence_terms.weighted_presence(self.term_ids, self.term_weights)
        return self._coverage


@dataclass(frozen=True)
class SentenceScores:
    """The sentences of some passages, flattened: row ids, cosines, coverages, and per-passage offsets."""

    rows: np.ndarray
    cosine: np.ndarray
    coverage: np.ndarray
    offsets: np.ndarray  # passage i owns entries offsets[i]:offsets[i + 1]
    fits: np.ndarray  # whether the sentence holds the kind of answer the question asks for

    def best(self, values: np.ndarray) -> np.ndarray:
        """The maximum of `values` (one per entry) within each passage; 0 for a passage without sentences."""
        counts = np.diff(self.offsets)
        out = np.zeros(len(counts), dtype=np.float64)
        present = counts > 0
        if present.any():
            out[present] = np.maximum.reduceat(values, self.offsets[:-1][present])
        return out


def sentence_scores(snapshot: Snapshot, query: Query, passage_rows: np.ndarray) -> SentenceScores:
    passage_rows = np.asarray(passage_rows, dtype=np.int64)
    starts = snapshot.sentence_first[passage_rows]
    counts = snapshot.sentence_first[passage_rows + 1] - starts
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    rows = np.repeat(starts - offsets[:-1], counts) + np.arange(offsets[-1])
    cosine = np.take(snapshot.sentence_vectors, rows, axis=0) @ query.vector
    if query.expected_entities:
        fits = (snapshot.sentence_entity_labels[rows] & query.expected_entities) > 0
    else:
        fits = (snapshot.sentence_clues[rows] & query.expected) > 0
    return SentenceScores(rows, cosine.astype(np.float64), query.coverage()[rows], offsets, fits)


def allowed_rows(snapshot: Snapshot, filters: Filters) -> np.ndarray | None:
    """Passage rows that pass the filters (None: no filter). Undated articles fail a date filter."""
    if not filters:
        return None
    mask = np.ones(snapshot.n_passages, dtype=bool)
    if filters.articles is not None:
        wanted = [snapshot.article_number[a] for a in set(filters.articles) if a in snapshot.article_number]
        mask &= np.isin(snapshot.passage_article_number, wanted)
    if filters.date_from or filters.date_to:
        mask &= snapshot.passage_day >= 0
    if filters.date_from:
        mask &= snapshot.passage_day >= _day(filters.date_from)
    if filters.date_to:
        mask &= snapshot.passage_day <= _day(filters.date_to)
    return np.flatnonzero(mask)


def _day(iso: str) -> int:
    return int(iso[:10].replace("-", ""))


def top_rows(scores: np.ndarray, k: int, allowed: np.ndarray | None) -> np.ndarray:
    """The rows of the `k` best scores (best first) among the allowed rows (None: all), -inf never counted."""
    if allowed is not None:
        masked = np.full_like(scores, -np.inf)
        masked[allowed] = scores[allowed]
        scores = masked
    k = min(k, int(np.isfinite(scores).sum()))
    if k <= 0:
        return np.zeros(0, dtype=np.int64)
    return best_first(scores, k)


def _cosines(snapshot: Snapshot, query: Query, rows: np.ndarray) -> np.ndarray:
    """Cosine of the question with each passage row, from the stored float32 vectors (never an index's codes)."""
    assert snapshot.dense_vectors is not None, "retrieve() never searches an empty index"
    chosen = np.take(snapshot.dense_vectors, np.asarray(rows, dtype=np.int64), axis=0)
    return (chosen @ query.vector).astype(np.float64)


def _hits(rows: np.ndarray, score: np.ndarray, dense: np.ndarray, lexical: np.ndarray,
          best_sentence: np.ndarray, best_coverage: np.ndarray) -> list[Hit]:
    return [
        Hit(int(r), float(s), float(d), float(x), float(bs), float(bc))
        for r, s, d, x, bs, bc in zip(rows, score, dense, lexical, best_sentence, best_coverage, strict=True)
    ]


def retrieve(snapshot: Snapshot, query: Query, k: int, mode: str = "hybrid", filters: Filters = Filters()) -> list[Hit]:
    """The best `k` passages for a question, best first."""
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}; choose one of {', '.join(MODES)}")
    allowed = allowed_rows(snapshot, filters)
    if snapshot.n_passages == 0 or k <= 0 or (allowed is not None and len(allowed) == 0):
        return []
    lexical = query.bm25()
    if mode == "lexical":
        rows = top_rows(lexical, k, allowed)
        rows = rows[lexical[rows] > 0]
        sentences = sentence_scores(snapshot, query, rows)
        return _hits(rows, lexical[rows], _cosines(snapshot, query, rows), lexical[rows],
                     sentences.best(sentences.cosine), sentences.best(sentences.coverage))
    depth = max(CANDIDATES, 2 * k)
    dense_scores, dense_rows = search_dense(snapshot.dense, query.vector, depth if mode == "hybrid" else k, allowed,
                                             scan=snapshot.dense_scan, vectors=snapshot.dense_vectors)
    if mode == "dense":
        sentences = sentence_scores(snapshot, query, dense_rows)
        return _hits(dense_rows, dense_scores, dense_scores, lexical[dense_rows],
                     sentences.best(sentences.cosine), sentences.best(sentences.coverage))
    lexical_rows = top_rows(lexical, depth, allowed)
    lexical_rows = lexical_rows[lexical[lexical_rows] > 0]
    rows = np.union1d(dense_rows, lexical_rows).astype(np.int64)
    dense = _cosines(snapshot, query, rows)
    sentences = sentence_scores(snapshot, query, rows)
    best_sentence, best_coverage = sentences.best(sentences.cosine), sentences.best(sentences.coverage)
    best_lexical = float(lexical[lexical_rows[0]]) if len(lexical_rows) else 0.0
    lexical_part = lexical[rows] / best_lexical if best_lexical > 0 else np.zeros(len(rows))
    score = (
        LEXICAL_WEIGHT * lexical_part
        + DENSE_WEIGHT * (PASSAGE_SHARE * dense + (1 - PASSAGE_SHARE) * best_sentence)
        + COVERAGE_WEIGHT * best_coverage
        + ANSWER_KIND_WEIGHT * sentences.best(np.where(sentences.fits, sentences.cosine, 0.0))
    )
    order = np.lexsort((rows, -score))[:k]
    return _hits(rows[order], score[order], dense[order], lexical[rows[order]], best_sentence[order],
                 best_coverage[order])

