"""Measure the service's speed and write BENCHMARKS.md.

    python -m benchmarks.run --data ../shared/data --out BENCHMARKS.md      (what `make bench` runs)
    python -m benchmarks.run --data ../shared/data --out /tmp/b.md --quick  (a smoke run, ~2 minutes)

Everything is measured in this one run, side by side, so ratios hold even on a shared machine
whose absolute speed drifts. Scratch files go to a temporary folder, never into the repository.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from qa_service.config import Config, bundled_model_path
from qa_service.index.dense import (
    EXACT_SUBSET_MAX,
    HNSW_EF_SEARCH,
    HNSW_THRESHOLD,
    index_kind,
    make_dense_index,
    scan_copy,
    search_dense,
)
from qa_service.index.embedder import Embedder, LeanRuntime
from qa_service.index.generation.layout import read_current_name, read_manifest
from qa_service.index.lean_onnx import LeanOnnx
from qa_service.index.onnx_export import FP32_FILE, INT8_FILE, quantize, quiet, read_spec
from qa_service.ingest.corpus import load_corpus
from qa_service.reading.search import CANDIDATES

from . import load
from .building import build_once
from .conversations import bench_conversations, render_conversations
from .load import editorial_questions
from .overview import bench_overview, render_overview, topics
from .report import render
from .system import load_average, log, machine, median, pct, versions

TARGETS = {"median_ms": 5.0, "p99_ms": 15.0, "rps": 300.0, "build_ratio": 1.7, "add_overhead_s": 0.5,
           "torch_question_ratio": 0.5, "first_ratio": 1.1}


# ---------------------------------------------------------------- inputs

def paragraphs_of(editorials: Path, count: int) -> list[str]:
    articles, _ = load_corpus(editorials)
    paragraphs = [p for a in articles for p in a.paragraphs]
    rng = np.random.default_rng(3)
    return [paragraphs[i] for i in sorted(rng.choice(len(paragraphs), size=min(count, len(paragraphs)), replace=False))]


# ---------------------------------------------------------------- encoders

CALIBRATION_QUESTION = "What did Pompeo warn about?"
UNFUSED_FILE = "onnx/model_qint8_unfused.onnx"


def calibrate(embedder: Embedder, n: int = 200) -> float:
    """Median ms of one short question through the int8 session alone: how fast the machine is right now."""
    assert isinstance(embedder.runtime, LeanRuntime), "the int8 export runs on the lean path"
    lean = embedder.runtime.lean
    ids = lean.tokenize([CALIBRATION_QUESTION])
    for _ in range(10):
        lean.encode_batch(ids)
    times = []
    for _ in range(n):
        started = time.perf_counter()
        lean.encode_batch(ids)
        times.append((time.perf_counter() - started) * 1000)
    return median(times)


def _running(like: Embedder, folder: Path, file_name: str) -> Embedder:
    """`like`, with its lean path running another ONNX file of the same export folder."""
    import copy

    variant = copy.copy(like)
    spec = read_spec(folder)
    variant.runtime = LeanRuntime(LeanOnnx(folder, file_name, spec, like.threads), spec)
    return variant


def optimum_preset(st_fp32, folder: Path, like: Embedder) -> Embedder:
    """The int8 model issue 4 measured (optimum's avx2 preset: u8 weights), to compare with the project's int8."""
    from optimum.onnxruntime.configuration import AutoQuantizationConfig
    from sentence_transformers import export_dynamic_quantized_onnx_model

    with quiet():
        export_dynamic_quantized_onnx_model(st_fp32, AutoQuantizationConfig.avx2(is_static=False, per_channel=True),
                                            str(folder), push_to_hub=False, file_suffix="qint8_avx2")
    return _running(like, folder, "onnx/model_qint8_avx2.onnx")


def unfused(folder: Path, like: Embedder) -> Embedder:
    """The project's int8 recipe on the plain (unfused) fp32 graph: the export used before the fused one."""
    with quiet():
        quantize(folder / FP32_FILE, folder / UNFUSED_FILE)
    return _running(like, folder, UNFUSED_FILE)


def bench_encoders(cache: Path, paragraphs: list[str], questions: list[str], rounds: int) -> tuple[dict, dict]:
    """paragraphs/s at batch 32 and one-question latency, per runtime, interleaved round by round."""
    from sentence_transformers import SentenceTransformer

    model = bundled_model_path()
    embedders, loads = {}, {}
    for backend in ("torch", "onnx", "onnx-int8"):
        started = time.perf_counter()
        embedders[backend] = Embedder(model, backend, cache, query_cache=0)  # every question is really encoded
        loads[backend] = time.perf_counter() - started
        log(f"loaded {backend} in {loads[backend]:.1f} s")
    started = time.perf_counter()
    # one thread for questions too: no lone-question session
    one_thread = Embedder(model, "onnx-int8", cache, threads=1, solo_threads=0, query_cache=0)
    loads["onnx-int8, 1 thread"] = time.perf_counter() - started
    assert one_thread.model_file is not None, "an ONNX backend has a model file"
    folder = one_thread.model_file.parent.parent
    calibration_start = calibrate(one_thread)
    st_int8 = SentenceTransformer(str(folder), backend="onnx", device="cpu", local_files_only=True,
                                  model_kwargs={"file_name": INT8_FILE})
    st_fp32 = SentenceTransformer(str(folder), backend="onnx", device="cpu", local_files_only=True,
                                  model_kwargs={"file_name": FP32_FILE})

    preset = optimum_preset(st_fp32, folder, embedders["onnx-int8"])
    plain = unfused(folder, embedders["onnx-int8"])

    def st_encoder(st):
        return lambda texts, batch_size=32: st.encode(texts, batch_size=batch_size, normalize_embeddings=True,
                                                      convert_to_numpy=True, show_progress_bar=False)

    runs = {  # name: (key for the cosine to PyTorch, encode function)
        "PyTorch fp32 (sentence-transformers)": ("torch", embedders["torch"].encode),
        "ONNX fp32 via sentence-transformers encode()": ("onnx", st_encoder(st_fp32)),
        "ONNX fp32, lean path": ("onnx", embedders["onnx"].encode),
        "ONNX int8 (optimum avx2 preset, u8 x u8), lean path": ("int8 optimum avx2 preset", preset.encode),
        "ONNX int8, same recipe on the unfused graph (the previous export), lean path": ("int8 unfused", plain.encode),
        "ONNX int8 via sentence-transformers encode()": ("onnx-int8", st_encoder(st_int8)),
        "ONNX int8, lean path (default)": ("onnx-int8", embedders["onnx-int8"].encode),
        "ONNX int8, lean path, 1 thread (as each of 2 workers)": ("onnx-int8", one_thread.encode),
    }
    throughput: dict[str, list[float]] = {name: [] for name in runs}
    latency: dict[str, list[float]] = {name: [] for name in runs}
    vectors: dict[str, np.ndarray] = {}
    per_round = max(1, len(questions) // rounds)
    names = list(runs)
    for r in range(rounds):
        qs = questions[r * per_round:(r + 1) * per_round]
        # a different encoder goes first each round, so a burst of load from other jobs hits no one encoder always
        for name in names[r % len(names):] + names[:r % len(names)]:
            backend, encode = runs[name]
            encode(paragraphs[:32])
            started = time.perf_counter()
            out = encode(paragraphs, batch_size=32)
            throughput[name].append(len(paragraphs) / (time.perf_counter() - started))
            vectors.setdefault(backend, out)
            for q in qs[:5]:
                encode([q])
            for q in qs:
                started = time.perf_counter()
                encode([q])
                latency[name].append((time.perf_counter() - started) * 1000)
        log(f"encoder round {r + 1}/{rounds} done")
    rows = []
    for name, (backend, _) in runs.items():
        rows.append({
            "name": name, "backend": backend,
            "paragraphs_per_s": median(throughput[name]),
            "rounds": [round(x, 1) for x in throughput[name]],
            "q_p50": pct(latency[name], 50), "q_p95": pct(latency[name], 95), "q_n": len(latency[name]),
        })
    reference = vectors["torch"]
    cosine = {}
    for backend in ("onnx", "onnx-int8", "int8 optimum avx2 preset", "int8 unfused"):
        c = (vectors[backend] * reference).sum(axis=1)
        cosine[backend] = {"mean": float(c.mean()), "min": float(c.min())}
    del st_int8, st_fp32, preset, plain
    embedders["calibration"] = one_thread
    return {"rows": rows, "loads": loads, "cosine": cosine, "calibration_start": calibration_start,
            "n_paragraphs": len(paragraphs),
            "avg_tokens": float(np.mean([embedders["onnx-int8"].count_tokens(p) for p in paragraphs])),
            "threads": embedders["onnx-int8"].threads}, embedders


# ---------------------------------------------------------------- index build and one added article

def _cli_index(corpus: Path, index: Path, cache_dir: Path) -> dict:
    """`qa-service index` into a new folder, in its own process, as a user runs it: wall and CPU seconds."""
    command = [sys.executable, "-m", "qa_service.cli", "index", "--corpus", str(corpus), "--index", str(index),
               "--quiet", "--json"]
    started = time.perf_counter()
    process = subprocess.Popen(command, env={**os.environ, "QA_CACHE_DIR": str(cache_dir)}, stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, text=True)
    out = process.stdout.read() if process.stdout else ""
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = 0
    seconds = time.perf_counter() - started
    if status != 0:
        raise RuntimeError(f"qa-service index failed: {out[-2000:]}")
    return {"seconds": seconds, "cpu_seconds": usage.ru_utime + usage.ru_stime, "report": json.loads(out),
            "command": " ".join(["qa-service", *command[3:-2]])}


def bench_build(editorials: Path, work: Path, cache_dir: Path, rounds: int, every: int = 1) -> dict:
    """The whole editorials index as a user builds it, against a bare PyTorch encode of its paragraphs.

    `qa-service index` into a new folder, in its own process (start, reading the corpus, cutting, one
    encoder pass per passage, writing and switching the generation: all a user waits for), alternating
    with sentence-transformers' encode() of the same corpus's paragraphs, model already loaded. The model
    export is in `cache_dir` already (shared by every index folder); a first build with an empty model
    cache, which makes the export, is timed once beside them.
    """
    from sentence_transformers import SentenceTransformer

    corpus = work / "build-corpus"
    corpus.mkdir()
    for file in sorted(editorials.glob("*.txt"))[::every]:
        shutil.copy(file, corpus / file.name)
    paragraphs = [p for a in load_corpus(corpus)[0] for p in a.paragraphs]
    model = SentenceTransformer(bundled_model_path(), device="cpu", local_files_only=True)
    model.encode(paragraphs[:64], batch_size=32)
    runs: dict[str, list[dict]] = {"cli": [], "torch": []}
    for n in range(rounds):
        for what in ("cli", "torch") if n % 2 == 0 else ("torch", "cli"):
            if what == "cli":
                runs["cli"].append(_cli_index(corpus, work / f"user-index-{n}", cache_dir))
                shutil.rmtree(work / f"user-index-{n}")
            else:
                started, cpu = time.perf_counter(), time.process_time()
                model.encode(paragraphs, batch_size=32, show_progress_bar=False)
                runs["torch"].append({"seconds": time.perf_counter() - started,
                                      "cpu_seconds": time.process_time() - cpu})
            log(f"build round {n + 1}: {what} {runs[what][-1]['seconds']:.1f} s")
    first = _cli_index(corpus, work / "user-index-first", work / "empty-cache")
    log(f"first build with an empty model cache: {first['seconds']:.1f} s")
    shutil.rmtree(work / "user-index-first")
    shutil.rmtree(work / "empty-cache", ignore_errors=True)
    cli, torch = (median([r["seconds"] for r in runs[k]]) for k in ("cli", "torch"))
    report = runs["cli"][0]["report"]
    return {"articles": report["articles_added"], "paragraphs": len(paragraphs), "passages": report["passages_total"],
            "texts": report["texts_embedded"], "cli_s": cli, "torch_s": torch, "ratio": torch / cli,
            "cli_runs": [round(r["seconds"], 1) for r in runs["cli"]],
            "torch_runs": [round(r["seconds"], 1) for r in runs["torch"]],
            "cli_cpu": median([r["cpu_seconds"] for r in runs["cli"]]),
            "torch_cpu": median([r["cpu_seconds"] for r in runs["torch"]]),
            "first_s": first["seconds"], "command": runs["cli"][0]["command"]}


def bench_full_index_and_add(embedder, editorials: Path, work: Path, held_out: int,
                             every: int = 1) -> tuple[dict, Path, Path]:
    """Build the whole editorials index (minus a few articles), then add those back one at a time."""
    files = sorted(editorials.glob("*.txt"))[::every]
    corpus = work / "corpus"
    corpus.mkdir()
    rng = np.random.default_rng(11)
    later = {files[i] for i in rng.choice(len(files), size=held_out, replace=False)}
    for file in files:
        if file not in later:
            shutil.copy(file, corpus / file.name)
    index = work / "index"
    full = build_once(corpus, index, embedder)
    log(f"built the editorials index with onnx-int8: {full['seconds']:.1f} s")
    adds = []
    for file in sorted(later):
        shutil.copy(file, corpus / file.name)
        result = build_once(corpus, index, embedder)
        result["article"] = file.stem
        result["overhead"] = result["seconds"] - result["embed_seconds"]
        result["overhead_cpu"] = result["cpu_seconds"] - result["embed_cpu_seconds"]
        adds.append(result)
        log(f"added {file.name}: {result['seconds']:.2f} s ({result['embed_seconds']:.2f} s embedding)")
    manifest = read_manifest(index / str(read_current_name(index)))
    return {"full": full, "adds": adds, "manifest": manifest}, corpus, index


# ---------------------------------------------------------------- HTTP

HTTP_SETUPS = {  # name: (workers, threads, QA_* settings); the first is `qa-service serve`'s default
    "http": (2, 4, {}),
    "http_one_worker": (1, 8, {}),
    "http_lone_on_all_cores": (2, 4, {"QA_ENCODER_SOLO_THREADS": "2"}),
}
CLIENTS = ("keep-alive", "new connection")


def bench_http(index: Path, corpus: Path, questions: list[str], sequential_n: int, seconds: int,
               connections: int, work: Path, rounds: int = 6) -> dict:
    """The serving setups side by side, interleaved so that the machine's drift favours none.

    All servers run at once (each idle while another is measured). One at a time: the same questions
    in chunks, each chunk asked of every server with a keep-alive client, and another chunk with a new
    connection per request, rotating which server goes first. Under load: `rounds` runs of seconds / rounds each,
    in the order A B C C B A.
    """
    # Varied questions and no query cache: every request runs the encoder. The model export is the one
    # bench_encoders made in the scratch folder (not the user's cache).
    env = {"QA_QUERY_CACHE": "0", "QA_CACHE_DIR": str(work / "cache")}
    names = list(HTTP_SETUPS)
    with contextlib.ExitStack() as stack:
        servers = {name: stack.enter_context(load.serving(index, corpus, workers=workers, threads=threads,
                                                          env={**env, **settings}))
                   for name, (workers, threads, settings) in HTTP_SETUPS.items()}
        results: dict[str, dict[str, Any]] = {}
        for name, server in servers.items():
            workers, threads, _ = HTTP_SETUPS[name]
            results[name] = {"workers": workers, "threads": threads, "connections": connections,
                             "env": server.settings, "ready_s": server.wait_ready(), "command": server.command,
                             "memory_start": server.memory()}
            log(f"{name}: server ready in {results[name]['ready_s']:.1f} s; "
                f"workers {list(results[name]['memory_start'])}")
        sequential: dict[tuple[str, str], dict[str, Any]] = {
            (name, client): {"latencies": [], "server_ms": [], "errors": 0, "cpu": 0.0, "n": 0}
            for name in names for client in CLIENTS}
        chunk = 50
        for number, start in enumerate(range(0, sequential_n, chunk)):
            shift = number % len(names)
            for name in names[shift:] + names[:shift]:
                for offset, client in enumerate(CLIENTS):  # each client its own questions
                    seq = sequential[(name, client)]
                    cpu = servers[name].cpu()
                    warm_up = 30 if number == 0 else 0
                    asked = questions[offset * sequential_n + start:offset * sequential_n + start + chunk]
                    part = load.sequential(servers[name].port, asked, warm_up=warm_up,
                                           new_connection=client == "new connection")
                    seq["cpu"] += servers[name].cpu() - cpu
                    seq["n"] += len(part["latencies"]) + warm_up
                    for key in ("latencies", "server_ms"):
                        seq[key] += part[key]
                    seq["errors"] += part["errors"]
        rest = questions[len(CLIENTS) * sequential_n:] or questions
        loads: dict[str, list] = {name: [] for name in names}
        cpu_under_load = dict.fromkeys(names, 0.0)
        order = names + names[::-1]  # A B C C B A: drift over the runs favours none
        for number in range(rounds):
            name = order[number % len(order)]
            cpu = servers[name].cpu()
            loads[name].append(load.concurrent(servers[name].port, rest, connections, max(1, seconds // rounds), work))
            cpu_under_load[name] += servers[name].cpu() - cpu
        for name in names:
            runs, result = loads[name], results[name]
            for client in CLIENTS:
                seq = sequential[(name, client)]
                result["sequential" if client == "keep-alive" else "sequential_new"] = {
                    "n": len(seq["latencies"]), "errors": seq["errors"],
                    "p50": pct(seq["latencies"], 50), "p95": pct(seq["latencies"], 95),
                    "p99": pct(seq["latencies"], 99), "max": max(seq["latencies"]),
                    "server_p50": pct(seq["server_ms"], 50), "server_p99": pct(seq["server_ms"], 99),
                    "server_cpu_ms": 1000 * seq["cpu"] / max(1, seq["n"]),
                }
            requests = sum(r["requests"] for r in runs)
            result["concurrent"] = {
                **runs[0], "requests": requests, "errors": sum(r["errors"] for r in runs),
                "rps": requests / sum(r["requests"] / r["rps"] for r in runs if r["rps"] > 0),
                "p50": float(np.median([r["p50"] for r in runs])), "p99": max(r["p99"] for r in runs),
                "client_cpu_s": sum(r["client_cpu_s"] for r in runs),
                "server_cpu_ms": 1000 * cpu_under_load[name] / max(1, requests), "rounds": len(runs),
                "tool": runs[0]["tool"].replace(f"{max(1, seconds // rounds)} s", f"{len(runs)} × "
                                                f"{max(1, seconds // rounds)} s"),
            }
            result["memory_end"] = servers[name].memory()
            log(f"{name}: one at a time median {result['sequential']['p50']:.2f} ms (new connection "
                f"{result['sequential_new']['p50']:.2f} ms); {connections} clients {result['concurrent']['rps']:.0f} "
                "requests/s")
    return results


def bench_first_questions(index: Path, corpus: Path, questions: list[str], work: Path, starts: int,
                          first: int = 200) -> dict:
    """The first `first` questions after a start against the `first` after them, over `starts` fresh starts
    of the default setup (each with questions it has not seen), one at a time, keep-alive."""
    workers, threads, settings = next(iter(HTTP_SETUPS.values()))
    env = {"QA_QUERY_CACHE": "0", "QA_CACHE_DIR": str(work / "cache"), **settings}
    runs = []
    for number in range(starts):
        asked = questions[number * 2 * first:(number + 1) * 2 * first]
        with load.serving(index, corpus, workers=workers, threads=threads, env=env) as server:
            server.wait_ready()
            part = load.sequential(server.port, asked, warm_up=0)
        runs.append({"first": part["latencies"][:first], "later": part["latencies"][first:],
                     "first_server": part["server_ms"][:first], "later_server": part["server_ms"][first:],
                     "errors": part["errors"]})
        log(f"start {number + 1}: first {first} median {pct(runs[-1]['first'], 50):.2f} ms, "
            f"next {first} {pct(runs[-1]['later'], 50):.2f} ms")
    merged = {key: [x for run in runs for x in run[key]] for key in ("first", "later", "first_server", "later_server")}
    return {"starts": starts, "n": first, "errors": sum(r["errors"] for r in runs),
            "first_p50": pct(merged["first"], 50), "later_p50": pct(merged["later"], 50),
            "first_p99": pct(merged["first"], 99), "later_p99": pct(merged["later"], 99),
            "first_server_p50": pct(merged["first_server"], 50), "later_server_p50": pct(merged["later_server"], 50),
            "first_ten_max": max(max(r["first"][:10]) for r in runs),
            "per_start": [(round(pct(r["first"], 50), 2), round(pct(r["later"], 50), 2)) for r in runs]}


# ---------------------------------------------------------------- FAISS

def synthetic(base: np.ndarray, n: int, rng: np.random.Generator, noise: float = 0.6) -> np.ndarray:
    """`n` normalised vectors scattered around real passage vectors (cosine ~0.86 to their anchor)."""
    out = np.empty((n, base.shape[1]), dtype=np.float32)
    for start in range(0, n, 50_000):
        rows = min(50_000, n - start)
        chunk = base[rng.integers(0, len(base), rows)]
        chunk = chunk + rng.standard_normal(chunk.shape).astype(np.float32) * (noise / np.sqrt(base.shape[1]))
        out[start:start + rows] = chunk / np.linalg.norm(chunk, axis=1, keepdims=True)
    return out


def _faiss_search(index, query: np.ndarray, k: int):
    return index.search(query.reshape(1, -1), k)


EVICTION_MIB = 32  # about what one question's encode streams through the caches (the int8 weights, activations)


def _query_times(search, index, queries: np.ndarray, k: int, evict: np.ndarray | None = None) -> list[float]:
    """ms per query; with `evict`, that buffer is read before each query, as an encode would leave the caches."""
    times = []
    for q in queries:
        if evict is not None:
            evict.sum()
        started = time.perf_counter()
        search(index, q, k)
        times.append((time.perf_counter() - started) * 1000)
    return times


def _search_with_scan(pair, query: np.ndarray, k: int):
    return search_dense(pair[0], query, k, scan=pair[1])


def bench_faiss(base: np.ndarray, queries: np.ndarray, sizes: list[int], k_served: int = CANDIDATES) -> dict:
    import faiss

    rng = np.random.default_rng(5)
    rows = []
    cores = os.cpu_count() or 1
    evict = np.ones(EVICTION_MIB * 2**20 // 8)
    for n in sizes:
        vectors = base if n == len(base) else synthetic(base, n, rng)
        kind = "real passage vectors" if n == len(base) else "synthetic, around the real vectors"
        faiss.omp_set_num_threads(cores)
        flat = faiss.IndexFlatIP(vectors.shape[1])
        flat.add(vectors)
        started = time.perf_counter()
        hnsw: Any = make_dense_index(vectors, threshold=0, ivfpq_threshold=n + 1)  # an IndexHNSWFlat
        hnsw_build = time.perf_counter() - started
        _, truth = flat.search(queries, 10)
        limits = threadpool_limits(1)  # as served: one BLAS and OpenMP thread per worker
        flat_times = _query_times(_faiss_search, flat, queries, k_served)
        float32_times = _query_times(search_dense, flat, queries, k_served)
        served = (flat, scan_copy(flat))
        served_times = _query_times(_search_with_scan, served, queries, k_served)
        cold = {name: pct(_query_times(search, index, queries, k_served, evict), 50)
                for name, search, index in (("float32", search_dense, flat), ("served", _search_with_scan, served))}
        recall, ef_p50 = {}, {}
        for ef in sorted({64, 128, 256, 512, HNSW_EF_SEARCH}):
            hnsw.hnsw.efSearch = ef
            _, found = hnsw.search(queries, 10)
            recall[ef] = float(np.mean([len(set(f) & set(t)) / 10 for f, t in zip(found, truth, strict=True)]))
            ef_p50[ef] = pct(_query_times(_faiss_search, hnsw, queries, k_served), 50)
        hnsw.hnsw.efSearch = HNSW_EF_SEARCH
        hnsw_times = _query_times(search_dense, hnsw, queries, k_served)
        limits.restore_original_limits()
        rows.append({
            "n": n, "vectors": kind, "flat_p50": pct(flat_times, 50), "flat_p95": pct(flat_times, 95),
            "float32_p50": pct(float32_times, 50), "served_p50": pct(served_times, 50),
            "float32_cold_p50": cold["float32"], "served_cold_p50": cold["served"],
            "hnsw_p50": pct(hnsw_times, 50), "hnsw_p95": pct(hnsw_times, 95), "hnsw_build_s": hnsw_build,
            "recall": recall, "ef_p50": ef_p50, "auto": index_kind(n), "mib": vectors.nbytes / 2**20,
        })
        log(f"FAISS {n}: flat {rows[-1]['flat_p50']:.2f} ms, HNSW {rows[-1]['hnsw_p50']:.2f} ms, "
            f"recall@10 {recall[HNSW_EF_SEARCH]:.3f}, HNSW build {hnsw_build:.1f} s")
        del flat, hnsw, vectors, served
        gc.collect()
    faiss.omp_set_num_threads(cores)
    return {"rows": rows, "threshold": HNSW_THRESHOLD, "k": k_served, "queries": len(queries),
            "exact_subset_max": EXACT_SUBSET_MAX, "eviction_mib": EVICTION_MIB}


# ---------------------------------------------------------------- past one machine

def bench_scale(editorials: Path, work: Path, quick: bool) -> dict:
    """The Ray build against the local build (benchmarks/ray_build.py) and dense search and BM25 at archive
    scale (benchmarks/scale.py), for BENCHMARKS.md's "Scale" section."""
    from importlib import metadata

    from . import ray_build, scale

    load_start = load_average()
    ray = ray_build.bench_ray_build(editorials, work / "ray", every=24 if quick else 9, rounds=1 if quick else 3)
    ray.update(ray_version=metadata.version("ray"), load=(load_start, load_average()))
    sizes = [20_000, 50_000] if quick else [100_000, 200_000, 1_000_000]
    (work / "scale").mkdir()
    archive = scale.run(sizes, 50_000 if quick else 1_000_000, 100 if quick else 200, work / "scale")
    archive.update(quick=quick, command="python -m benchmarks.run --scale (benchmarks/scale.py)")
    return {"ray_build": ray, "scale": archive}


def render_scale(info: dict) -> str:
    from . import ray_build, scale

    return "\n## Scale\n\n" + ray_build.render(info["ray_build"], info["machine"]) + "\n" + scale.render(info["scale"])


# ---------------------------------------------------------------- main

def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--out", type=Path, default=Path("BENCHMARKS.md"))
    parser.add_argument("--quick", action="store_true", help="small sizes, short runs: checks the script works")
    parser.add_argument("--build-rounds", type=int, default=3,
                        help="whole-corpus builds and bare PyTorch encodes, alternating")
    parser.add_argument("--seconds", type=int, default=20, help="duration of the concurrent load")
    parser.add_argument("--keep", action="store_true", help="keep the scratch folder")
    parser.add_argument("--scale", action="store_true",
                        help="also BENCHMARKS.md's Scale section: the Ray build and search at archive scale (~25 min)")
    parser.add_argument("--json", type=Path, help="also write the raw figures here")
    args = parser.parse_args(argv)
    editorials, squad = args.data / "editorials", args.data / "squad-dev"
    if not editorials.is_dir():
        raise SystemExit(f"no editorials in {editorials}")
    quick = args.quick
    started = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix="qa-bench-"))
    info = {"machine": machine(), "versions": versions(), "load_start": load_average(), "quick": quick,
            "command": f"python -m benchmarks.run --data {args.data} --out {args.out}" + (" --quick" if quick else "")}
    log(f"scratch folder {work}; load average {info['load_start']}")
    try:
        questions = editorial_questions(editorials, squad, 6000)
        paragraphs = paragraphs_of(editorials, 64 if quick else 128)
        cache = work / "cache" / "models"  # the export the served index uses (QA_CACHE_DIR below)
        info["encoders"], embedders = bench_encoders(cache, paragraphs, questions[:60 if quick else 300],
                                                     1 if quick else 5)
        info["calibration"] = {"at the start": info["encoders"].pop("calibration_start")}
        info["build"] = bench_build(editorials, work, work / "cache", 1 if quick else args.build_rounds,
                                    8 if quick else 1)
        info["index"], corpus, index = bench_full_index_and_add(embedders["onnx-int8"], editorials, work, 3,
                                                                every=8 if quick else 1)
        generation = index / str(read_current_name(index))
        base = np.load(generation / "passages.npy")
        query_vectors = embedders["onnx-int8"].encode(questions[:200])
        reference = embedders.pop("calibration")
        info["calibration"]["before the HTTP runs"] = calibrate(reference)
        del embedders
        gc.collect()
        squad_questions = [q for q in questions if q.endswith("?") and not q.startswith("What does the editorial")]
        info["first"] = bench_first_questions(index, corpus, squad_questions, work, 1 if quick else 3,
                                              50 if quick else 200)
        info.update(bench_http(index, corpus, questions, 100 if quick else 1000, 8 if quick else 2 * args.seconds,
                               8, work))
        conversations = args.data / "editorial-conversations" / "conversations.jsonl"
        if conversations.is_file():
            info["conversations"] = bench_conversations(index, corpus, conversations, work, 1 if quick else 5)
        overview_topics = topics(args.data, corpus, 100 if quick else 400)
        info["overview"] = bench_overview(index, corpus, squad_questions, overview_topics, work)
        sizes = [len(base), 20_000] if quick else [len(base), HNSW_THRESHOLD, 40_000, 400_000]
        info["faiss"] = bench_faiss(base, query_vectors, sizes)
        info["calibration"]["at the end"] = calibrate(reference)
        if args.scale:
            info.update(bench_scale(editorials, work, quick))
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    info["load_end"] = load_average()
    info["minutes"] = (time.perf_counter() - started) / 60
    info["targets"] = TARGETS
    info["config_backend"] = Config().backend
    args.out.write_text(render(info) + render_overview(info["overview"])
                        + (render_conversations(info["conversations"]) if "conversations" in info else "")
                        + (render_scale(info) if args.scale else ""))
    if args.json:
        args.json.write_text(json.dumps(info, indent=1, default=str) + "\n")
    log(f"wrote {args.out} in {info['minutes']:.1f} min")


if __name__ == "__main__":
    main()
