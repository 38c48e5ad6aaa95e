"""The FAISS side: exact search on small indexes, HNSW in the middle, IVF-PQ with exact re-scoring at archive scale.

Vectors are normalised, so inner product is cosine similarity. Each kind is chosen for the sizes
where it is the cheapest way to stay within recall@10 ≥ 0.95 of exact search (`make bench` and
`python -m benchmarks.scale` write the figures behind the thresholds into BENCHMARKS.md):

* **flat** (below `HNSW_THRESHOLD`): exact, and fast while the vectors are few. Its cost grows with
  the index and leaves the caches.
* **hnsw** (from `HNSW_THRESHOLD`): a graph walk keeps a query under a millisecond, but it holds every
  float32 vector plus the graph in memory, and its recall at a fixed efSearch falls as the index grows.
* **ivfpq** (from `IVFPQ_THRESHOLD`): at hundreds of thousands to millions of passages memory decides
  (384 float32 are 1.5 KB a passage). An inverted file of product-quantised codes (`IVFPQ_M` bytes a
  passage) finds a deeper candidate list (`RESCORE_DEPTH`), and those candidates are scored again
  exactly against the stored float32 vectors, so the ranking and the scores are exact for whatever the
  codes found. The codes alone rank near-ties badly; re-scoring is what brings the recall back. The
  stored vectors are the generation's passage vectors, memory-mapped (`exact_vectors`): only the rows
  a query re-scores are read, and the page cache, not the process, holds them. Training the coarse
  quantiser and the codebooks uses a seeded sample, so a build is deterministic.

Exact search is one BLAS matrix-vector product over the flat index's own vectors (a zero-copy
view) and a partial sort: for a single query that is about twice as fast as IndexFlat.search,
which feeds every score through a heap. When served, the encoder has just streamed its weights
through the caches, so the scan reads the vectors from memory: a float16 copy (`scan_copy`,
made when a snapshot loads) halves that, and the best k + SCAN_MARGIN rows it finds are scored
again exactly in float32 (the same rows and scores). Below SCAN_MIN_VECTORS the vectors stay in
the caches and the float32 scan alone is faster.

A filter (date range, chosen articles) that leaves few rows (one article, a few days) is
searched the same way over just those rows, whichever the index type: exact, and cheaper than a
filtered scan or graph walk. Larger filtered sets use FAISS's own ID selector; on IVF-PQ the
number of lists probed grows as the filter narrows, so about as many allowed candidates are found.
"""

from __future__ import annotations

import math
from pathlib import Path

import faiss
import numpy as np

HNSW_THRESHOLD = 20_000
# HNSW holds recall@10 ≥ 0.95 on the benchmark's clustered vectors up to 200k and IVF-PQ from 100k, but on
# near-duplicates of real passages asked real questions HNSW kept more of it at 100k: IVF-PQ takes over
# only where HNSW's memory grows large and its recall falls (BENCHMARKS.md, "Search at archive scale").
IVFPQ_THRESHOLD = 200_000
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 80
HNSW_EF_SEARCH = 256
IVFPQ_M = 48  # bytes of code a vector (8 dimensions per sub-quantiser at 384)
IVFPQ_BITS = 8
IVFPQ_NPROBE = 16
IVFPQ_TRAIN_MAX = 131_072  # the seeded sample the coarse quantiser and the codebooks are trained on
IVFPQ_TRAIN_ITERATIONS = 10
IVFPQ_SEED = 15
RESCORE_DEPTH = 400  # candidates taken from the codes and scored again exactly (a few hundred µs from the page cache)
EXACT_SUBSET_MAX = 2_000
SCAN_MARGIN = 16  # rows beyond k taken from the float16 scan: its scores are within ~1e-3 of the exact ones
SCAN_MIN_VECTORS = 3_000  # cold-cache break-even of the float16 first pass measured at ~2,000 vectors


def index_kind(n_vectors: int, threshold: int = HNSW_THRESHOLD, ivfpq_threshold: int = IVFPQ_THRESHOLD) -> str:
    """"flat" (exact) below `threshold` vectors, "hnsw" from it, "ivfpq" from `ivfpq_threshold`."""
    if n_vectors >= ivfpq_threshold:
        return "ivfpq"
    return "hnsw" if n_vectors >= threshold else "flat"


def ivf_lists(n_vectors: int) -> int:
    """Inverted lists for an IVF-PQ index of `n_vectors`: the power of two nearest sqrt(n), at least 16.

    Fewer lists than the textbook 4·sqrt(n): training and adding grow with the number of lists, which
    a two-core build machine feels at millions of vectors; the recall is tuned with IVFPQ_NPROBE and
    RESCORE_DEPTH instead (BENCHMARKS.md, "Search at archive scale").
    """
    return max(16, 2 ** round(math.log2(max(n_vectors, 1)) / 2))


def _ivfpq(vectors: np.ndarray) -> faiss.IndexIVFPQ:
    """An IVF-PQ index trained on a seeded sample of `vectors` (which the caller then adds)."""
    n, dim = vectors.shape
    # (faiss's Python wrapper keeps the quantiser alive with the index; a read index owns its own)
    index = faiss.IndexIVFPQ(faiss.IndexFlatIP(dim), dim, ivf_lists(n), IVFPQ_M, IVFPQ_BITS,
                             faiss.METRIC_INNER_PRODUCT)
    for clustering in (index.cp, index.pq.cp):
        clustering.niter = IVFPQ_TRAIN_ITERATIONS
        clustering.seed = IVFPQ_SEED
    sample = np.random.default_rng(IVFPQ_SEED).choice(n, size=min(n, IVFPQ_TRAIN_MAX), replace=False)
    index.train(np.ascontiguousarray(vectors[np.sort(sample)], dtype=np.float32))
    index.nprobe = IVFPQ_NPROBE
    return index


def make_dense_index(vectors: np.ndarray, threshold: int = HNSW_THRESHOLD,
                     ivfpq_threshold: int = IVFPQ_THRESHOLD) -> faiss.Index:
    dim = vectors.shape[1]
    index: faiss.Index
    kind = index_kind(len(vectors), threshold, ivfpq_threshold)
    if kind == "ivfpq":
        index = _ivfpq(vectors)
    elif kind == "hnsw":
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
    elif isinstance(index, faiss.IndexIVF):
        index.nprobe = IVFPQ_NPROBE
    return index


def stored_vectors(index: faiss.Index) -> np.ndarray | None:
    """A zero-copy (n, d) view of the vectors a flat or HNSW-flat index holds (None for others)."""
    storage = faiss.downcast_index(index.storage) if isinstance(index, faiss.IndexHNSW) else index
    if not isinstance(storage, faiss.IndexFlat) or storage.ntotal == 0:
        return None
    return faiss.rev_swig_ptr(storage.get_xb(), storage.ntotal * storage.d).reshape(storage.ntotal, storage.d)


def exact_vectors(index: faiss.Index, vectors_path: Path) -> np.ndarray | None:
    """The float32 vectors exact scores are computed from: the index's own (flat, HNSW), or else the
    passage vectors stored beside it (`vectors_path`), memory-mapped; None for an empty index.

    Only an index that keeps no vectors (IVF-PQ) opens the file, so small indexes load as before.
    """
    own = stored_vectors(index)
    if own is not None or index.ntotal == 0:
        return own
    vectors = np.load(vectors_path, mmap_mode="r")
    if vectors.shape != (index.ntotal, index.d) or vectors.dtype != np.float32:
        raise ValueError(f"{vectors_path.name} holds {vectors.shape} {vectors.dtype} vectors; the index "
                         f"{index.ntotal} of dimension {index.d}")
    return vectors


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


def _rescored(index: faiss.IndexIVF, vectors: np.ndarray, query: np.ndarray, k: int,
              allowed: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """IVF-PQ: the best RESCORE_DEPTH rows by their codes, scored again exactly; the top k of those.

    A filter probes more lists the fewer rows it leaves (up to all of them), so the lists searched
    hold about as many allowed rows as an unfiltered search sees.
    """
    depth = min(max(k, RESCORE_DEPTH), index.ntotal if allowed is None else len(allowed))
    if allowed is None:
        _, found = index.search(query.reshape(1, -1), depth)
    else:
        nprobe = min(index.nlist, math.ceil(index.nprobe * index.ntotal / len(allowed)))
        params = faiss.SearchParametersIVF(sel=faiss.IDSelectorBatch(allowed), nprobe=nprobe)  # type: ignore
        _, found = index.search(query.reshape(1, -1), depth, params=params)
    rows = np.sort(found[0][found[0] >= 0])  # in file order: memory-mapped rows are read front to back
    return _exact(vectors, query, min(k, len(rows)), rows)


def search_dense(index: faiss.Index, query: np.ndarray, k: int, allowed: np.ndarray | None = None,
                 scan: faiss.Index | None = None, vectors: np.ndarray | None = None):
    """Top-k (scores, rows) for one normalised query; `allowed` restricts to those rows.

    `scan` is the index's `scan_copy`, if it has one: exact results from less memory traffic.
    `vectors` are its `exact_vectors`, which an IVF-PQ index needs to score its candidates again.
    """
    k = min(k, index.ntotal)
    if k <= 0:
        return _empty()
    query = np.ascontiguousarray(query.reshape(-1), dtype=np.float32)
    if isinstance(index, faiss.IndexIVF):
        if vectors is None:
            raise ValueError("an IVF-PQ index needs its stored vectors (exact_vectors) to score candidates again")
        if allowed is not None:
            allowed = np.asarray(allowed, dtype=np.int64)
            if len(allowed) <= EXACT_SUBSET_MAX:
                return _exact(vectors, query, min(k, len(allowed)), allowed) if len(allowed) else _empty()
        return _rescored(index, vectors, query, k, allowed)
    own = stored_vectors(index)
    if allowed is None:
        if own is not None and scan is not None:
            _, rows = scan.search(query.reshape(1, -1), min(k + SCAN_MARGIN, index.ntotal))
            return _exact(own, query, k, rows[0][rows[0] >= 0])
        if own is not None and isinstance(index, faiss.IndexFlat):
            return _exact(own, query, k)
        scores, rows = index.search(query.reshape(1, -1), k)
    else:
        if len(allowed) == 0:
            return _empty()
        allowed = np.asarray(allowed, dtype=np.int64)
        k = min(k, len(allowed))
        if own is not None and (len(allowed) <= EXACT_SUBSET_MAX or isinstance(index, faiss.IndexFlat)):
            return _exact(own, query, k, allowed)
        selector = faiss.IDSelectorBatch(allowed)
        # faiss's stubs lack SearchParametersHNSW and the SWIG keyword constructors
        if isinstance(index, faiss.IndexHNSW):
            params = faiss.SearchParametersHNSW(sel=selector, efSearch=max(HNSW_EF_SEARCH, k))  # type: ignore
        else:
            params = faiss.SearchParameters(sel=selector)  # type: ignore[call-arg]
        scores, rows = index.search(query.reshape(1, -1), k, params=params)
    keep = rows[0] >= 0
    return scores[0][keep], rows[0][keep]
