"""Answering a follow-up in the editorial under discussion: its sentences ranked, or "not in that editorial".

A reader who asks "Why now?" or "What are they accusing him of?" after an answer is still
reading that editorial: the answer is nearly always in another of its paragraphs, or another
sentence of the same one. Searching the whole corpus with so few words finds the loudest
paragraph anywhere; searching the one editorial needs only its few dozen sentences, ranked by a
scorer fitted on conversations (`fitted.py`) over plain features of each sentence
(`sentence_features.py`): its closeness to the question and to the answer shown before, the
question's words it holds, the kind of answer it gives, where it stands from that answer, and
whether it was shown already.

A follow-up leaves the editorial when it names someone or something that the editorial never
mentions ("Which US states bid for Tesla's factory?"); it is then a new question. One that the
editorial does not answer (its best sentence scores under the fitted threshold) is declined as
such, not answered from a random paragraph elsewhere. When the next best sentences score close to
the best, they are offered beside it (`alternatives`). README.md ("Follow-up questions") has the
measurements.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from ..index.generation.read import Snapshot
from ..index.passages import text_key
from .answer import SENTENCE_WEIGHT, Answer, article_has_names
from .fitted import Scorer
from .followup import Reading, Turn
from .search import Filters, Hit, Query, allowed_rows, name_terms
from .sentence_features import FEATURES, Shown, follow_up_features

MAX_ALTERNATIVES = 2  # next best sentences offered beside an unsure answer

@dataclass(frozen=True)
class InArticle:
    hits: list[Hit]
    answer: Answer | None  # None: the editorial does not answer it
    evidence: float  # of the answer sentence, on answer.evidence's scale, to weigh against an answer elsewhere
    alternatives: tuple[Answer, ...] = ()  # the next best sentences, when they score close to the answer


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


def answer_in_article(snapshot: Snapshot, query: Query, reading: Reading, rows: np.ndarray, k: int,
                      scorer: Scorer) -> InArticle:
    """The article's passages, best first (at most `k`), and the answer sentence, with the next best ones
    when they score close to it (see the module's docstring)."""
    candidates = follow_up_features(snapshot, query, shown_from(snapshot, reading), rows)
    if len(candidates.rows) == 0:
        return InArticle([], None, 0.0)
    score = scorer.scores(candidates.features)
    order = np.argsort(-score, kind="stable")
    passage_score = np.full(len(rows), -np.inf)
    where = np.searchsorted(rows, candidates.passages)  # rows are sorted: the passage of each sentence
    np.maximum.at(passage_score, where, score)
    ranked = np.lexsort((rows, -passage_score))[:k]
    cosine, coverage = candidates.features[:, 0], candidates.features[:, FEATURES.index("coverage")]
    hits = [Hit(int(rows[i]), float(passage_score[i]), 0.0, 0.0, float(cosine[where == i].max(initial=0.0)),
                float(coverage[where == i].max(initial=0.0))) for i in ranked]
    best = int(order[0])
    evidence = SENTENCE_WEIGHT * float(cosine[best]) + float(coverage[best])
    if not (query.tokens or query.context_tokens) or score[best] < scorer.decline_below:
        return InArticle(hits, None, evidence)
    rank_of = {int(rows[i]): rank for rank, i in enumerate(ranked, start=1)}

    def answer(i: int) -> Answer | None:
        passage = int(candidates.passages[i])
        if passage not in rank_of:
            return None
        start, end = (int(x) for x in snapshot.sentence_span[candidates.rows[i]])
        return Answer(rank_of[passage], start, end, snapshot.passage_text[passage][start:end], float(score[i]))

    close = [answer(int(i)) for i in order[1:1 + MAX_ALTERNATIVES * 2]
             if score[i] >= score[best] - scorer.alternatives_within]
    alternatives = tuple(a for a in close if a is not None)[:MAX_ALTERNATIVES]
    return InArticle(hits, answer(best), evidence, alternatives)


def shown_from(snapshot: Snapshot, reading: Reading) -> Shown:
    """What the conversation showed from the editorial under discussion: the previous answer's sentence (in its
    paragraph, when the text occurs more than once) and the keys of every answer given from it."""
    previous = reading.previous
    if previous is None or not previous.article_id or previous.article_id not in snapshot.article_number:
        return Shown()
    number = snapshot.article_number[previous.article_id]
    row = -1
    if previous.answer:
        found = snapshot.sentences_with_text(previous.answer)
        found = found[snapshot.sentence_article_number[found] == number]
        if len(found):
            paragraphs = snapshot.passage_paragraph[snapshot.sentence_passage[found]]
            row = int(found[np.argmax(paragraphs == previous.paragraph)])
    return Shown(row, previous.paragraph, frozenset(text_key(a) for a in reading.shown))


def shares_words(snapshot: Snapshot, query: Query, rows: np.ndarray) -> bool:
    """Whether the editorial of passages `rows` holds any of the question's own terms."""
    vocab = snapshot.lexical.vocab
    article = snapshot.passage_article_number[rows[0]]
    return any((snapshot.sentence_article_number[snapshot.sentence_terms.sentences_with(vocab[t])] == article).any()
               for t in set(query.tokens) if t in vocab)


def with_articles(snapshot: Snapshot, history: tuple[Turn, ...]) -> tuple[Turn, ...]:
    """The history, each turn sent without its article but with an answer sentence that occurs in exactly one
    article read as naming that article and paragraph (a client that sends only question and answer)."""
    filled = []
    for turn in history:
        if turn.article_id is None and turn.answer.strip():
            found = snapshot.sentences_with_text(turn.answer)
            articles = np.unique(snapshot.sentence_article_number[found])
            if len(articles) == 1:
                passage = int(snapshot.sentence_passage[found[0]])
                turn = replace(turn, article_id=snapshot.passage_article[passage],
                               paragraph=int(snapshot.passage_paragraph[passage]))
        filled.append(turn)
    return tuple(filled)
