"""Choosing the answer sentence among the top passages, and deciding "not found".

Sentence vectors and sentence term postings are computed at index time, so both decisions cost
a few small vector operations and no model call.

* The answer sentence is the sentence of the first `PASSAGES_CONSIDERED` passages with the best
  cosine to the question plus IDF-weighted share of the question's terms (its title's words
  count), with a small preference for higher-ranked passages.
* "Found" needs evidence in the best passage: `2 * best sentence cosine + best sentence term
  coverage` at or above `FOUND_THRESHOLD`. Calibrated on real data (README.md, "Quality"):
  squad-dev's questions against squad-dev's articles must nearly all be answered, the same
  questions against the editorials (which do not answer them) must nearly all be declined.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .index import Snapshot
from .search import Hit, Query, sentence_scores

PASSAGES_CONSIDERED = 3
COVERAGE_WEIGHT = 1.0
RANK_PENALTY = 0.03
SENTENCE_WEIGHT = 2.0
FOUND_THRESHOLD = 1.32


@dataclass(frozen=True)
class Answer:
    passage: int  # 1-based rank of the passage the sentence comes from
    start: int
    end: int
    text: str
    score: float


def evidence(hits: list[Hit]) -> float:
    """How well the best passage supports an answer: the basis for "found" (0 without passages)."""
    if not hits:
        return 0.0
    return SENTENCE_WEIGHT * hits[0].sentence + hits[0].coverage


def is_found(hits: list[Hit]) -> bool:
    return bool(hits) and evidence(hits) >= FOUND_THRESHOLD


def choose_sentence(snapshot: Snapshot, query: Query, hits: list[Hit]) -> Answer | None:
    """The best-supported sentence among the top passages, or None when there are no passages."""
    considered = hits[:PASSAGES_CONSIDERED]
    if not considered:
        return None
    sentences = sentence_scores(snapshot, query, [h.row for h in considered])
    if len(sentences.rows) == 0:
        return None
    rank = np.repeat(np.arange(len(considered)), np.diff(sentences.offsets))  # 0-based passage rank of each
    score = sentences.cosine + COVERAGE_WEIGHT * sentences.coverage - RANK_PENALTY * rank
    best = int(score.argmax())
    row = considered[int(rank[best])].row
    start, end = (int(x) for x in snapshot.sentence_span[sentences.rows[best]])
    return Answer(int(rank[best]) + 1, start, end, snapshot.passage_text[row][start:end], float(score[best]))
