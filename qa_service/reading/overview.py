"""The editorials that discuss a topic, each with the sentence that states its position.

"What has the paper said about X?" asks for editorials, not passages: every editorial that
*discusses* X (not the ones that mention it in passing), in date order, each with the sentence
where it takes its stand. All of it comes from the snapshot's precomputed arrays (passage and
sentence vectors, BM25, sentence term postings and clues) and one encoding of the topic.

* Passages are scored as hybrid search scores them (search.py), but over every passage of the
  candidate editorials, so that an editorial is judged on all of its paragraphs.
* An editorial's score adds to its best passage how much of it is about the topic (the share of
  its passages that match nearly as well as its best) and whether its title names it. An
  editorial "discusses" the topic when its score is within `DISCUSS_RATIO` of the best one's: an
  editorial that mentions the topic in a paragraph about something else scores far lower than
  one built around it, whatever the topic.
* The sentence shown is the one a scorer fitted on the dev topics (fitted.py, position_features.py)
  ranks first: about the topic, argued in the writer's own voice, where the editorial argues, and
  no byline, greeting, question or quotation. When the next one scores close to it, it is shown too.

README.md ("Quality", "An overview of the editorials on a topic") has the measurements behind
each term and weight.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..index.dense import search_dense
from ..index.generation.read import Snapshot
from .fitted import PositionScorer
from .position_features import position_features
from .search import Filters, Query, SentenceScores, allowed_rows, sentence_scores, top_rows

CANDIDATES = 200  # passages taken from each of the dense and BM25 rankings; their editorials are scored whole
LEXICAL_WEIGHT = 1.0
DENSE_WEIGHT = 4.0
COVERAGE_WEIGHT = 2.0
MATCH_RATIO = 0.8  # a passage "matches" when its score is this share of its editorial's best passage's
SHARE_WEIGHT = 2.0  # of the share of an editorial's passages that match
TITLE_WEIGHT = 1.0  # of the IDF-weighted share of the topic's terms in the title
# Nothing discusses the topic when no sentence reaches this (2 * cosine + term share, as answer.py's
# evidence): the dev topics' best sentences reach 1.66 to 2.44, topics the editorials never treat
# (sourdough, bitcoin, the 2022 World Cup, Brexit's 2016 vote) 0.46 to 1.37.
FOUND_EVIDENCE = 1.45
DISCUSS_RATIO = 0.55  # an editorial discusses the topic when its score is this share of the best one's


@dataclass(frozen=True)
class Shown:
    """A sentence shown for an editorial: its text and its paragraph."""

    text: str
    paragraph: int


@dataclass(frozen=True)
class Editorial:
    article_id: str
    score: float
    sentence: Shown  # where it states its position on the topic
    second: Shown | None  # the next best, when the scorer is unsure of the first
    paragraphs: tuple[int, ...]


@dataclass(frozen=True)
class Overview:
    editorials: list[Editorial]  # ordered as `order` says
    total: int  # how many editorials discuss the topic
    order: str = "relevance"  # one of ORDERS: how the editorials are ordered, for the reader to be told


# How an overview's editorials are ordered, by what their dates allow: all dated, oldest first; none dated, most
# relevant first; some dated, those oldest first and then the others most relevant first.
ORDERS = ("date", "relevance", "date, then relevance")


def _group_max(values: np.ndarray, groups: np.ndarray, n: int) -> np.ndarray:
    out = np.full(n, -np.inf)
    np.maximum.at(out, groups, values)
    return out


def _candidate_rows(snapshot: Snapshot, query: Query, lexical: np.ndarray, allowed: np.ndarray | None) -> np.ndarray:
    """Every passage (allowed by the filters) of the editorials that hold a top dense or BM25 passage."""
    _, dense_rows = search_dense(snapshot.dense, query.vector, CANDIDATES, allowed,
                                 scan=snapshot.dense_scan, vectors=snapshot.dense_vectors)
    lexical_rows = top_rows(lexical, CANDIDATES, allowed)
    lexical_rows = lexical_rows[lexical[lexical_rows] > 0]
    articles = np.unique(snapshot.passage_article_number[np.concatenate([dense_rows, lexical_rows])])
    mask = np.isin(snapshot.passage_article_number, articles)
    rows = np.flatnonzero(mask)
    return rows if allowed is None else np.intersect1d(rows, allowed)


@dataclass(frozen=True)
class Scores:
    """The candidate passages, their sentences and matches, and their editorials' scores (see the module's
    docstring)."""

    rows: np.ndarray  # the candidate passages: every passage of the editorials a top passage belongs to
    sentences: SentenceScores
    articles: np.ndarray  # article numbers of the candidate editorials
    group: np.ndarray  # per passage: its editorial's index in `articles`
    passage: np.ndarray  # per passage: its score, as a share of its editorial's best passage's
    score: np.ndarray  # per editorial

    @property
    def matches(self) -> np.ndarray:
        """Per passage: does it match nearly as well as its editorial's best (it discusses the topic)."""
        return self.passage >= MATCH_RATIO


def scored(snapshot: Snapshot, query: Query, filters: Filters | None = None) -> Scores | None:
    """The candidate editorials of the query's topic, scored; None when no passage is a candidate."""
    allowed = allowed_rows(snapshot, filters or Filters())
    if snapshot.n_passages == 0 or (allowed is not None and len(allowed) == 0):
        return None
    lexical = query.bm25()
    rows = _candidate_rows(snapshot, query, lexical, allowed)
    return _score(snapshot, query, rows, lexical) if len(rows) else None


def position_candidates(snapshot: Snapshot, scores: Scores, editorial: int) -> tuple[np.ndarray, np.ndarray]:
    """The sentences of the candidate editorial `editorial` (an index into scores.articles), in reading order, and
    their position features (position_features.py)."""
    mine = np.flatnonzero(scores.group == editorial)
    sentences = scores.sentences
    entries = np.concatenate([np.arange(sentences.offsets[i], sentences.offsets[i + 1]) for i in mine])
    rows = sentences.rows[entries]
    return rows, position_features(snapshot, rows, sentences.cosine[entries], sentences.coverage[entries])


def _score(snapshot: Snapshot, query: Query, rows: np.ndarray, lexical: np.ndarray) -> Scores:
    assert snapshot.dense_vectors is not None
    dense = np.take(snapshot.dense_vectors, rows, axis=0) @ query.vector
    sentences = sentence_scores(snapshot, query, rows)
    best_lexical = float(lexical[rows].max())
    passage = (
        LEXICAL_WEIGHT * (lexical[rows] / best_lexical if best_lexical > 0 else 0.0)
        + DENSE_WEIGHT * (0.5 * dense + 0.5 * sentences.best(sentences.cosine))
        + COVERAGE_WEIGHT * sentences.best(sentences.coverage)
    )
    articles, group = np.unique(snapshot.passage_article_number[rows], return_inverse=True)
    n = len(articles)
    best = _group_max(passage, group, n)
    ratio = passage / np.where(best[group] > 0, best[group], 1.0)
    share = np.bincount(group, weights=ratio >= MATCH_RATIO, minlength=n) / np.bincount(group, minlength=n)
    # Every sentence's coverage counts its title's terms, so an editorial's least-covering sentence
    # shows what its title alone covers.
    sentence_group = np.repeat(group, np.diff(sentences.offsets))
    title = -_group_max(-sentences.coverage, sentence_group, n)
    return Scores(rows, sentences, articles, group, ratio, best + SHARE_WEIGHT * share + TITLE_WEIGHT * title)


def overview(snapshot: Snapshot, query: Query, limit: int, scorer: PositionScorer,
             filters: Filters | None = None) -> Overview:
    """The editorials that discuss the query's topic, at most `limit`, with `total` how many there are."""
    scores = scored(snapshot, query, filters) if limit > 0 else None
    if scores is None:
        return Overview([], 0)
    sentences = scores.sentences
    if len(sentences.rows) == 0 or float((2 * sentences.cosine + sentences.coverage).max()) < FOUND_EVIDENCE:
        return Overview([], 0)
    articles, score = scores.articles, scores.score
    top = float(score.max())
    discussing = np.flatnonzero(score >= DISCUSS_RATIO * top) if top > 0 else np.zeros(0, dtype=np.int64)
    discussing = discussing[np.lexsort((articles[discussing], -score[discussing]))]
    chosen = [_editorial(snapshot, scores, int(a), scorer) for a in discussing[:limit]]
    ordered, order = _by_date(snapshot, chosen)
    return Overview(ordered, len(discussing), order)


def _editorial(snapshot: Snapshot, scores: Scores, number: int, scorer: PositionScorer) -> Editorial:
    """One editorial's entry: its topic paragraphs and the sentence that states its position (and a second when
    the scorer is unsure: it scores within `second_within` of the first)."""
    mine = np.flatnonzero(scores.group == number)
    topical = mine[scores.matches[mine]]
    paragraphs = {int(snapshot.passage_paragraph[scores.rows[i]]) for i in topical}
    sentence_rows, features = position_candidates(snapshot, scores, number)
    key = scorer.scores(features)
    order = np.argsort(-key, kind="stable")
    first = _shown(snapshot, int(sentence_rows[order[0]]))
    second = next((_shown(snapshot, int(sentence_rows[i])) for i in order[1:]
                   if key[i] >= key[order[0]] - scorer.second_within
                   and _shown(snapshot, int(sentence_rows[i])).text != first.text), None)
    article_id = snapshot.passage_article[int(snapshot.sentence_passage[sentence_rows[order[0]]])]
    # The key sentence's paragraph states the editorial's position on the topic: it is one that discusses it.
    return Editorial(article_id, float(scores.score[number]), first, second,
                     tuple(sorted({*paragraphs, first.paragraph})))


def _shown(snapshot: Snapshot, row: int) -> Shown:
    passage = int(snapshot.sentence_passage[row])
    start, end = (int(x) for x in snapshot.sentence_span[row])
    return Shown(snapshot.passage_text[passage][start:end], int(snapshot.passage_paragraph[passage]))


def _by_date(snapshot: Snapshot, editorials: list[Editorial]) -> tuple[list[Editorial], str]:
    """Dated editorials oldest first, then the undated ones best first; and which of ORDERS that is."""
    dated = sorted((e for e in editorials if snapshot.articles[e.article_id].date),
                   key=lambda e: (snapshot.articles[e.article_id].date, e.article_id))
    undated = [e for e in editorials if not snapshot.articles[e.article_id].date]
    order = ORDERS[1] if not dated else ORDERS[0] if not undated else ORDERS[2]
    return dated + undated, order
