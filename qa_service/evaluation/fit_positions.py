"""`qa-service fit --topics`: the position scorer of overviews, fitted on topics, never set by hand.

For each relevant editorial of each topic (../shared/data/editorial-topics/ layout, with its
`positions.jsonl`) that the overview scores, every sentence is a candidate, with the features the
overview computes (position_features.py) for the topic as /api/overview searches it; the sentences that state the
editorial's position (the README's hit rule against any of them) are the right ones. The same pairwise
ranker as the follow-ups' (fitting.fit_ranker) orders them, its regularisation chosen by leaving one
topic out, and the gap under which a second sentence is shown is the one that best tells a wrong first
sentence from a right one. `left_out_scorers` gives, for each topic, the scorer fitted on the others:
`qa-service eval --topics … --leave-one-topic-out` reports the dev topics with those.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..index.generation.read import Snapshot
from ..reading.fitted import PositionScorer
from ..reading.overview import position_candidates, scored
from ..reading.position_features import POSITION_FEATURES
from ..reading.search import Query
from ..reading.topic_frame import topic_of
from .fit_follow_ups import REGULARISATION, Group, fit_ranker, left_out_top_one, unsure_gap
from .topics import Topic, hits_key


def position_groups(snapshot: Snapshot, topics: Sequence[Topic], encode) -> list[Group]:
    """One group per relevant editorial of each topic with position sentences: its sentences, which state it."""
    searched = [topic_of(t.question) for t in topics]
    found = []
    for topic, text, vector in zip(topics, searched, encode(searched), strict=True):
        scores = scored(snapshot, Query(snapshot, text, vector, acronyms=True))  # as service.overview asks it
        if scores is None:
            continue
        for article_id, positions in topic.positions.items():
            at = np.flatnonzero(scores.articles == snapshot.article_number.get(article_id, -1))
            if len(at) == 0:
                continue  # not among the editorials the overview scores: it cannot be shown, right or wrong
            rows, features = position_candidates(snapshot, scores, int(at[0]))
            right = np.array([any(hits_key(_text(snapshot, int(r)), p) for p in positions) for r in rows],
                             dtype=np.bool_)
            if right.any():
                found.append(Group(topic.id, features, right, True))
    return found


def _text(snapshot: Snapshot, row: int) -> str:
    start, end = snapshot.sentence_span[row]
    return snapshot.passage_text[int(snapshot.sentence_passage[row])][start:end]


@dataclass(frozen=True)
class PositionFit:
    scorer: PositionScorer
    regularisation: float
    left_out_top_one: float  # the share of editorials whose first sentence states a position, leaving one topic out
    editorials: int


def _regularisation(data: Sequence[Group]) -> tuple[float, float]:
    by_c = {c: left_out_top_one(data, c) for c in REGULARISATION}
    c = max(REGULARISATION, key=lambda value: (by_c[value], -value))
    return c, by_c[c]


def fit_positions(data: Sequence[Group], fitted_on: Sequence[str]) -> PositionFit:
    if not data:
        raise ValueError("no relevant editorial with position sentences to fit on")
    c, left_out = _regularisation(data)
    weights = fit_ranker(data, c)
    return PositionFit(PositionScorer(POSITION_FEATURES, weights, unsure_gap(data, weights), tuple(fitted_on)),
                       c, left_out, len(data))


def left_out_scorers(data: Sequence[Group], fitted_on: Sequence[str]) -> dict[str, PositionScorer]:
    """For each topic, the scorer fitted on the other topics' editorials (with the regularisation they choose)."""
    scorers = {}
    for topic in sorted({g.unit for g in data}):
        rest = [g for g in data if g.unit != topic]
        c, _ = _regularisation(rest)
        weights = fit_ranker(rest, c)
        scorers[topic] = PositionScorer(POSITION_FEATURES, weights, unsure_gap(rest, weights),
                                        (*fitted_on, f"without {topic}"))
    return scorers
