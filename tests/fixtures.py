"""Constants and helpers shared by the tests; the pytest fixtures themselves are in conftest.py.

The test corpus is the seed editorial in corpus/ and a few articles written for the project under
tests/data/articles/, so the suite needs nothing beside the clone. Only the tests about the shared data
sets (../shared/data, or QA_SHARED_DATA) skip without them.
"""

from __future__ import annotations

import gc
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import SimpleNamespace

import pytest

from qa_service.config import PROJECT_ROOT, Config
from qa_service.serving.devserver import ServeProcess

SHARED_DATA = Path(os.environ.get("QA_SHARED_DATA", PROJECT_ROOT.parent / "shared" / "data"))
SEED_CORPUS = PROJECT_ROOT / "corpus"
TEST_ARTICLES = Path(__file__).resolve().parent / "data" / "articles"
SAMPLES = Path(__file__).resolve().parent / "samples"  # saved pages and exports, as an editor would add them
# Conversations over the test articles, in the layout of ../shared/data/editorial-conversations (written for the tests)
TEST_CONVERSATIONS = Path(__file__).resolve().parent / "data" / "conversations.jsonl"

SEED_ID = "donga-2018-11-22-us-warning-against-seoul-speeding"  # the seed editorial, dated 2018-11-22
# The test articles (tests/data/articles/), on distinct subjects so that ranking means something:
WATER_ID = "valley-reservoir"  # plain text, undated: a water board's dam; its president in ¶4
TRAM_ID = "kessling-tram-derailment"  # plain text, undated: a tram derailment; the mayor's response in ¶5
FISHERY_ID = "skerry-banks-fishery"  # plain text, undated: two harbours share a fishing bank; ¶5 is long
MEASLES_ID = "measles-in-dunmore-schools"  # Markdown, front matter dated 2016-03-09; ¶2 is long
ARTICLE_COUNT = len(list(SEED_CORPUS.glob("*.txt"))) + len(list(TEST_ARTICLES.iterdir()))


def make_corpus(folder: Path) -> Path:
    """`folder` filled with the test corpus: the seed editorial and the test articles."""
    folder.mkdir(parents=True, exist_ok=True)
    for path in [*SEED_CORPUS.glob("*.txt"), *TEST_ARTICLES.iterdir()]:
        shutil.copy(path, folder / path.name)
    return folder


def copy_index(corpus: Path, index: Path, root: Path) -> tuple[Path, Path]:
    """(corpus, index): copies of a corpus and its index under `root`, the copy's manifests naming the copied
    corpus folder, as a build from it would (generation/corpus_folder.py), so that it can be built upon."""
    shutil.copytree(corpus, root / "corpus")
    shutil.copytree(index, root / "index", ignore=shutil.ignore_patterns(".build.lock"))
    for manifest in (root / "index").glob("gen-*/manifest.json"):
        recorded = json.loads(manifest.read_text())
        manifest.write_text(json.dumps({**recorded, "corpus_dir": str((root / "corpus").resolve())}, indent=2) + "\n")
    return root / "corpus", root / "index"


def needs_shared_data(*parts: str) -> pytest.MarkDecorator:
    """Skip a test about the shared data sets (evaluation, full corpora) when they are not beside the clone."""
    folder = SHARED_DATA.joinpath(*parts)
    default = "QA_SHARED_DATA" not in os.environ
    shown = Path("..", "shared", "data", *parts) if default else folder
    reason = f"needs the shared data sets: {shown} not found (set QA_SHARED_DATA to their folder)"
    return pytest.mark.skipif(not folder.is_dir(), reason=reason)


# --- a real server in a subprocess ---------------------------------------------------------------------------

slow = pytest.mark.slow


def http(url: str, body: dict | None = None, method: str | None = None, headers: dict | None = None,
         timeout: float = 60) -> tuple[int, dict]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method,
                                 headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def read_response(sock: socket.socket) -> tuple[int, dict, bytes]:
    """One HTTP/1.1 response read from a raw socket: (status, headers with lower-case names, body)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"closed before a response: {data!r}")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    length = int(headers.get("content-length", 0))
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return int(lines[0].split()[1]), headers, body


class Server(ServeProcess):
    """`qa-service serve` (one worker, 4 threads) over a test corpus and index, logs in `logs`.

    It runs the model export the session's encoder uses (embeddings/models), so no server start exports it again.
    """

    def __init__(self, corpus: Path, index: Path, logs: Path, token: str | None = None):
        env = {**os.environ, "QA_INDEX_DIR": str(index), "QA_CORPUS_DIR": str(corpus),
               "QA_CACHE_DIR": str(PROJECT_ROOT / "embeddings")}
        env.pop("QA_ADMIN_TOKEN", None)
        if token:
            env["QA_ADMIN_TOKEN"] = token
        self.stdout = open(logs / "server.out", "w+")  # noqa: SIM115 (closed in stop())
        super().__init__(env, logs / "server.err", workers=1, threads=4, cwd=PROJECT_ROOT, stdout=self.stdout)

    def wait_until_answering(self, timeout: float = 150) -> tuple[int, dict]:
        try:
            self.wait_ready(timeout)
        except RuntimeError as exc:
            pytest.fail(str(exc))
        return http(self.base + "/healthz", timeout=5)

    def stop(self) -> None:
        super().stop()
        self.stdout.close()


def write_article(folder: Path, name: str, title: str, paragraphs: list[str]) -> None:
    (folder / name).write_text(title + "\n\n" + "\n\n".join(paragraphs) + "\n")


def admin_env(tmp_path: Path, token: str | None, embedder=None) -> SimpleNamespace:
    """Two tiny articles indexed with the hashing encoder, and a test client of an app with the admin API on."""
    from qa_service.index.generation.build import build_index
    from qa_service.service import QAService
    from qa_service.serving.web import create_app

    from .fakes import HashingEmbedder

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    write_article(corpus, "harbour.txt", "The old harbour", ["Fishing boats leave the old harbour at dawn."])
    write_article(corpus, "bridges.txt", "On bridges", ["The new bridge opened to traffic in May."])
    index = tmp_path / "index"
    build_index(corpus, index, HashingEmbedder())
    config = Config(corpus_dir=corpus, index_dir=index, admin_token=token)
    service = QAService(config, embedder=embedder or HashingEmbedder())
    client = create_app(config, service=service).test_client()
    return SimpleNamespace(client=client, corpus=corpus, index=index, service=service, root=tmp_path)


def growth(work, make, n: int) -> float:
    """How much longer `work(make(8 * n))` takes than `work(make(n))`: about 8 when linear, 64 when quadratic.

    Each side is the best of five timings of enough calls to last about 30 ms, with the garbage collector
    off (as timeit does), so that a busy machine blurs the ratio far less than the gap between the answers.
    """
    small, large = make(n), make(8 * n)
    started = time.perf_counter()
    work(small)
    calls = max(1, int(0.03 / max(time.perf_counter() - started, 1e-6)))

    def best(text: str) -> float:
        timings = []
        for _ in range(5):
            started = time.perf_counter()
            for _ in range(calls):
                work(text)
            timings.append(time.perf_counter() - started)
        return min(timings)

    collecting = gc.isenabled()
    gc.disable()
    try:
        return best(large) / best(small)
    finally:
        if collecting:
            gc.enable()


def linear(work, make, n: int = 1500) -> bool:
    """Whether `work` grows linearly on `make`'s texts: a ratio under 24 (the midway, as a product, between 8
    and 64) in one of three tries, since a neighbour's load can slow one side of one try."""
    return any(growth(work, make, n) < 24 for _ in range(3))


def write_scorer(folder: Path, decline_below: float = -1e9, alternatives_within: float = 0.0,
                 **weights: float) -> Path:
    """A follow-up scorer file (fitted.py's layout) with these weights by feature name (cosine 1 unless given), for
    testing what the service does with a scorer's choices, not what fitting chooses."""
    from qa_service.reading.fitted import FOLLOW_UP
    from qa_service.reading.sentence_features import FEATURES

    weights = {"cosine": 1.0, **weights}
    folder.mkdir(parents=True, exist_ok=True)
    (folder / FOLLOW_UP).write_text(json.dumps({
        "features": list(FEATURES), "weights": [weights.get(f, 0.0) for f in FEATURES], "decline_below": decline_below,
        "alternatives_within": alternatives_within, "switch_margin": 0.3, "fitted_on": ["tests"]}))
    return folder


def start_build(corpus: Path, index: Path, *args: str) -> subprocess.Popen:
    """`tests/fault_build.py` in a process of its own: a real build that prints each step (the kill -9 tests)."""
    return subprocess.Popen(
        [sys.executable, "-m", "tests.fault_build", str(corpus), str(index), *args],
        cwd=PROJECT_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
