"""The FAISS side: exact inner-product search on small indexes, HNSW past a size threshold.

Vectors are normalised, so inner product is cosine similarity. Exact search is both exact and
fastest at this corpus's size; past `HNSW_THRESHOLD` passages an HNSW graph keeps queries fast
at a measured recall cost (see BENCHMARKS.md).
"""

from __future__ import annotations

from pathlib import Path

import faiss
import numpy as np

HNSW_THRESHOLD = 200_000
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 80
HNSW_EF_SEARCH = 128


def make_dense_index(vectors: np.ndarray, threshold: int = HNSW_THRESHOLD) -> faiss.Index:
    dim = vectors.shape[1]
    if len(vectors) >= threshold:
        index = faiss.IndexHNSWFlat(dim, HNSW_M, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
        index.hnsw.efSearch = HNSW_EF_SEARCH
    else:
        index = faiss.IndexFlatIP(dim)
    if len(vectors):
        index.add(np.ascontiguousarray(vectors, dtype=np.float32))
    return index


def write_dense_index(index: faiss.Index, path: Path) -> None:
    faiss.write_index(index, str(path))


def read_dense_index(path: Path) -> faiss.Index:
    index = faiss.read_index(str(path))
    if isinstance(index, faiss.IndexHNSW):
        index.hnsw.efSearch = HNSW_EF_SEARCH
    return index


def search_dense(index: faiss.Index, query: np.ndarray, k: int, allowed: np.ndarray | None = None):
    """Top-k (scores, rows) for one normalised query; `allowed` restricts to those rows."""
    k = min(k, index.ntotal)
    if k <= 0:
        return np.zeros(0, dtype=np.float32), np.zeros(0, dtype=np.int64)
    params = None
    if allowed is not None:
        if len(allowed) == 0:
            return np.zeros(0, dtype=np.float32), np.zeros(0, dtype=np.int64)
        selector = faiss.IDSelectorBatch(np.ascontiguousarray(allowed, dtype=np.int64))
        params = faiss.SearchParametersHNSW(sel=selector) if isinstance(index, faiss.IndexHNSW) \
            else faiss.SearchParameters(sel=selector)
        k = min(k, len(allowed))
    scores, rows = index.search(np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32), k, params=params)
    keep = rows[0] >= 0
    return scores[0][keep], rows[0][keep]
