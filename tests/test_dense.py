"""FAISS: exact search below the size threshold, HNSW at or above it, filters on both."""

from __future__ import annotations

import faiss
import numpy as np
import pytest

from qa_service import dense
from qa_service.dense import (
    index_kind,
    make_dense_index,
    read_dense_index,
    scan_copy,
    search_dense,
    write_dense_index,
)

THRESHOLD = 200


def vectors(n: int, dim: int = 32, seed: int = 0) -> np.ndarray:
    rows = np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


@pytest.fixture(params=["flat", "hnsw"])
def built(request):
    n = THRESHOLD - 1 if request.param == "flat" else THRESHOLD
    data = vectors(n)
    return request.param, data, make_dense_index(data, threshold=THRESHOLD)


def test_flat_below_the_threshold_hnsw_at_and_above():
    assert isinstance(make_dense_index(vectors(THRESHOLD - 1), threshold=THRESHOLD), faiss.IndexFlatIP)
    assert isinstance(make_dense_index(vectors(THRESHOLD), threshold=THRESHOLD), faiss.IndexHNSWFlat)
    assert index_kind(THRESHOLD - 1, THRESHOLD) == "flat" and index_kind(THRESHOLD, THRESHOLD) == "hnsw"
    assert index_kind(4_355) == "flat"  # the editorials stay exact at the real threshold


def test_a_stored_vector_finds_itself_first(built):
    _, data, index = built
    scores, rows = search_dense(index, data[17], k=5)
    assert rows[0] == 17 and scores[0] == pytest.approx(1.0, abs=1e-5)
    assert list(scores) == sorted(scores, reverse=True)


def test_results_agree_with_brute_force(built):
    _, data, index = built
    query = vectors(1, seed=1)[0]
    scores, rows = search_dense(index, query, k=10)
    exact = np.argsort(-(data @ query))[:10]
    assert len(set(rows.tolist()) & set(exact.tolist())) >= 9


def test_exact_search_gives_what_faiss_itself_gives():
    data = vectors(THRESHOLD - 1)
    index = make_dense_index(data, threshold=THRESHOLD)
    assert isinstance(index, faiss.IndexFlat)
    for query in vectors(20, seed=2):
        scores, rows = search_dense(index, query, k=10)
        faiss_scores, faiss_rows = index.search(query.reshape(1, -1), 10)
        assert rows.tolist() == faiss_rows[0].tolist()
        np.testing.assert_allclose(scores, faiss_scores[0], atol=1e-6)


def test_the_float16_first_pass_gives_the_exact_results(monkeypatch):
    monkeypatch.setattr(dense, "SCAN_MIN_VECTORS", 0)
    data = vectors(THRESHOLD - 1, dim=384)
    index = make_dense_index(data, threshold=THRESHOLD)
    scan = scan_copy(index)
    for query in vectors(50, dim=384, seed=3):
        for k in (1, 10, 40, THRESHOLD):  # k + margin beyond the index is capped
            scores, rows = search_dense(index, query, k, scan=scan)
            exact_scores, exact_rows = search_dense(index, query, k)
            assert rows.tolist() == exact_rows.tolist()
            np.testing.assert_allclose(scores, exact_scores, rtol=0, atol=1e-6)  # scored again in float32


def test_only_a_flat_index_of_some_size_gets_a_float16_copy(monkeypatch):
    assert scan_copy(make_dense_index(vectors(dense.SCAN_MIN_VECTORS))).ntotal == dense.SCAN_MIN_VECTORS
    assert scan_copy(make_dense_index(vectors(dense.SCAN_MIN_VECTORS - 1))) is None  # stays in the caches
    monkeypatch.setattr(dense, "SCAN_MIN_VECTORS", 0)
    assert scan_copy(make_dense_index(vectors(THRESHOLD), threshold=THRESHOLD)) is None  # HNSW
    assert scan_copy(make_dense_index(np.zeros((0, 32), dtype=np.float32))) is None


@pytest.mark.parametrize("exact_subset_max", [dense.EXACT_SUBSET_MAX, 0])
def test_allowed_rows_restrict_the_results(built, monkeypatch, exact_subset_max):
    """Both the exact search over the allowed rows and FAISS's own ID selector."""
    monkeypatch.setattr(dense, "EXACT_SUBSET_MAX", exact_subset_max)
    _, data, index = built
    allowed = np.arange(0, len(data), 7, dtype=np.int64)
    query = data[3]  # not allowed itself
    scores, rows = search_dense(index, query, k=5, allowed=allowed)
    assert len(rows) == 5 and set(rows.tolist()) <= set(allowed.tolist())
    best = allowed[np.argsort(-(data[allowed] @ query))[:5]]
    assert rows[0] == best[0]
    np.testing.assert_allclose(scores, data[rows] @ query, atol=1e-5)


def test_allowed_rows_edge_cases(built):
    _, data, index = built
    assert len(search_dense(index, data[0], k=5, allowed=np.array([], dtype=np.int64))[1]) == 0
    scores, rows = search_dense(index, data[0], k=5, allowed=np.array([4, 9]))
    assert sorted(rows.tolist()) == [4, 9]
    assert len(search_dense(index, data[0], k=10_000)[1]) == len(data)


def test_written_index_reads_back_with_its_search_settings(built, tmp_path):
    kind, data, index = built
    write_dense_index(index, tmp_path / "dense.faiss")
    loaded = read_dense_index(tmp_path / "dense.faiss")
    assert loaded.ntotal == len(data)
    if kind == "hnsw":
        assert loaded.hnsw.efSearch == dense.HNSW_EF_SEARCH
    assert search_dense(loaded, data[42], k=1)[1][0] == 42


def test_empty_index_returns_nothing():
    index = make_dense_index(np.zeros((0, 32), dtype=np.float32))
    assert len(search_dense(index, vectors(1)[0], k=5)[1]) == 0
