"""The build's embedding on Ray (ray_encoder.py): the local build's result, the CLI's --ray, kill -9 while Ray works.

One local Ray of 2 CPUs for the module (started and stopped by ray_session, as `--ray auto` does); the
CLI tests that need a Ray of their own run `qa-service index` in a subprocess. The actors load the real
model from the session's export (PROJECT_ROOT/embeddings/models).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import numpy as np
import psutil
import pytest
from click.testing import CliRunner

from qa_service.cli import main
from qa_service.config import PROJECT_ROOT, Config
from qa_service.index.generation.build import build_index
from qa_service.index.generation.layout import read_current_name
from qa_service.index.generation.read import Snapshot

from ..fixtures import slow, write_article

ray = pytest.importorskip("ray", reason="Ray is not installed: pip install -e '.[ray]' (make test installs it)")

from qa_service.index.ray_encoder import LOCAL, RayEncoder, RayUnavailable, ray_session  # noqa: E402  (needs Ray)

CONFIG = Config(cache_dir=PROJECT_ROOT / "embeddings")  # the actors' model export: the session's (conftest.py)


@pytest.fixture(scope="module")
def ray_cluster():
    """A local Ray of 2 CPUs for this module's tests; its GCS address, for a second driver to join."""
    with ray_session(LOCAL, num_cpus=2):
        yield ray.get_runtime_context().gcs_address


@pytest.fixture
def ray_encoder(ray_cluster, embedder):
    encoder = RayEncoder(CONFIG, embedder)
    yield encoder
    encoder.close()


def cli_env(**extra: str) -> dict[str, str]:
    """The environment of a `qa-service` subprocess: this checkout, the session's model export."""
    return {**os.environ, "PYTHONPATH": str(PROJECT_ROOT), "QA_CACHE_DIR": str(CONFIG.cache_dir), **extra}


def assert_same_index(ours: Snapshot, local: Snapshot) -> None:
    """The same passages and sentences, and vectors within cosine 0.999 of the local build's."""
    assert ours.passage_article == local.passage_article and ours.passage_text == local.passage_text
    assert np.array_equal(ours.sentence_span, local.sentence_span)
    assert np.array_equal(ours.sentence_passage, local.sentence_passage)
    passages = [snap.dense.reconstruct_n(0, snap.dense.ntotal) for snap in (ours, local)]
    for mine, theirs in (passages, (ours.sentence_vectors, local.sentence_vectors)):
        assert mine.shape == theirs.shape
        assert np.min(np.sum(mine * theirs, axis=1)) >= 0.999


def test_ray_build_equals_the_local_build(tmp_path, built_index, ray_encoder):
    corpus, local_index = built_index
    ticks: list[int] = []
    report = build_index(corpus, tmp_path / "index", ray_encoder,
                         progress=lambda total, label: ticks.append if label == "embedding" else (lambda n: None))
    ours = Snapshot(tmp_path / "index" / read_current_name(tmp_path / "index"))
    assert_same_index(ours, Snapshot(local_index / read_current_name(local_index)))
    assert sum(ticks) == report.texts_embedded and len(ticks) > 1  # progress as each batch comes back


def test_actors_run_any_embedder_method_by_name(ray_encoder, embedder):
    texts = ["One short text.", "A somewhat longer text, with a clause.", "Three."]
    results: dict[int, int] = {}
    ray_encoder.map_batches("count_tokens", [(text,) for text in texts], results.__setitem__)
    assert [results[i] for i in range(len(texts))] == [embedder.count_tokens(t) for t in texts]


def test_an_error_on_an_actor_is_one_line(ray_encoder):
    with pytest.raises(RayUnavailable, match="failed during the build: .*no_such_method") as caught:
        ray_encoder.map_batches("no_such_method", [(["a text"],)], lambda number, result: None)
    assert "\n" not in str(caught.value)


@slow
def test_cli_joins_a_running_cluster(tmp_path, ray_cluster, built_index):
    corpus, local_index = built_index
    index = tmp_path / "index"
    done = subprocess.run(
        [sys.executable, "-m", "qa_service.cli", "index", "--corpus", str(corpus), "--index", str(index),
         "--ray", ray_cluster, "--quiet"],
        env=cli_env(RAY_AUTH_MODE="token"), capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr
    local = Snapshot(local_index / read_current_name(local_index))
    assert_same_index(Snapshot(index / read_current_name(index)), local)


@pytest.mark.parametrize("address, message", [
    ("nowhere", "expected auto, HOST:PORT (6379) or ray://HOST:PORT (10001)"),
    ("127.0.0.1:1", "cannot reach the Ray cluster at 127.0.0.1:1"),
    ("ray://127.0.0.1:1", "cannot reach the Ray cluster at ray://127.0.0.1:1"),
])
def test_cli_bad_address_is_one_line_and_leaves_the_index(fresh_index, monkeypatch, address, message):
    corpus, index = fresh_index
    write_article(corpus, "new-one.txt", "Fresh title", ["A fresh paragraph about tides."])
    before = sorted((p.name, p.stat().st_mtime_ns) for p in index.rglob("*"))
    monkeypatch.setenv("QA_CACHE_DIR", str(CONFIG.cache_dir))
    result = CliRunner().invoke(main, ["index", "--corpus", str(corpus), "--index", str(index), "--ray", address])
    assert result.exit_code == 1 and result.output.startswith("Error: ") and result.output.count("\n") == 1
    assert message in result.output
    assert sorted((p.name, p.stat().st_mtime_ns) for p in index.rglob("*")) == before


def test_cli_without_ray_installed_says_so(fresh_index, monkeypatch):
    corpus, index = fresh_index
    monkeypatch.setitem(sys.modules, "ray", None)  # what `import ray` finds when Ray is not installed
    monkeypatch.setenv("QA_RAY", "auto")  # the option's environment variable
    result = CliRunner().invoke(main, ["index", "--corpus", str(corpus), "--index", str(index), "--force"])
    assert result.exit_code == 1
    assert result.output == "Error: Ray is not installed: pip install 'qa_service[ray]'\n"


def ray_processes(mark: str) -> list[psutil.Process]:
    """The processes that carry `mark` in their environment: the build and every Ray process it started.

    Read as raw bytes: Ray's agents rename themselves over the memory that psutil.environ() parses.
    """
    needle = f"\0QA_TEST_RAY_MARK={mark}\0".encode()
    found = []
    for process in psutil.process_iter():
        try:
            if needle in b"\0" + Path(f"/proc/{process.pid}/environ").read_bytes():
                found.append(process)
        except OSError:
            continue
    return found


def is_agent(process: psutil.Process) -> bool:
    """One of the two agents Ray starts beside each raylet (DashboardAgent, RuntimeEnvAgent)."""
    try:
        return process.name() in ("ray::DashboardAgent", "ray::RuntimeEnvAgent")
    except psutil.Error:
        return False


@slow
def test_kill_9_while_ray_embeds_leaves_the_served_index_and_no_ray_behind(fresh_index, embedder):
    corpus, index = fresh_index
    served = read_current_name(index)
    before = Snapshot(index / served)
    for n in range(6):  # enough new text that the build is still embedding when it is killed
        write_article(corpus, f"new-{n}.txt", f"New article {n}",
                      [f"Paragraph {p} of new article {n}, on harbour dues, tides and the ferry timetable. "
                       f"A second sentence on subject {n * 10 + p}." for p in range(8)])
    mark = uuid.uuid4().hex
    build = subprocess.Popen([sys.executable, "-m", "tests.ray_fault_build", str(corpus), str(index)],
                             cwd=PROJECT_ROOT, env=cli_env(QA_TEST_RAY_MARK=mark), stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, text=True)
    try:
        assert build.stdout is not None
        first = build.stdout.readline()  # (after the named entities) the first batch is back from the actors
        while first.startswith("phase finding named entities "):
            first = build.stdout.readline()
        assert first.startswith("phase embedding "), first
        assert len(ray_processes(mark)) > 2  # the build, Ray's own processes and its actors
        build.send_signal(signal.SIGKILL)
        assert build.wait(timeout=30) == -signal.SIGKILL
        assert read_current_name(index) == served
        after = Snapshot(index / served)
        assert after.passage_text == before.passage_text
        assert np.array_equal(after.sentence_vectors, before.sentence_vectors)
        report = build_index(corpus, index, embedder)  # a normal build afterwards: lock free, old files fine
        assert report.articles_added == 6 and read_current_name(index) != served
        # Ray's processes end with the driver that started them: its control store, raylet and actors at
        # once; its two agents only after a minute in which they try to report the loss to the dead control
        # store (a fixed timeout in Ray), so the test does not wait for them (they are killed below).
        deadline = time.monotonic() + 60
        while [p for p in ray_processes(mark) if not is_agent(p)] and time.monotonic() < deadline:
            time.sleep(1)
        assert not [p for p in ray_processes(mark) if not is_agent(p)]
    finally:
        for process in ray_processes(mark):  # whatever a failed test left
            process.kill()
