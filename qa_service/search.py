"""Retrieval: dense (FAISS), lexical (BM25) and their fusion, with date and article filters."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .dense import search_dense
from .index import Snapshot

MODES = ("hybrid", "dense", "lexical")
RRF_K = 60
CANDIDATES = 100


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
    score: float
    dense: float
    lexical: float


def allowed_rows(snapshot: Snapshot, filters: Filters) -> np.ndarray | None:
    """Passage rows that pass the filters (None: no filter). Undated articles fail a date filter."""
    if not filters:
        return None
    wanted = set(filters.articles) if filters.articles is not None else None
    rows = []
    for row, (article_id, day) in enumerate(zip(snapshot.passage_article, snapshot.passage_date, strict=False)):
        if wanted is not None and article_id not in wanted:
            continue
        if (filters.date_from or filters.date_to) and day is None:
            continue
        if filters.date_from and day < filters.date_from:
            continue
        if filters.date_to and day > filters.date_to:
            continue
        rows.append(row)
    return np.array(rows, dtype=np.int64)


def _top(scores: np.ndarray, k: int, allowed: np.ndarray | None) -> np.ndarray:
    if allowed is not None:
        masked = np.full_like(scores, -np.inf)
        masked[allowed] = scores[allowed]
        scores = masked
    k = min(k, int(np.isfinite(scores).sum()))
    if k <= 0:
        return np.zeros(0, dtype=np.int64)
    top = np.argpartition(-scores, k - 1)[:k]
    return top[np.argsort(-scores[top], kind="stable")]


def search(
    snapshot: Snapshot,
    question: str,
    query_vector: np.ndarray,
    k: int,
    mode: str = "hybrid",
    filters: Filters = Filters(),
) -> list[Hit]:
    """The best `k` passages for a question, best first."""
    allowed = allowed_rows(snapshot, filters)
    if snapshot.n_passages == 0 or (allowed is not None and len(allowed) == 0):
        return []
    depth = max(k, CANDIDATES)
    lexical = snapshot.lexical.scores(question)
    dense_scores, dense_rows = search_dense(snapshot.dense, query_vector, depth, allowed)
    dense_of = dict(zip(dense_rows.tolist(), dense_scores.tolist(), strict=False))
    if mode == "dense":
        return [Hit(r, s, s, float(lexical[r])) for r, s in list(dense_of.items())[:k]]
    lexical_rows = _top(lexical, depth, allowed)
    lexical_rows = lexical_rows[lexical[lexical_rows] > 0]
    if mode == "lexical":
        return [Hit(int(r), float(lexical[r]), _dense_score(snapshot, query_vector, r, dense_of), float(lexical[r]))
                for r in lexical_rows[:k]]
    fused: dict[int, float] = {}
    for ranking in (list(dense_of), lexical_rows.tolist()):
        for rank, row in enumerate(ranking):
            fused[row] = fused.get(row, 0.0) + 1.0 / (RRF_K + rank + 1)
    best = sorted(fused, key=fused.get, reverse=True)[:k]
    return [Hit(r, fused[r], _dense_score(snapshot, query_vector, r, dense_of), float(lexical[r])) for r in best]


def _dense_score(snapshot: Snapshot, query_vector: np.ndarray, row: int, known: dict[int, float]) -> float:
    if row in known:
        return known[row]
    return float(snapshot.dense.reconstruct(int(row)) @ query_vector)
