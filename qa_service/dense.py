"""The FAISS side: exact inner-product search on small indexes, HNSW past a size threshold.

Vectors are normalised, so inner product is cosine similarity. Exact search is both exact and
fast at this corpus's size (~0.15 ms for 4k passages on one core). It grows with the index and
leaves the caches: ~2 ms at 20k and ~5 ms at 40k passages on the 2-core machine of
BENCHMARKS.md, so from `HNSW_THRESHOLD` passages on an HNSW graph keeps a query under a
millisecond at a measured recall cost (`make bench` rewrites BENCHMARKS.md with these figures).

Exact search is one BLAS matrix-vector product over the flat index's own vectors (a zero-copy
view) and a partial sort: for a single query that is about twice as fast as IndexFlat.search,
which feeds every score through a heap. When served, the encoder has just streamed its weights
through the caches, so the scan reads the vectors from memory: a float16 copy (`scan_copy`,
made when a snapshot loads) halves that, and the best k + SCAN_MARGIN rows it finds are scored
again exactly in float32. With the caches cold, as after an encode, on the editorials' vectors:
0.37 ms instead of 0.52 ms (BENCHMARKS.md), the same 40 rows and scores for 400 of 400
questions. Below SCAN_MIN_VECTORS the vectors stay in the caches and the float32 scan alone is
faster.

A filter (date range, chosen articles) that leaves few rows (one article, a few days) is
searched the same way over just those rows, whichever the index type: exact, and cheaper than a
filtered scan or graph walk. Larger filtered sets on an HNSW index use FAISS's own ID selector.
"""

from __future__ import annotations

from pathlib import Path

import faiss
import numpy as np

HNSW_THRESHOLD = 20_000
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 80
HNSW_EF_SEARCH = 256
EXACT_SUBSET_MAX = 2_000
SCAN_MARGIN = 16  # rows beyond k taken from the float16 scan: its scores are within ~1e-3 of the exact ones
SCAN_MIN_VECTORS = 3_000  # cold-cache break-even of the float16 first pass measured at ~2,000 vectors


def index_kind(n_vectors: int, threshold: int = HNSW_THRESHOLD) -> str:
    """"flat" (exact) below `threshold` vectors, "hnsw" at or above it."""
    return "hnsw" if n_vectors >= threshold else "flat"


def make_dense_index(vectors: np.ndarray, threshold: int = HNSW_THRESHOLD) -> faiss.Index:
    dim = vectors.shape[1]
    index: faiss.Index
    if index_kind(len(vectors), threshold) == "hnsw":
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


def stored_vectors(index: faiss.Index) -> np.ndarray | None:
    """A zero-copy (n, d) view of the vectors a flat or HNSW-flat index holds (None for others)."""
    storage = faiss.downcast_index(index.storage) if isinstance(index, faiss.IndexHNSW) else index
    if not isinstance(storage, faiss.IndexFlat) or storage.ntotal == 0:
        return None
    return faiss.rev_swig_ptr(storage.get_xb(), storage.ntotal * storage.d).reshape(storage.ntotal, storage.d)


def scan_copy(index: faiss.Index) -> faiss.Index | None:
    """A float16 copy of a flat index's vectors for the first pass of exact search (None for other or small indexes)."""
    vectors = stored_vectors(index) if isinstance(index, faiss.IndexFlat) else None
    if vectors is None or len(vectors) < SCAN_MIN_VECTORS:
        return None
    scan = faiss.IndexScalarQuantizer(index.d, faiss.ScalarQuantizer.QT_fp16, faiss.METRIC_INNER_PRODUCT)
    scan.add(vectors)
    return scan


def _empty():
    return np.zeros(0, dtype=np.float32), np.zeros(0, dtype=np.int64)


def best_first(scores: np.ndarray, k: int, ids: np.ndarray | None = None) -> np.ndarray:
    """Positions of the `k` highest scores, best first; ties by position (or by `ids` at those positions)."""
    top = np.argpartition(-scores, k - 1)[:k] if k < len(scores) else np.arange(len(scores))
    return top[np.lexsort((top if ids is None else ids[top], -scores[top]))]


def _exact(vectors: np.ndarray, query: np.ndarray, k: int, rows: np.ndarray | None = None):
    """Exact top-k of `vectors` (or of its `rows`), best first, ties by row."""
    scores = (vectors if rows is None else vectors[rows]) @ query
    top = best_first(scores, k, rows)
    ids = top if rows is None else rows[top]
    return scores[top].astype(np.float32, copy=False), ids.astype(np.int64, copy=False)


def search_dense(index: faiss.Index, query: np.ndarray, k: int, allowed: np.ndarray | None = None,
                 scan: faiss.Index | None = None):
    """Top-k (scores, rows) for one normalised query; `allowed` restricts to those rows.

    `scan` is the index's `scan_copy`, if it has one: exact results from less memory traffic.
    """
    k = min(k, index.ntotal)
    if k <= 0:
        return _empty()
    query = np.ascontiguousarray(query.reshape(-1), dtype=np.float32)
    if allowed is None:
        vectors = stored_vectors(index) if isinstance(index, faiss.IndexFlat) else None
        if vectors is not None and scan is not None:
            _, rows = scan.search(query.reshape(1, -1), min(k + SCAN_MARGIN, index.ntotal))
            return _exact(vectors, query, k, rows[0][rows[0] >= 0])
        if vectors is not None:
            return _exact(vectors, query, k)
        scores, rows = index.search(query.reshape(1, -1), k)
    else:
        if len(allowed) == 0:
            return _empty()
        allowed = np.asarray(allowed, dtype=np.int64)
        k = min(k, len(allowed))
        vectors = stored_vectors(index) if len(allowed) <= EXACT_SUBSET_MAX or isinstance(index, faiss.IndexFlat) \
            else None
        if vectors is not None:
            return _exact(vectors, query, k, allowed)
        selector = faiss.IDSelectorBatch(allowed)
        # faiss's stubs lack SearchParametersHNSW and the SWIG keyword constructors
        if isinstance(index, faiss.IndexHNSW):
            params = faiss.SearchParametersHNSW(sel=selector, efSearch=max(HNSW_EF_SEARCH, k))  # type: ignore
        else:
            params = faiss.SearchParameters(sel=selector)  # type: ignore[call-arg]
        scores, rows = index.search(query.reshape(1, -1), k, params=params)
    keep = rows[0] >= 0
    return scores[0][keep], rows[0][keep]
