"""Choosing the answer sentence among the top passages, and deciding "not found".

Sentence vectors are computed at index time, so choosing costs a small matrix product and
no model call. A sentence wins on its cosine to the question plus the IDF-weighted share of
the question's words it contains, with a small preference for higher-ranked passages.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .index import Snapshot
from .search import Hit
from .text import tokenize

PASSAGES_CONSIDERED = 3
LEXICAL_WEIGHT = 0.5
RANK_PENALTY = 0.03
FOUND_THRESHOLD = 0.45


@dataclass(frozen=True)
class Answer:
    passage: int  # 1-based rank of the passage the sentence comes from
    start: int
    end: int
    text: str
    score: float


def term_coverage(snapshot: Snapshot, question_terms: list[str], text: str) -> float:
    """IDF-weighted share of the question's distinct terms that occur in `text`."""
    if not question_terms:
        return 0.0
    weights = snapshot.lexical.idf(question_terms)
    present = set(tokenize(text))
    hit = np.array([t in present for t in question_terms])
    return float(weights[hit].sum() / weights.sum()) if weights.sum() > 0 else 0.0


def evidence(snapshot: Snapshot, question: str, hits: list[Hit]) -> float:
    """How well the best passage supports any answer: the basis for "found"."""
    if not hits:
        return 0.0
    terms = sorted(set(tokenize(question)))
    best = hits[0]
    return 0.5 * best.dense + 0.5 * term_coverage(snapshot, terms, snapshot.passage_text[best.row])


def choose_sentence(snapshot: Snapshot, question: str, query_vector: np.ndarray, hits: list[Hit]) -> Answer | None:
    terms = sorted(set(tokenize(question)))
    best: Answer | None = None
    for rank, hit in enumerate(hits[:PASSAGES_CONSIDERED], start=1):
        first, last = snapshot.sentences_of[hit.row]
        if first == last:
            continue
        cosines = snapshot.sentence_vectors[first:last] @ query_vector
        text = snapshot.passage_text[hit.row]
        for offset, cosine in enumerate(cosines):
            start, end = (int(x) for x in snapshot.sentence_span[first + offset])
            sentence = text[start:end]
            coverage = term_coverage(snapshot, terms, sentence)
            score = float(cosine) + LEXICAL_WEIGHT * coverage - RANK_PENALTY * (rank - 1)
            if best is None or score > best.score:
                best = Answer(rank, start, end, sentence, score)
    return best
