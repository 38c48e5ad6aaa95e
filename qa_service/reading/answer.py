"""Choosing the answer sentence among the top passages, and deciding "not found".

Sentence vectors, sentence term postings and sentence clues are computed at index time, so both
decisions cost a few small vector operations and no model call.

* The answer sentence is the sentence of the first `PASSAGES_CONSIDERED` passages with the best
  cosine to the question plus IDF-weighted share of the question's terms (its title's words
  count), with a preference for higher-ranked passages, and three corrections for what the
  question's words miss. A sentence that holds the kind of answer asked for (a number for "how
  many", a reason for "why": `clues.py`) gains; so does one that adds words of its own, since the
  topic sentence that merely restates the question ("Pompeo's remarks were tough.") matches it as
  well as the answer does; a sentence that is itself a question loses. README.md ("Quality") has
  the measurements behind each weight.
* "Found" needs evidence in the best passage: `2 * best sentence cosine + best sentence term
  coverage` at or above `FOUND_THRESHOLD`. Calibrated on real data (README.md, "Quality"):
  squad-dev's questions against squad-dev's articles must nearly all be answered, the same
  questions against the editorials (which do not answer them) must nearly all be declined.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..index.clues import QUESTION
from ..index.generation.read import Snapshot
from .search import Hit, Query, sentence_scores

PASSAGES_CONSIDERED = 2
TERM_SHARE_WEIGHT = 0.75  # of the IDF-weighted share of the question's terms, beside the cosine
RANK_PENALTY = 0.05  # per passage rank
ANSWER_KIND_BONUS = 0.2  # the sentence holds the kind of answer the question asks for
NEW_WORDS_WEIGHT = 0.1  # times log(1 + the sentence's terms that the question does not have)
QUESTION_PENALTY = 0.2  # the sentence asks rather than answers
SENTENCE_WEIGHT = 2.0
FOUND_THRESHOLD = 1.23
NAMES_PENALTY = 0.3  # taken off the evidence when the best passage's article lacks a name the question gives


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


def names_agree(snapshot: Snapshot, query: Query, row: int) -> bool:
    """Whether the article of passage `row` mentions every name the question gives.

    "Who won the 2015 UK general election?" is not answered from an editorial on Turkey's 2015
    elections, however close its sentences are: an answer needs the question's people, places,
    organisations and years in its own article.
    """
    return article_has_names(snapshot, query.names, int(snapshot.passage_article_number[row]))


def article_has_names(snapshot: Snapshot, names: list[list[int]], article: int) -> bool:
    """Whether the article numbered `article` mentions every one of `names` (term ids; see names_agree)."""
    for name in names:
        for term in name:
            if term < 0:
                continue  # unknown to every article: a misspelling as often as not; coverage counts it
            sentences = snapshot.sentence_terms.sentences_with(term)
            if not (snapshot.sentence_article_number[sentences] == article).any():
                return False
    return True


def is_found(snapshot: Snapshot, query: Query, hits: list[Hit]) -> bool:
    """Whether the best passage answers the question (see the module's docstring).

    A question without a single content word ("?", "...") asks nothing that a passage could answer.
    """
    if not hits or not (query.tokens or query.context_tokens):
        return False
    penalty = 0.0 if names_agree(snapshot, query, hits[0].row) else NAMES_PENALTY
    return evidence(hits) - penalty >= FOUND_THRESHOLD


def choose_sentence(snapshot: Snapshot, query: Query, hits: list[Hit]) -> Answer | None:
    """The best-supported sentence among the top passages, or None when there are no passages."""
    considered = hits[:PASSAGES_CONSIDERED]
    if not considered:
        return None
    sentences = sentence_scores(snapshot, query, np.array([h.row for h in considered], dtype=np.int64))
    if len(sentences.rows) == 0:
        return None
    rank = np.repeat(np.arange(len(considered)), np.diff(sentences.offsets))  # 0-based passage rank of each
    new_words = np.maximum(snapshot.sentence_n_terms[sentences.rows] - query.matched_terms()[sentences.rows], 0)
    asks = (snapshot.sentence_clues[sentences.rows] & QUESTION) > 0
    score = (
        sentences.cosine
        + TERM_SHARE_WEIGHT * sentences.coverage
        - RANK_PENALTY * rank
        + ANSWER_KIND_BONUS * sentences.fits
        + NEW_WORDS_WEIGHT * np.log1p(new_words)
        - QUESTION_PENALTY * asks
    )
    best = int(score.argmax())
    row = considered[int(rank[best])].row
    start, end = (int(x) for x in snapshot.sentence_span[sentences.rows[best]])
    return Answer(int(rank[best]) + 1, start, end, snapshot.passage_text[row][start:end], float(score[best]))
