"""Search at archive scale: exact, HNSW and IVF-PQ + re-scoring at 10⁵–10⁶ vectors, and BM25 at 10⁶ passages.

    python -m benchmarks.scale --out /tmp/scale.md            (10⁵, 2·10⁵ and 10⁶ vectors; ~20 minutes)
    python -m benchmarks.scale --out /tmp/scale.md --quick    (small sizes: checks the script works)

The vectors are synthetic, in the shape real passage embeddings have: normalised 384-d vectors in
clusters (about 100 a cluster) around centres that are themselves grouped into 100 topics. Two
question sets: new vectors drawn like the data ("near": a passage-like query) and vectors drawn
farther from their centre ("far": like a real question, near-ties everywhere). Recall@10 is against
exact search; times are one query at a time on one thread, as a worker serves, asking for the 40
candidates hybrid search asks for. Scratch files go to a temporary folder and are removed.
"""

from __future__ import annotations

import argparse
import gc
import json
import resource
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import faiss
import numpy as np
import psutil
from threadpoolctl import threadpool_limits

from qa_service.index import dense, heap
from qa_service.index.dense import (
    HNSW_EF_CONSTRUCTION,
    HNSW_EF_SEARCH,
    HNSW_M,
    HNSW_THRESHOLD,
    IVFPQ_M,
    IVFPQ_NPROBE,
    IVFPQ_THRESHOLD,
    RESCORE_DEPTH,
    exact_vectors,
    index_kind,
    make_dense_index,
    read_dense_index,
    search_dense,
    write_dense_index,
)
from qa_service.index.lexical import build_lexical
from qa_service.reading.search import CANDIDATES

from .system import load_average, machine, pct, versions

DIM = 384
PER_CLUSTER = 100
TOPICS = 100
CENTRE_SPREAD = 1.0  # centres at cosine ~0.7 to their topic
SPREAD = 1.2  # vectors at cosine ~0.64 to their centre
FAR_SPREAD = 1.6  # "far" questions at cosine ~0.53 to their centre: ~0.43 to the nearest vector, ~0.38 to the 10th
EF_VALUES = (128, 256, 512)
NPROBE_VALUES = (1, 4, 16, 64)
DEPTH_VALUES = (10, 100, 200, 400)  # 10: the codes alone choose the ten (no re-scoring)
EXACT_QUERIES = 30  # the full scan is slow at 10⁶; its recall is 1 by definition
PASSAGE_WORDS = 60
VOCABULARY = 50_000
ZIPF = 1.07
PASSAGES_PER_TITLE = 10
TITLE_WORDS = 6


def log(message: str) -> None:
    print(f"[scale {time.strftime('%H:%M:%S')}] {message}", flush=True)


def _unit(rows: np.ndarray) -> np.ndarray:
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


class Clusters:
    """Seeded clustered vectors: topics, centres around them, vectors around the centres."""

    def __init__(self, n_centres: int, seed: int):
        self.rng = np.random.default_rng(seed)
        topics = _unit(self.rng.standard_normal((TOPICS, DIM), dtype=np.float32))
        noise = self.rng.standard_normal((n_centres, DIM), dtype=np.float32) * (CENTRE_SPREAD / np.sqrt(DIM))
        self.centres = _unit(topics[self.rng.integers(0, TOPICS, n_centres)] + noise)

    def draw(self, n: int, spread: float) -> np.ndarray:
        out = np.empty((n, DIM), dtype=np.float32)
        for start in range(0, n, 100_000):
            rows = min(100_000, n - start)
            noise = self.rng.standard_normal((rows, DIM), dtype=np.float32) * (spread / np.sqrt(DIM))
            out[start:start + rows] = _unit(self.centres[self.rng.integers(0, len(self.centres), rows)] + noise)
        return out


def exact_top(vectors: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    """The exact top-k rows of every query, by blocks of vectors (no second copy of the vectors)."""
    best_scores = np.full((len(queries), k), -np.inf, dtype=np.float32)
    best_rows = np.zeros((len(queries), k), dtype=np.int64)
    for start in range(0, len(vectors), 100_000):
        scores = queries @ vectors[start:start + 100_000].T
        top = np.argpartition(-scores, k - 1, axis=1)[:, :k]
        merged_scores = np.concatenate([best_scores, np.take_along_axis(scores, top, axis=1)], axis=1)
        merged_rows = np.concatenate([best_rows, top + start], axis=1)
        keep = np.argsort(-merged_scores, axis=1, kind="stable")[:, :k]
        best_scores = np.take_along_axis(merged_scores, keep, axis=1)
        best_rows = np.take_along_axis(merged_rows, keep, axis=1)
    return best_rows


def recall_at_10(found: list[np.ndarray], truth: np.ndarray) -> float:
    return float(np.mean([len(set(f[:10].tolist()) & set(t.tolist())) / 10 for f, t in zip(found, truth, strict=True)]))


def _rss_mib() -> float:
    """The process's resident MiB, freed memory handed back first (else a new index reuses it unseen)."""
    gc.collect()
    heap.release_free_memory()
    return psutil.Process().memory_info().rss / 2**20


def _timed(search, queries: np.ndarray, k: int) -> tuple[list[np.ndarray], list[float]]:
    """Rows found and ms per query, one query at a time on one thread."""
    found, times = [], []
    for query in queries:
        started = time.perf_counter()
        _, rows = search(query, k)
        times.append((time.perf_counter() - started) * 1000)
        found.append(rows)
    return found, times


def _row(label: str, times: list[float], recall: dict[str, float], **extra) -> dict:
    return {"label": label, "p50": pct(times, 50), "p95": pct(times, 95), "recall": recall, **extra}


def _measure(search, questions: dict[str, np.ndarray], truth: dict[str, np.ndarray]) -> tuple[list[float], dict]:
    """Times at k = CANDIDATES over every question; recall@10 per question set."""
    recall, times = {}, []
    for name, queries in questions.items():
        found = [search(q, 10)[1] for q in queries]
        recall[name] = recall_at_10(found, truth[name])
        times += _timed(search, queries, CANDIDATES)[1]
    return times, recall


def bench_size(n: int, work: Path, n_questions: int, seed: int) -> dict:
    """Exact, HNSW and IVF-PQ + re-scoring over `n` clustered vectors."""
    clusters = Clusters(max(1, n // PER_CLUSTER), seed)
    vectors = clusters.draw(n, SPREAD)
    questions = {"near": clusters.draw(n_questions, SPREAD), "far": clusters.draw(n_questions, FAR_SPREAD)}
    started = time.perf_counter()
    truth = {name: exact_top(vectors, queries, 10) for name, queries in questions.items()}
    log(f"{n:,}: vectors drawn, exact top-10 in {time.perf_counter() - started:.0f} s")
    stored = work / "passages.npy"
    np.save(stored, vectors)
    result: dict = {"n": n, "chosen": index_kind(n), "float32_mib": vectors.nbytes / 2**20, "rows": []}
    cores = faiss.omp_get_max_threads()

    flat = faiss.IndexFlatIP(DIM)
    flat.add(vectors)
    with threadpool_limits(1):
        faiss.omp_set_num_threads(1)
        exact = questions["far"][:EXACT_QUERIES]
        exact_times = _timed(lambda q, k, i=flat: search_dense(i, q, k), exact, CANDIDATES)[1]
        faiss.omp_set_num_threads(cores)
    result["rows"].append(_row("exact (flat)", exact_times, {"near": 1.0, "far": 1.0}, build_s=0.0,
                               file_mib=vectors.nbytes / 2**20, rss_mib=vectors.nbytes / 2**20))
    del flat
    gc.collect()

    for kind in ("hnsw", "ivfpq"):
        started = time.perf_counter()
        built = make_dense_index(vectors, threshold=0, ivfpq_threshold=0 if kind == "ivfpq" else n + 1)
        build_s = time.perf_counter() - started
        path = work / f"{kind}.faiss"
        write_dense_index(built, path)
        del built
        gc.collect()
        before = _rss_mib()
        index: Any = read_dense_index(path)  # an IndexHNSWFlat or IndexIVFPQ
        mapped = exact_vectors(index, stored)
        rss = _rss_mib() - before
        log(f"{n:,}: {kind} built in {build_s:.0f} s, {path.stat().st_size / 2**20:,.0f} MiB, resident {rss:,.0f} MiB")
        common = {"build_s": build_s, "file_mib": path.stat().st_size / 2**20, "rss_mib": rss}
        with threadpool_limits(1):
            faiss.omp_set_num_threads(1)
            if kind == "hnsw":
                for ef in EF_VALUES:
                    index.hnsw.efSearch = ef
                    times, recall = _measure(lambda q, k, i=index: search_dense(i, q, k), questions, truth)
                    result["rows"].append(_row(f"HNSW efSearch {ef}", times, recall, kind=kind, **common))
            else:
                for nprobe in NPROBE_VALUES:
                    index.nprobe = nprobe
                    for depth in DEPTH_VALUES:
                        dense.RESCORE_DEPTH = depth  # read by search_dense at each call
                        times, recall = _measure(lambda q, k, i=index, v=mapped: search_dense(i, q, k, vectors=v),
                                                 questions, truth)
                        result["rows"].append(_row(f"IVF-PQ nprobe {nprobe}, re-score {depth}", times, recall,
                                                   kind=kind, nprobe=nprobe, depth=depth, **common))
                dense.RESCORE_DEPTH = RESCORE_DEPTH
                result["rss_after_queries_mib"] = _rss_mib() - before
            faiss.omp_set_num_threads(cores)
        if kind == "ivfpq":
            result["ivf_lists"] = index.nlist
        del index, mapped
        path.unlink()
        gc.collect()
    stored.unlink()
    return result


def zipf_words(n: int, rng: np.random.Generator) -> np.ndarray:
    """`n` word ids from a Zipf distribution over VOCABULARY words (id 0 the most frequent)."""
    weights = 1.0 / np.arange(1, VOCABULARY + 1) ** ZIPF
    return np.searchsorted(np.cumsum(weights / weights.sum()), rng.random(n)).clip(0, VOCABULARY - 1)


def bench_bm25(n_passages: int, work: Path, n_questions: int, seed: int) -> dict:
    """The project's lexical layer (lexical.build_lexical, as a build calls it) over synthetic passages.

    Each passage is one sentence of PASSAGE_WORDS Zipf-distributed words; every PASSAGES_PER_TITLE
    passages share a title. Questions are 3 to 6 words from the same distribution.
    """
    rng = np.random.default_rng(seed)
    names = np.array([f"w{i}" for i in range(VOCABULARY)], dtype=object)
    words = names[zipf_words(n_passages * PASSAGE_WORDS, rng)].reshape(n_passages, PASSAGE_WORDS)
    passages = [" ".join(row) for row in words]
    n_titles = -(-n_passages // PASSAGES_PER_TITLE)
    titles = [" ".join(row) for row in names[zipf_words(n_titles * TITLE_WORDS, rng)].reshape(n_titles, TITLE_WORDS)]
    del words
    gc.collect()
    rows = np.arange(n_passages, dtype=np.int64)
    before = _rss_mib()
    started = time.perf_counter()
    lexical, sentence_terms = build_lexical(titles, rows // PASSAGES_PER_TITLE, passages, rows)
    build_s = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 - before  # KiB on Linux
    held = _rss_mib() - before
    folder = work / "lexical"
    lexical.save(folder)
    sentence_terms.save(work)
    file_mib = (sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
                + (work / sentence_terms.FILE).stat().st_size) / 2**20
    questions = [[str(names[w]) for w in zipf_words(int(rng.integers(3, 7)), rng)] for _ in range(n_questions)]
    times = []
    with threadpool_limits(1):
        for tokens in questions:
            started = time.perf_counter()
            dense.best_first(lexical.scores(tokens), CANDIDATES)
            times.append((time.perf_counter() - started) * 1000)
    log(f"BM25 {n_passages:,}: built in {build_s:.0f} s, {held:,.0f} MiB held, {file_mib:,.0f} MiB on disk, "
        f"p50 {pct(times, 50):.1f} ms")
    return {"n": n_passages, "build_s": build_s, "rss_mib": held, "peak_mib": peak, "file_mib": file_mib,
            "p50": pct(times, 50), "p95": pct(times, 95), "questions": n_questions,
            "vocabulary": len(lexical.vocab) - 1}


def run(sizes: list[int], bm25_passages: int, n_questions: int, work: Path) -> dict:
    info: dict = {"machine": machine(), "versions": versions(), "load_start": load_average(), "questions": n_questions}
    started = time.perf_counter()
    info["bm25"] = bench_bm25(bm25_passages, work, n_questions, seed=11)  # first: its peak memory is its own
    gc.collect()
    info["sizes"] = [bench_size(n, work, n_questions, seed=n) for n in sizes]
    info["load_end"] = load_average()
    info["minutes"] = (time.perf_counter() - started) / 60
    info["settings"] = {"hnsw_threshold": HNSW_THRESHOLD, "ivfpq_threshold": IVFPQ_THRESHOLD, "hnsw_m": HNSW_M,
                        "ef_construction": HNSW_EF_CONSTRUCTION, "ef_search": HNSW_EF_SEARCH, "pq_m": IVFPQ_M,
                        "nprobe": IVFPQ_NPROBE, "depth": RESCORE_DEPTH, "k": CANDIDATES}
    return info


def _f(value: float, digits: int = 1) -> str:
    return f"{value:,.{digits}f}"


def _settings(row: dict, s: dict) -> bool:
    """Whether the row measures the efSearch or the nprobe and depth dense.py serves its kind with."""
    if row.get("kind") == "hnsw":
        return row["label"] == f"HNSW efSearch {s['ef_search']}"
    return row.get("nprobe") == s["nprobe"] and row.get("depth") == s["depth"]


def render(info: dict) -> str:
    """Markdown for BENCHMARKS.md's "Scale" section, "Search at archive scale" subsection."""
    m, s, b = info["machine"], info["settings"], info["bm25"]
    lines = [
        "### Search at archive scale",
        "",
        f"`{info['command']}` on {m['date']}, in {info['minutes']:.1f} minutes"
        + (" (**quick run: small sizes, not the real figures**)" if info.get("quick") else "")
        + f". {m['cpu']}, {m['cores']} cores ({m['simd']}), {m['ram_gib']} GiB RAM, shared with other jobs: load "
        f"average {info['load_start']} at the start, {info['load_end']} at the end. faiss-cpu "
        f"{info['versions'].get('faiss-cpu')}, numpy {info['versions'].get('numpy')}, bm25s "
        f"{info['versions'].get('bm25s')}.",
        "",
        f"Synthetic normalised 384-d vectors in clusters of about {PER_CLUSTER} (cosine ≈ 0.64 to their centre), "
        f"the centres grouped into {TOPICS} topics. {info['questions']} *near* questions are drawn like the data "
        "(new points, not in the index) and as many *far* ones at cosine ≈ 0.53 to their centre (≈ 0.43 to the "
        "nearest vector, ≈ 0.38 to the 10th: near-ties, as for real questions). Recall@10 is against exact search; "
        f"times are one query at a time on one thread asking for the {s['k']} candidates hybrid search asks for "
        f"(exact search: {EXACT_QUERIES} questions). Build on all cores. *Resident* is the growth of the process's "
        "RSS when the written index is read back (for IVF-PQ with the stored float32 vectors memory-mapped: only "
        "the pages the re-scoring reads count, and the page cache holds them); the float32 vectors alone are "
        f"n × 1.5 KiB. HNSW: M {s['hnsw_m']}, efConstruction {s['ef_construction']}. IVF-PQ: PQ{s['pq_m']}×8 "
        "bits, lists = the power of two nearest √n, trained on a seeded sample of at most "
        f"{dense.IVFPQ_TRAIN_MAX:,} vectors; *re-score d*: the best d candidates by their codes are scored again "
        "exactly from the float32 vectors (d = 10: the codes alone choose the ten).",
        "",
    ]
    for size in info["sizes"]:
        lines += [
            f"**{size['n']:,} vectors** ({_f(size['float32_mib'], 0)} MiB of float32; chosen automatically: "
            f"{index_kind(size['n'], s['hnsw_threshold'], s['ivfpq_threshold'])}"
            + (f"; {size['ivf_lists']} lists" if "ivf_lists" in size else "") + ")",
            "",
            "| index | build s | file MiB | resident MiB | p50 ms | p95 ms | recall@10 near | recall@10 far |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        ]
        for row in size["rows"]:
            label = f"**{row['label']}** (the service's settings)" if row.get("kind") and _settings(row, s) \
                else row["label"]
            lines.append(f"| {label} | {_f(row['build_s'])} | {_f(row['file_mib'], 0)} | {_f(row['rss_mib'], 0)} | "
                         f"{_f(row['p50'], 2)} | {_f(row['p95'], 2)} | {_f(row['recall']['near'], 3)} | "
                         f"{_f(row['recall']['far'], 3)} |")
        if "rss_after_queries_mib" in size:
            lines += ["", "IVF-PQ resident after all of the table's queries: "
                          f"{_f(size['rss_after_queries_mib'], 0)} MiB, most of it the memory-mapped float32 "
                          "vectors the re-scoring paged in: file pages, which the kernel shares between workers and "
                          "can drop; a served index keeps what its questions read."]
        lines.append("")
    lines += [
        f"The index kind is chosen when a generation is written (`qa_service/index/dense.py`): exact below "
        f"{s['hnsw_threshold']:,} passages, HNSW (efSearch {s['ef_search']}) from there, IVF-PQ (nprobe "
        f"{s['nprobe']}, re-score {s['depth']}) from {s['ivfpq_threshold']:,}.",
        "",
        f"**BM25 at {b['n']:,} passages** (`lexical.build_lexical`, as a build calls it): each passage "
        f"{PASSAGE_WORDS} words drawn from a Zipf distribution (s = {ZIPF}) over {VOCABULARY:,} words "
        f"({b['vocabulary']:,} occur), a title every {PASSAGES_PER_TITLE} passages; questions of 3 to 6 words from "
        "the same distribution. A query is what the service does for one: the BM25 score of every passage, then the "
        f"best {s['k']}.",
        "",
        "| passages | build s | memory held MiB | peak during build MiB | files MiB | query p50 ms | query p95 ms |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        f"| {b['n']:,} | {_f(b['build_s'])} | {_f(b['rss_mib'], 0)} | {_f(b['peak_mib'], 0)} | {_f(b['file_mib'], 0)} "
        f"| {_f(b['p50'], 1)} | {_f(b['p95'], 1)} |",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--quick", action="store_true", help="small sizes: checks the script works")
    parser.add_argument("--json", type=Path, help="also write the raw figures here")
    args = parser.parse_args(argv)
    sizes = [20_000, 50_000] if args.quick else [100_000, 200_000, 1_000_000]
    work = Path(tempfile.mkdtemp(prefix="qa-scale-"))
    try:
        info = run(sizes, 50_000 if args.quick else 1_000_000, 100 if args.quick else 200, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    info["quick"] = args.quick
    info["command"] = f"python -m benchmarks.scale --out {args.out}" + (" --quick" if args.quick else "")
    args.out.write_text(render(info))
    if args.json:
        args.json.write_text(json.dumps(info, indent=1, default=str) + "\n")
    log(f"wrote {args.out} in {info['minutes']:.1f} min")


if __name__ == "__main__":
    main()
