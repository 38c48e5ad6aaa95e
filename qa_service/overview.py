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
* The key sentence is the editorial's sentence that is close to the topic (cosine and terms),
  argumentative (the OPINION clue: "should", "must", "wrong" …), central to the editorial (close
  to the mean of its sentence vectors), late rather than early (an editorial argues towards its
  claim: the last paragraph gains, the first loses), and neither a question nor a fragment.

README.md ("Quality", "An overview of the editorials on a topic") has the measurements behind
each term and weight.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .clues import OPINION, QUESTION
from .dense import search_dense
from .generation.read import Snapshot
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

KEY_TOPIC_WEIGHT = 1.5  # cosine of topic and sentence
KEY_COVERAGE_WEIGHT = 0.5
KEY_CENTRAL_WEIGHT = 0.7  # cosine of the sentence and its editorial's mean sentence vector
KEY_OPINION_WEIGHT = 0.75
KEY_QUESTION_PENALTY = 0.85
KEY_PLACE_WEIGHT = 0.25  # times the sentence's place in the editorial (0 first, 1 last)
KEY_PLACE2_WEIGHT = 0.65  # times its square
KEY_LAST_PARAGRAPH_WEIGHT = 0.75
KEY_FIRST_PARAGRAPH_PENALTY = 0.25
KEY_SHORT_PENALTY = 0.5
SHORT_TERMS = 6

@dataclass(frozen=True)
class Editorial:
    article_id: str
    score: float
    sentence_text: str
    sentence_paragraph: int
    paragraphs: tuple[int, ...]


@dataclass(frozen=True)
class Overview:
    editorials: list[Editorial]  # ordered by date, undated ones last by score
    total: int  # how many editorials discuss the topic


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
class _Scores:
    """The candidate passages' sentences and matches, and their editorials' scores (see the module's docstring)."""

    sentences: SentenceScores
    articles: np.ndarray  # article numbers of the candidate editorials
    group: np.ndarray  # per passage: its editorial's index in `articles`
    matches: np.ndarray  # per passage: does it match nearly as well as its editorial's best
    score: np.ndarray  # per editorial


def _score(snapshot: Snapshot, query: Query, rows: np.ndarray, lexical: np.ndarray) -> _Scores:
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
    matches = passage >= MATCH_RATIO * best[group]
    share = np.bincount(group, weights=matches, minlength=n) / np.bincount(group, minlength=n)
    # Every sentence's coverage counts its title's terms, so an editorial's least-covering sentence
    # shows what its title alone covers.
    sentence_group = np.repeat(group, np.diff(sentences.offsets))
    title = -_group_max(-sentences.coverage, sentence_group, n)
    return _Scores(sentences, articles, group, matches, best + SHARE_WEIGHT * share + TITLE_WEIGHT * title)


def overview(snapshot: Snapshot, query: Query, limit: int, filters: Filters | None = None) -> Overview:
    """The editorials that discuss the query's topic, at most `limit`, with `total` how many there are."""
    allowed = allowed_rows(snapshot, filters or Filters())
    if snapshot.n_passages == 0 or limit <= 0 or (allowed is not None and len(allowed) == 0):
        return Overview([], 0)
    lexical = query.bm25()
    rows = _candidate_rows(snapshot, query, lexical, allowed)
    if len(rows) == 0:
        return Overview([], 0)
    scores = _score(snapshot, query, rows, lexical)
    sentences = scores.sentences
    if len(sentences.rows) == 0 or float((2 * sentences.cosine + sentences.coverage).max()) < FOUND_EVIDENCE:
        return Overview([], 0)
    articles, score = scores.articles, scores.score
    top = float(score.max())
    discussing = np.flatnonzero(score >= DISCUSS_RATIO * top) if top > 0 else np.zeros(0, dtype=np.int64)
    discussing = discussing[np.lexsort((articles[discussing], -score[discussing]))]
    chosen = [_editorial(snapshot, rows, scores.matches, scores.group, scores.sentences, int(a), float(score[a]))
              for a in discussing[:limit]]
    return Overview(_by_date(snapshot, chosen), len(discussing))


def _editorial(snapshot: Snapshot, rows: np.ndarray, matches: np.ndarray, group: np.ndarray,
               sentences: SentenceScores, number: int, score: float) -> Editorial:
    """One editorial's entry: its topic paragraphs and the sentence that states its position."""
    mine = np.flatnonzero(group == number)
    topical = mine[matches[mine]]
    paragraphs = {int(snapshot.passage_paragraph[rows[i]]) for i in topical}
    entries = np.concatenate([np.arange(sentences.offsets[i], sentences.offsets[i + 1]) for i in mine])
    sentence_rows = sentences.rows[entries]
    vectors = np.take(snapshot.sentence_vectors, sentence_rows, axis=0).astype(np.float32)
    centre = vectors.mean(axis=0)
    centre /= max(float(np.linalg.norm(centre)), 1e-9)
    clues = snapshot.sentence_clues[sentence_rows]
    place = np.arange(len(entries)) / max(len(entries) - 1, 1)  # 0 at the first sentence, 1 at the last
    in_paragraph = snapshot.passage_paragraph[snapshot.sentence_passage[sentence_rows]]
    key = (
        KEY_TOPIC_WEIGHT * sentences.cosine[entries]
        + KEY_COVERAGE_WEIGHT * sentences.coverage[entries]
        + KEY_CENTRAL_WEIGHT * (vectors @ centre)
        + KEY_OPINION_WEIGHT * ((clues & OPINION) > 0)
        - KEY_QUESTION_PENALTY * ((clues & QUESTION) > 0)
        + KEY_PLACE_WEIGHT * place + KEY_PLACE2_WEIGHT * place ** 2
        + KEY_LAST_PARAGRAPH_WEIGHT * (in_paragraph == in_paragraph.max())
        - KEY_FIRST_PARAGRAPH_PENALTY * (in_paragraph == 1)
        - KEY_SHORT_PENALTY * (snapshot.sentence_n_terms[sentence_rows] < SHORT_TERMS)
    )
    best = int(key.argmax())
    row = int(sentence_rows[best])
    passage_row = int(snapshot.sentence_passage[row])
    start, end = (int(x) for x in snapshot.sentence_span[row])
    article_id = snapshot.passage_article[passage_row]
    paragraph = int(snapshot.passage_paragraph[passage_row])
    # The key sentence's paragraph states the editorial's position on the topic: it is one that discusses it.
    return Editorial(article_id, score, snapshot.passage_text[passage_row][start:end], paragraph,
                     tuple(sorted({*paragraphs, paragraph})))


def _by_date(snapshot: Snapshot, editorials: list[Editorial]) -> list[Editorial]:
    """Dated editorials oldest first, then the undated ones best first."""
    dated = sorted((e for e in editorials if snapshot.articles[e.article_id].date),
                   key=lambda e: (snapshot.articles[e.article_id].date, e.article_id))
    undated = [e for e in editorials if not snapshot.articles[e.article_id].date]
    return dated + undated
