"""FAISS: exact search below the first size threshold, HNSW from it, IVF-PQ with exact re-scoring from the second;
filters on each."""

from __future__ import annotations

import json
import shutil
from contextlib import contextmanager

import faiss
import numpy as np
import pytest

from qa_service.index import dense
from qa_service.index.dense import (
    exact_vectors,
    index_kind,
    ivf_lists,
    make_dense_index,
    read_dense_index,
    scan_copy,
    search_dense,
    stored_vectors,
    write_dense_index,
)

THRESHOLD = 200
IVFPQ_THRESHOLD = 2_000  # IVF-PQ from here in these tests: its codebooks need a few thousand vectors


def vectors(n: int, dim: int = 32, seed: int = 0) -> np.ndarray:
    rows = np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


@pytest.fixture(params=["flat", "hnsw"])
def built(request):
    n = THRESHOLD - 1 if request.param == "flat" else THRESHOLD
    data = vectors(n)
    return request.param, data, make_dense_index(data, threshold=THRESHOLD)


def clustered(n: int, seed: int = 0, dim: int = 384) -> tuple[np.ndarray, np.ndarray]:
    """`n` normalised vectors around n / 50 centres (cosine ~0.75 to their centre), and 100 questions near them.

    Each question's ten nearest vectors are near-ties within one cluster: the codes alone rank them badly.
    """
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((n // 50, dim)).astype(np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)

    def around(count: int, spread: float) -> np.ndarray:
        rows = centres[rng.integers(0, len(centres), count)] + rng.standard_normal((count, dim)) * spread / np.sqrt(dim)
        return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)

    return around(n, 0.9), around(100, 1.2)


@contextmanager
def one_thread():
    """FAISS on one thread: on a busy machine its threads' spin-waits make a small IVF-PQ build several times slower."""
    threads = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(threads)


@pytest.fixture(scope="module")
def ivfpq():
    data, questions = clustered(3 * IVFPQ_THRESHOLD // 2)
    with one_thread():
        return data, questions, make_dense_index(data, threshold=THRESHOLD, ivfpq_threshold=IVFPQ_THRESHOLD)


def exact_top(data: np.ndarray, query: np.ndarray, k: int, rows: np.ndarray | None = None) -> np.ndarray:
    rows = np.arange(len(data)) if rows is None else rows
    return rows[np.argsort(-(data[rows] @ query), kind="stable")[:k]]


def recall_at_10(found: list[np.ndarray], data: np.ndarray, questions: np.ndarray) -> float:
    return float(np.mean([len(set(f[:10].tolist()) & set(exact_top(data, q, 10).tolist())) / 10
                          for f, q in zip(found, questions, strict=True)]))


def test_each_kind_is_chosen_at_its_sizes(ivfpq):
    data, _, index = ivfpq
    assert isinstance(make_dense_index(data[:THRESHOLD - 1], THRESHOLD, IVFPQ_THRESHOLD), faiss.IndexFlatIP)
    assert isinstance(make_dense_index(data[:THRESHOLD], THRESHOLD, IVFPQ_THRESHOLD), faiss.IndexHNSWFlat)
    assert isinstance(make_dense_index(data[:IVFPQ_THRESHOLD - 1], THRESHOLD, IVFPQ_THRESHOLD), faiss.IndexHNSWFlat)
    assert isinstance(index, faiss.IndexIVFPQ) and index.ntotal >= IVFPQ_THRESHOLD  # built the same way
    assert [index_kind(n, THRESHOLD, IVFPQ_THRESHOLD) for n in (THRESHOLD - 1, THRESHOLD, IVFPQ_THRESHOLD - 1,
                                                                 IVFPQ_THRESHOLD)] == ["flat", "hnsw", "hnsw", "ivfpq"]
    assert index_kind(4_355) == "flat"  # the editorials stay exact at the real thresholds
    assert index_kind(dense.HNSW_THRESHOLD) == "hnsw" and index_kind(dense.IVFPQ_THRESHOLD - 1) == "hnsw"
    assert index_kind(dense.IVFPQ_THRESHOLD) == "ivfpq" and index_kind(10**7) == "ivfpq"
    assert [ivf_lists(n) for n in (3_000, 10**6, 10**7)] == [64, 1024, 4096]


def test_ivfpq_rescored_finds_the_exact_top_10_with_exact_scores(ivfpq):
    data, questions, index = ivfpq
    found = []
    for query in questions:
        scores, rows = search_dense(index, query, 10, vectors=data)
        np.testing.assert_allclose(scores, data[rows] @ query, rtol=0, atol=1e-6)  # float32, not the codes'
        assert list(scores) == sorted(scores, reverse=True)
        found.append(rows)
    assert recall_at_10(found, data, questions) >= 0.95
    # The data is hard enough for that to take the re-scoring: the codes alone rank the near-ties badly.
    assert recall_at_10(list(index.search(questions, 10)[1]), data, questions) < 0.8


def test_ivfpq_gives_at_least_the_40_hybrid_search_asks_for(ivfpq):
    data, questions, index = ivfpq
    for query in questions[:10]:
        scores, rows = search_dense(index, query, 40, vectors=data)
        assert len(set(rows.tolist())) == 40
        assert len(set(rows.tolist()) & set(exact_top(data, query, 40).tolist())) >= 36


def test_ivfpq_cannot_search_without_its_vectors(ivfpq):
    data, questions, index = ivfpq
    with pytest.raises(ValueError, match="stored vectors"):
        search_dense(index, questions[0], 10)


@pytest.mark.parametrize("exact_subset_max", [dense.EXACT_SUBSET_MAX, 0])
@pytest.mark.parametrize("every", [7, 150])
def test_ivfpq_filters_give_the_exact_top_of_the_allowed_rows(ivfpq, monkeypatch, exact_subset_max, every):
    """Exact over a small subset, or FAISS's ID selector with more lists probed as the filter narrows."""
    monkeypatch.setattr(dense, "EXACT_SUBSET_MAX", exact_subset_max)
    data, questions, index = ivfpq
    allowed = np.arange(3, len(data), every, dtype=np.int64)
    found = []
    for query in questions[:20]:
        scores, rows = search_dense(index, query, 10, allowed=allowed, vectors=data)
        assert len(rows) == 10 and set(rows.tolist()) <= set(allowed.tolist())
        np.testing.assert_allclose(scores, data[rows] @ query, rtol=0, atol=1e-6)
        found.append(len(set(rows.tolist()) & set(exact_top(data, query, 10, allowed).tolist())) / 10)
    assert np.mean(found) >= 0.95
    assert len(search_dense(index, questions[0], 10, allowed=np.array([], dtype=np.int64), vectors=data)[1]) == 0


def test_ivfpq_written_reads_back_with_its_search_settings(ivfpq, tmp_path):
    data, questions, index = ivfpq
    write_dense_index(index, tmp_path / "dense.faiss")
    loaded = read_dense_index(tmp_path / "dense.faiss")
    assert isinstance(loaded, faiss.IndexIVFPQ) and loaded.ntotal == len(data)
    assert loaded.nprobe == dense.IVFPQ_NPROBE and loaded.pq.M == dense.IVFPQ_M
    for query in questions[:10]:
        before, after = search_dense(index, query, 10, vectors=data), search_dense(loaded, query, 10, vectors=data)
        assert before[1].tolist() == after[1].tolist()


def test_ivfpq_builds_are_deterministic(ivfpq):
    data, _, index = ivfpq
    with one_thread():
        again = make_dense_index(data, threshold=THRESHOLD, ivfpq_threshold=IVFPQ_THRESHOLD)
    assert np.array_equal(faiss.serialize_index(again), faiss.serialize_index(index))


def test_exact_vectors_memory_maps_the_stored_vectors_only_for_ivfpq(ivfpq, tmp_path):
    data, _, index = ivfpq
    np.save(tmp_path / "passages.npy", data)
    loaded = exact_vectors(index, tmp_path / "passages.npy")
    assert isinstance(loaded, np.memmap) and np.array_equal(loaded, data)
    flat = make_dense_index(data[:THRESHOLD - 1], threshold=THRESHOLD)
    own = exact_vectors(flat, tmp_path / "absent.npy")  # the index's own vectors: no file is opened
    assert own is not None and np.array_equal(own, data[:THRESHOLD - 1])
    assert exact_vectors(make_dense_index(np.zeros((0, 384), dtype=np.float32)), tmp_path / "absent.npy") is None
    np.save(tmp_path / "short.npy", data[:-1])
    with pytest.raises(ValueError, match="short.npy"):
        exact_vectors(index, tmp_path / "short.npy")


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


def test_a_served_ivfpq_generation_ranks_as_the_exact_one(snapshot, embedder, tmp_path):
    """read.py memory-maps the stored vectors for an IVF-PQ index and search.py re-scores from them.

    The generation's index is swapped for an IVF-PQ index of the same vectors with as few lists as
    are probed, so every row is a candidate: the results must be the exact ones, row for row.
    """
    from qa_service.index.generation.integrity import file_checksums
    from qa_service.index.generation.layout import DENSE, MANIFEST, read_manifest
    from qa_service.index.generation.read import Snapshot
    from qa_service.reading.search import Filters, Query, retrieve

    generation = tmp_path / snapshot.path.name
    shutil.copytree(snapshot.path, generation)
    stored = stored_vectors(snapshot.dense)
    assert stored is not None
    index = faiss.IndexIVFPQ(faiss.IndexFlatIP(stored.shape[1]), stored.shape[1], dense.IVFPQ_NPROBE, dense.IVFPQ_M, 8,
                             faiss.METRIC_INNER_PRODUCT)
    with one_thread():
        index.train(clustered(3_000)[0])
    index.add(stored)
    write_dense_index(index, generation / DENSE)
    manifest = read_manifest(generation)
    manifest["files"] = file_checksums(generation)
    (generation / MANIFEST).write_text(json.dumps(manifest))
    served = Snapshot(generation, embedder.name)
    assert isinstance(served.dense, faiss.IndexIVFPQ) and isinstance(served.dense_vectors, np.memmap)
    first_article = sorted(snapshot.articles)[0]
    for text in ("What did Pompeo warn about?", "skippers of Port Aird and Councillor Duncan Farrow", "climate"):
        vector = embedder.encode([text])[0]
        for mode in ("hybrid", "dense"):
            for filters in (Filters(), Filters(articles=(first_article,))):
                exact = retrieve(snapshot, Query(snapshot, text, vector), 10, mode, filters)
                rescored = retrieve(served, Query(served, text, vector), 10, mode, filters)
                assert [h.row for h in rescored] == [h.row for h in exact]
                np.testing.assert_allclose([h.dense for h in rescored], [h.dense for h in exact], rtol=0, atol=1e-6)
