"""Answering a follow-up in the editorial under discussion: its sentences ranked, or "not in that editorial".

A reader who asks "Why now?" or "What are they accusing him of?" after an answer is still
reading that editorial: the answer is nearly always in another of its paragraphs, or another
sentence of the same one. Searching the whole corpus with so few words finds the loudest
paragraph anywhere; searching the one editorial needs only its few dozen sentences, ranked on
what the follow-up still says:

* its words and vector against each sentence, as for any question (`answer.py`), with the kind
  of answer it asks for (a reason for "why", a number for "how many": `clues.py`);
* the order in which the editorial is read: a follow-up mostly asks about what comes next, so
  paragraphs at or just after the previous answer's gain a little, earlier ones less;
* what was already shown: the sentences given as answers in this conversation lose, so "And
  why?" does not repeat the answer before it.

A follow-up leaves the editorial when it names someone or something that the editorial never
mentions ("Which US states bid for Tesla's factory?"); it is then a new question. One that the
editorial does not answer is declined as such, not answered from a random paragraph elsewhere.
README.md ("Follow-up questions") has the measurements behind each weight.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from .answer import NEW_WORDS_WEIGHT, QUESTION_PENALTY, SENTENCE_WEIGHT, Answer, article_has_names
from .clues import QUESTION
from .followup import Reading
from .generation.read import Snapshot
from .search import Filters, Hit, Query, allowed_rows, name_terms, sentence_scores
from .text import tokenize

TERM_SHARE_WEIGHT = 0.25  # lower than for a fresh question: the editorial's own topic words are in every sentence
PASSAGE_WEIGHT = 3.0  # of the cosine of the sentence's passage: a follow-up's few words need their surroundings
KIND_BONUS = 0.1  # the sentence holds the kind of answer asked for
AHEAD_BONUS = 0.12  # the paragraph is the previous answer's or one of the next AHEAD_PARAGRAPHS
AHEAD_PARAGRAPHS = 3
BEHIND_PENALTY = 0.1  # the paragraph comes before the previous answer's
SHOWN_PENALTY = 0.25  # the sentence was already given as an answer in this conversation
NEAR_SHOWN_WEIGHT = 0.2  # of the cosine to the previous answer's sentence ("And in Italy?" asks alongside it)
FOUND_THRESHOLD = 1.1  # the best sentence's score below which the editorial is taken not to answer


# "Which clubs …?", "What interest rate …?": the thing asked about, named after which/what. Generic words of
# the kind of answer ("what reason", "which year") say nothing about the editorial's subject.
# The noun after which/what, or the two words before the verb that follows them ("what interest rate is").
ASKED_THING = re.compile(r"\b(?:which|what)\s+(\w[\w-]*)", re.IGNORECASE)
ASKED_PHRASE = re.compile(r"\b(?:which|what)\s+\w[\w-]*\s+(\w[\w-]*)\s+(?:is|are|was|were|do|does|did|has|have|had|"
                          r"will|would|can|could|should)\b", re.IGNORECASE)
GENERIC_THINGS = frozenset(tokenize("""kind kinds sort sorts type types way ways reason reasons year years date day days
    month time times number numbers amount percentage share proportion part point thing things one ones else
    happened happen exactly person people man woman men women leader official country countries city town place
    nation group company firm side sides issue problem word words name names role step steps"""))


@dataclass(frozen=True)
class InArticle:
    hits: list[Hit]
    answer: Answer | None  # None: the editorial does not answer it
    evidence: float  # of the answer sentence, on answer.evidence's scale, to weigh against an answer elsewhere


def editorial_rows(snapshot: Snapshot, question: str, reading: Reading, filters: Filters) -> np.ndarray | None:
    """The passage rows of the editorial under discussion, in reading order, or None to search everywhere.

    None when there is no earlier answer, when its editorial is gone or filtered out, or when the
    question names someone or something that the editorial never mentions (a change of subject).
    """
    article_id = reading.previous.article_id if reading.previous else None
    number = snapshot.article_number.get(article_id) if article_id else None
    if number is None:
        return None
    rows = np.flatnonzero(snapshot.passage_article_number == number)
    allowed = allowed_rows(snapshot, filters)
    if allowed is not None:
        rows = np.intersect1d(rows, allowed)
    if len(rows) == 0 or not article_has_names(snapshot, name_terms(snapshot, question), number):
        return None
    return rows


def answer_in_article(snapshot: Snapshot, query: Query, reading: Reading, rows: np.ndarray, k: int) -> InArticle:
    """The article's passages, best first (at most `k`), and the answer sentence (see the module's docstring)."""
    sentences = sentence_scores(snapshot, query, rows)
    if len(sentences.rows) == 0:
        return InArticle([], None, 0.0)
    owner = np.repeat(np.arange(len(rows)), np.diff(sentences.offsets))  # index into rows of each sentence
    assert snapshot.dense_vectors is not None, "an article with passages has their vectors"
    passage_cosine = np.take(snapshot.dense_vectors, rows, axis=0) @ query.vector
    new_words = np.maximum(snapshot.sentence_n_terms[sentences.rows] - query.matched_terms()[sentences.rows], 0)
    asks = (snapshot.sentence_clues[sentences.rows] & QUESTION) > 0
    texts = _texts(snapshot, sentences.rows, rows[owner])
    shown = np.array([t in {_spaced(a) for a in reading.shown} for t in texts], dtype=bool)
    previous = reading.previous.answer if reading.previous else ""
    last_shown = np.array([t == _spaced(previous) for t in texts], dtype=bool) if previous else shown[:0]
    score = (
        sentences.cosine
        + TERM_SHARE_WEIGHT * sentences.coverage
        + PASSAGE_WEIGHT * passage_cosine[owner]
        + KIND_BONUS * sentences.fits
        + NEW_WORDS_WEIGHT * np.log1p(new_words)
        - QUESTION_PENALTY * asks
        + _order_prior(snapshot.passage_paragraph[rows][owner], reading)
        - SHOWN_PENALTY * shown
        + NEAR_SHOWN_WEIGHT * _near(snapshot, sentences.rows, last_shown)
    )
    passage_score = sentences.best(score)
    best_cosine, best_coverage = sentences.best(sentences.cosine), sentences.best(sentences.coverage)
    order = np.lexsort((rows, -passage_score))[:k]
    hits = [Hit(int(rows[i]), float(passage_score[i]), float(passage_cosine[i]), 0.0, float(best_cosine[i]),
                float(best_coverage[i])) for i in order]
    best = int(score.argmax())
    if not _mentions_asked_thing(snapshot, query.text, int(snapshot.passage_article_number[rows[0]])):
        return InArticle(hits, None, 0.0)
    evidence = SENTENCE_WEIGHT * float(sentences.cosine[best]) + float(sentences.coverage[best])
    if score[best] < FOUND_THRESHOLD or not (query.tokens or query.context_tokens):
        return InArticle(hits, None, evidence)
    rank = int(np.flatnonzero(order == owner[best])[0]) + 1
    row = int(rows[owner[best]])
    start, end = (int(x) for x in snapshot.sentence_span[sentences.rows[best]])
    answer = Answer(rank, start, end, snapshot.passage_text[row][start:end], float(score[best]))
    return InArticle(hits, answer, evidence)


def asked_thing(question: str) -> str | None:
    """The lexical term of the thing a which/what question asks about ("clubs" -> "club"), or None."""
    match = ASKED_PHRASE.search(question) or ASKED_THING.search(question)
    terms = tokenize(match.group(1)) if match else []
    return terms[0] if terms and terms[0] not in GENERIC_THINGS else None


def _mentions_asked_thing(snapshot: Snapshot, question: str, article: int) -> bool:
    """False when the question asks about a thing ("Which clubs …?") that the editorial never mentions."""
    term = asked_thing(question)
    if term is None:
        return True
    term_id = snapshot.lexical.vocab.get(term, -1)
    if term_id < 0:
        return False
    sentences = snapshot.sentence_terms.sentences_with(term_id)
    return bool((snapshot.sentence_article_number[sentences] == article).any())


def _order_prior(paragraph: np.ndarray, reading: Reading) -> np.ndarray:
    previous = reading.previous.paragraph if reading.previous else None
    if previous is None:
        return np.zeros(len(paragraph))
    ahead = (paragraph >= previous) & (paragraph <= previous + AHEAD_PARAGRAPHS)
    return AHEAD_BONUS * ahead - BEHIND_PENALTY * (paragraph < previous)


def _spaced(text: str) -> str:
    return " ".join(text.split())


def _texts(snapshot: Snapshot, sentence_rows: np.ndarray, passage_rows: np.ndarray) -> list[str]:
    spans = snapshot.sentence_span[sentence_rows]
    return [_spaced(snapshot.passage_text[p][s:e]) for p, (s, e) in zip(passage_rows, spans, strict=True)]


def _near(snapshot: Snapshot, sentence_rows: np.ndarray, previous: np.ndarray) -> np.ndarray:
    """Each sentence's cosine to the previous answer's sentence (0 when that is not among them)."""
    if not previous.any():
        return np.zeros(len(sentence_rows))
    vector = snapshot.sentence_vectors[sentence_rows[np.flatnonzero(previous)[0]]]
    return np.take(snapshot.sentence_vectors, sentence_rows, axis=0) @ vector
