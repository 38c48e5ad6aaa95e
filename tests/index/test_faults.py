"""Faults, measured: kill -9 during builds, two builds at once, damaged index files, rebuilds under load.

Builds that are killed or raced run `qa-service index` in a subprocess with a fake encoder and random
pauses (tests/fault_build.py), so kills land between any two steps; the served-under-load and
damaged-at-start-up cases run the real server (`qa-service serve`, gunicorn) with the real model.
All traffic is to 127.0.0.1; every loop is bounded in count and time.
"""

from __future__ import annotations

import json
import logging
import os
import random
import shutil
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from qa_service.config import Config
from qa_service.index.generation.build import build_index, build_lock
from qa_service.index.generation.layout import CURRENT, generations, read_current_name
from qa_service.index.generation.read import IndexReader, Snapshot
from qa_service.service import QAService
from qa_service.serving.web import create_app

from ..fakes import HashingEmbedder
from ..fixtures import Server, http, slow, start_build

TOKEN = "fault-test-token"


# --- helpers -----------------------------------------------------------------------------------------------------

def write_article(folder: Path, name: str, title: str, paragraphs: list[str]) -> None:
    (folder / name).write_text(title + "\n\n" + "\n\n".join(paragraphs) + "\n")


def small_corpus(folder: Path, n: int = 6) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        write_article(folder, f"article-{i}.txt", f"Article {i}",
                      [f"Paragraph {j} of article {i} talks about subject {i * 10 + j}. It has a second sentence."
                       for j in range(4)])
    return folder


def contents(index_dir: Path, generation: str | None = None) -> dict:
    """What a generation serves: passages in row order, articles, and the vectors."""
    snap = Snapshot(index_dir / (generation or str(read_current_name(index_dir))))
    return {
        "passages": list(zip(snap.passage_article, snap.passage_paragraph.tolist(), snap.passage_text)),
        "articles": sorted(snap.articles),
        "sentence_vectors": snap.sentence_vectors,
        "dense": snap.dense.reconstruct_n(0, snap.dense.ntotal) if snap.dense.ntotal else np.zeros((0, 0)),
        "version": snap.version,
    }


def same(a: dict, b: dict) -> bool:
    return (a["passages"] == b["passages"] and a["articles"] == b["articles"]
            and np.array_equal(a["sentence_vectors"], b["sentence_vectors"]) and np.array_equal(a["dense"], b["dense"]))


def clean_build(corpus: Path, where: Path) -> dict:
    """The reference: a fresh index of `corpus` built from nothing, in-process."""
    shutil.rmtree(where, ignore_errors=True)
    build_index(corpus, where, HashingEmbedder())
    return contents(where)


def assert_sound(index_dir: Path, data: dict) -> None:
    keys = data["passages"]
    assert len(keys) == len(set(keys)), "a passage is duplicated"
    assert len(data["dense"]) == len(keys) and len(data["articles"]) == len({a for a, _, _ in keys})


def phases(output: str) -> list[tuple[str, float]]:
    return [(line.split()[1], float(line.split()[2])) for line in output.splitlines() if line.startswith("phase ")]


# --- kill -9 during a build --------------------------------------------------------------------------------------

# Every step of a build; "rename" is gen-N.partial -> gen-N, "rename-done" leaves a complete generation not yet served.
KILL_POINTS = ["locked", "read_corpus-done", "encode", "write_sqlite", "fsync_tree", "rename", "rename-done",
               "switch_current", "switch_current-done", "prune"]


def mutate(corpus: Path, run: int) -> None:
    """Each run adds an article, changes a paragraph, and every third run removes an article."""
    write_article(corpus, f"new-{run}.txt", f"New article {run}", [f"Fresh text number {run} on topic {run}."])
    victim = sorted(corpus.glob("article-*.txt"))[run % 3]
    victim.write_text(victim.read_text().replace("second sentence", f"changed sentence {run}", 1))
    if run % 3 == 2:
        sorted(corpus.glob("new-*.txt"))[0].unlink()


@slow
def test_kill_9_during_builds_never_loses_the_served_index(tmp_path):
    corpus = small_corpus(tmp_path / "corpus")
    index = tmp_path / "index"
    build_index(corpus, index, HashingEmbedder())
    rng = random.Random(20240601)
    landed = []
    runs = [("die-at", point) for point in KILL_POINTS] + [("random", None)] * 5
    for run, (how, point) in enumerate(runs):
        before = contents(index)
        mutate(corpus, run)
        expected = clean_build(corpus, tmp_path / "clean")
        if how == "die-at":
            process = start_build(corpus, index, "--seed", str(run), "--pause", "0.02", "--die-at", point)
        else:
            process = start_build(corpus, index, "--seed", str(run), "--pause", "0.06")
            assert process.stdout.readline().startswith("phase start")  # imports done: the build begins now
            time.sleep(rng.uniform(0.0, 1.0))
            process.send_signal(signal.SIGKILL)
        out, err = process.communicate(timeout=60)
        reached = [name for name, _ in phases(out)]
        landed.append(reached[-1] if process.returncode == -signal.SIGKILL else "finished")
        if how == "die-at":
            assert process.returncode == -signal.SIGKILL and reached[-1] == point, (out, err)

        served = contents(index)
        assert_sound(index, served)
        switched = "switch_current-done" in reached
        if switched:
            assert same(served, expected), f"run {run}: killed after the switch, the new index must be complete"
        elif "switch_current" not in reached:
            assert same(served, before), f"run {run}: killed at {reached[-1]}, the previous index must serve"
        else:  # killed inside the atomic replace of CURRENT: one or the other, never a mixture
            assert same(served, before) or same(served, expected)
        reader = IndexReader(index)
        assert reader.snapshot().version == served["version"] and reader.error is None
    assert len(set(landed)) >= 5, f"kills landed at too few points: {landed}"

    report = build_index(corpus, index, HashingEmbedder())  # the next build completes ...
    final = contents(index)
    assert same(final, clean_build(corpus, tmp_path / "clean"))  # ... with nothing lost or duplicated
    assert report.passages_total == len(final["passages"])
    assert not list(index.glob("*.partial")), "leftovers of killed builds are cleared"
    assert len(generations(index)) <= 3
    with build_lock(index, wait_seconds=1):  # no build left the lock held
        pass


# --- two builds at once ------------------------------------------------------------------------------------------

def wait_for_phase(process: subprocess.Popen, name: str, timeout: float = 60) -> list[str]:
    """Read the build's output until it reports phase `name`; the lines read so far."""
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stdout.readline() if process.stdout else ""
        if not line:
            break
        lines.append(line)
        if line.startswith(f"phase {name} "):
            return lines
    raise AssertionError(f"the build never reached {name}: {lines[-5:]}")


@slow
def test_two_builds_at_once_run_one_after_the_other_and_never_mix(tmp_path):
    corpus_a = small_corpus(tmp_path / "a", n=4)
    corpus_b = small_corpus(tmp_path / "b", n=7)
    write_article(corpus_b, "only-in-b.txt", "Only in B", ["This paragraph exists only in corpus B."])
    index = tmp_path / "index"
    build_index(corpus_a, index, HashingEmbedder())
    hold = tmp_path / "hold"
    hold.touch()
    first = start_build(corpus_a, index, "--seed", "1", "--pause", "0.02", "--hold-file", str(hold))
    first_lines = wait_for_phase(first, "locked")
    second = start_build(corpus_b, index, "--seed", "2", "--pause", "0.02", "--switch-corpus")  # a's index, replaced
    second_lines = wait_for_phase(second, "wait-lock")
    time.sleep(1.0)
    assert second.poll() is None, "the second build waits for the lock, it does not fail or finish"
    hold.unlink()  # the first build goes on; the second takes the lock when the first lets it go
    outputs = [("".join(lines) + out, err) for lines, (out, err) in
               zip((first_lines, second_lines), (p.communicate(timeout=120) for p in (first, second)))]
    assert [p.returncode for p in (first, second)] == [0, 0], outputs
    first_phases, second_phases = (dict(phases(out)) for out, _ in outputs)
    assert first_phases["prune-done"] <= second_phases["locked"], "the builds overlapped inside the lock"

    served = contents(index)
    assert_sound(index, served)
    assert same(served, clean_build(corpus_b, tmp_path / "clean")), "the index is exactly the last build's"
    assert not list(index.glob("*.partial"))


@slow
def test_a_second_build_that_cannot_get_the_lock_fails_clearly_and_changes_nothing(tmp_path):
    corpus = small_corpus(tmp_path / "corpus", n=4)
    index = tmp_path / "index"
    build_index(corpus, index, HashingEmbedder())
    write_article(corpus, "extra.txt", "Extra", ["An extra article for the holder to index."])
    hold = tmp_path / "hold"
    hold.touch()
    holder = start_build(corpus, index, "--seed", "3", "--pause", "0.02", "--hold-file", str(hold))
    wait_for_phase(holder, "locked")
    before = contents(index)
    second = start_build(corpus, index, "--lock-wait", "0.5")
    out, err = second.communicate(timeout=60)
    assert second.returncode == 1
    assert "Error: another index build is running" in err and "Traceback" not in err
    assert same(contents(index), before)
    hold.unlink()
    holder.communicate(timeout=120)
    assert holder.returncode == 0
    assert same(contents(index), clean_build(corpus, tmp_path / "clean"))


# --- damaged index files at start-up -----------------------------------------------------------------------------

def truncate(path: Path, keep: float = 0.5) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


DAMAGE = {
    "dense.faiss truncated": lambda gen: truncate(gen / "dense.faiss"),
    "dense.faiss emptied": lambda gen: truncate(gen / "dense.faiss", 0),
    "meta.sqlite truncated": lambda gen: truncate(gen / "meta.sqlite", 0.3),
    "manifest.json truncated": lambda gen: truncate(gen / "manifest.json"),
    "sentences.npy truncated": lambda gen: truncate(gen / "sentences.npy", 0.7),
    "lexical index truncated": lambda gen: truncate(gen / "lexical" / "vocab.index.json"),
    "dense.faiss replaced by garbage": lambda gen: (gen / "dense.faiss").write_bytes(os.urandom(4096)),
    "a byte flipped in sentences.npy": lambda gen: flip_byte(gen / "sentences.npy"),
    "a byte flipped in meta.sqlite": lambda gen: flip_byte(gen / "meta.sqlite"),
}


def flip_byte(path: Path, at: float = 0.6) -> None:
    """Damage that a truncation check cannot see: same size, and the file still loads."""
    data = bytearray(path.read_bytes())
    data[int(len(data) * at)] ^= 0x20
    path.write_bytes(bytes(data))


def two_generations(tmp_path: Path) -> tuple[Path, Path, str, str]:
    corpus = small_corpus(tmp_path / "corpus", n=3)
    index = tmp_path / "index"
    old = build_index(corpus, index, HashingEmbedder()).version
    write_article(corpus, "later.txt", "Later", ["An article added in the second generation."])
    new = build_index(corpus, index, HashingEmbedder()).version
    return corpus, index, old, new


def fake_app(corpus: Path, index: Path):
    config = Config(corpus_dir=corpus, index_dir=index)
    return create_app(config, service=QAService(config, embedder=HashingEmbedder())).test_client()


@pytest.mark.parametrize("damage", DAMAGE)
def test_a_damaged_index_with_no_older_generation_is_503_with_the_reason(tmp_path, damage):
    corpus, index, _, _ = two_generations(tmp_path)
    current = index / read_current_name(index)
    for older in generations(index):
        if older != current:
            shutil.rmtree(older)
    DAMAGE[damage](current)
    client = fake_app(corpus, index)
    health = client.get("/healthz")
    assert health.status_code == 503
    body = health.get_json()
    assert body["status"] == "unavailable" and body["error"]["code"] == "index_unavailable"
    message = body["error"]["message"]
    assert any(word in message for word in ("damaged", "unreadable", "empty", "disagree")), message
    for response in (client.post("/api/ask", json={"question": "subject"}), client.get("/api/articles")):
        assert response.status_code == 503 and response.get_json()["error"]["message"] == message


@pytest.mark.parametrize("damage", DAMAGE)
def test_a_damaged_current_generation_falls_back_to_the_previous_good_one(tmp_path, damage, caplog):
    corpus, index, old, new = two_generations(tmp_path)
    DAMAGE[damage](index / read_current_name(index))
    client = fake_app(corpus, index)
    with caplog.at_level(logging.WARNING, logger="qa_service.index.generation.read"):
        health = client.get("/healthz")
    assert health.status_code == 200 and health.get_json()["index_version"] == old
    answer = client.post("/api/ask", json={"question": "subject 12"})
    assert answer.status_code == 200 and answer.get_json()["index_version"] == old
    assert "not served" in caplog.text and old.split("-")[0] in caplog.text.replace("gen-", "")


@pytest.mark.parametrize("content", ["", "\n", "gen-999999\n", "../../etc\n", "\x00\xff"])
def test_a_damaged_current_file_serves_the_newest_good_generation(tmp_path, content, caplog):
    corpus, index, old, new = two_generations(tmp_path)
    (index / CURRENT).write_bytes(content.encode("latin-1"))
    client = fake_app(corpus, index)
    with caplog.at_level(logging.WARNING, logger="qa_service.index.generation.read"):
        health = client.get("/healthz")
    assert health.status_code == 200 and health.get_json()["index_version"] == new
    assert "not served" in caplog.text


def test_a_damaged_current_file_and_no_generation_is_503(tmp_path):
    corpus, index, _, _ = two_generations(tmp_path)
    for generation in generations(index):
        shutil.rmtree(generation)
    client = fake_app(corpus, index)
    health = client.get("/healthz")
    assert health.status_code == 503 and "unreadable manifest" in health.get_json()["error"]["message"]
    (index / CURRENT).write_text("")
    health = fake_app(corpus, index).get("/healthz")
    assert health.status_code == 503 and "is empty or unreadable" in health.get_json()["error"]["message"]


def test_a_build_repairs_a_garbled_current_file(tmp_path):
    corpus, index, _, new = two_generations(tmp_path)
    (index / CURRENT).write_bytes(b"\xff\xfe\x00garbage")
    client = fake_app(corpus, index)
    assert client.get("/healthz").get_json()["index_version"] == new
    repaired = build_index(corpus, index, HashingEmbedder())
    assert read_current_name(index) == f"gen-{repaired.version.split('-')[0]}"
    assert client.get("/healthz").get_json()["index_version"] == repaired.version
    assert same(contents(index), clean_build(corpus, tmp_path / "clean"))


def test_a_build_never_carries_a_damaged_vector_over(tmp_path):
    corpus, index, _, _ = two_generations(tmp_path)
    flip_byte(index / read_current_name(index) / "passages.npy")
    write_article(corpus, "third.txt", "Third", ["An article added after the damage."])
    embedder = HashingEmbedder()
    build_index(corpus, index, embedder)
    assert "An article added in the second generation." in embedder.encoded, "everything embedded again"
    assert same(contents(index), clean_build(corpus, tmp_path / "clean"))


def test_a_build_after_damage_repairs_the_index_and_the_service_switches_to_it(tmp_path):
    corpus, index, old, new = two_generations(tmp_path)
    truncate(index / read_current_name(index) / "meta.sqlite", 0.2)
    client = fake_app(corpus, index)
    degraded = client.get("/healthz").get_json()
    assert degraded["index_version"] == old
    assert "damaged" in degraded["warning"]
    repaired = build_index(corpus, index, HashingEmbedder()).version
    health = client.get("/healthz").get_json()
    assert health["index_version"] == repaired and health["articles"] == 4
    assert "warning" not in health


# --- the real server ---------------------------------------------------------------------------------------------

def refused_as_too_large(url: str, data) -> bool:
    """True when the server answers 413 JSON, or closes the connection before the whole body is sent.

    Gunicorn may answer 413 and close while the client is still writing; the client then sees a broken
    pipe instead of the answer. Either way the body was refused, which is what matters here.
    """
    req = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    try:
        urllib.request.urlopen(req, timeout=30)
    except urllib.error.HTTPError as exc:
        return exc.code == 413 and json.loads(exc.read())["error"]["code"] == "request_entity_too_large"
    except (urllib.error.URLError, ConnectionError) as exc:
        reason = getattr(exc, "reason", exc)
        return isinstance(reason, (BrokenPipeError, ConnectionResetError))
    return False


@pytest.fixture
def server_factory(tmp_path):
    started: list[Server] = []

    def start(corpus: Path, index: Path, token: str | None = None) -> Server:
        server = Server(corpus, index, tmp_path, token)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@slow
def test_a_server_started_on_a_damaged_index_stays_up_answers_503_then_recovers(fresh_index, embedder,
                                                                                  server_factory):
    corpus, index = fresh_index
    truncate(index / read_current_name(index) / "dense.faiss")
    server = server_factory(corpus, index)
    status, body = server.wait_until_answering()
    assert status == 503 and "damaged" in body["error"]["message"]
    for _ in range(5):  # it stays up and keeps answering: no crash, no restart loop
        time.sleep(0.5)
        assert server.process.poll() is None
        status, body = http(server.base + "/healthz")
        assert status == 503 and "damaged" in body["error"]["message"]
    status, body = http(server.base + "/api/ask", {"question": "What did Pompeo warn about?"})
    assert status == 503 and body["error"]["code"] == "index_unavailable"
    assert server.log().count("Booting worker") == 1, "the worker was never restarted"
    assert "index generation not served" in server.log()

    version = build_index(corpus, index, embedder).version  # a good build: served without a restart
    status, body = http(server.base + "/healthz")
    assert status == 200 and body["index_version"] == version
    status, body = http(server.base + "/api/ask", {"question": "What did Pompeo warn about?"})
    assert status == 200 and body["passages"][0]["citation"]["date"] == "2018-11-22"

    big = json.dumps({"question": "Pompeo " * 150_000}).encode()  # a 1 MB question
    assert refused_as_too_large(server.base + "/api/ask", big)
    chunked = json.dumps({"question": "Pompeo " * 15_000}).encode()  # 100 kB sent chunked, without Content-Length
    assert refused_as_too_large(server.base + "/api/ask", (chunked[i:i + 8192] for i in range(0, len(chunked), 8192)))
    assert http(server.base + "/healthz")[0] == 200, "still serving after the oversized bodies"
    assert "Traceback" not in server.log()


QUESTIONS = ["What did Pompeo warn about?", "Who took hostages in Sydney?", "How do penguins survive?",
             "What is new about lighthouses?", "Tell me about the volcano article", "What about the cuba embargo?"]
NEW_ARTICLES = [
    ("penguins", "Penguins of the Antarctic", "Emperor penguins huddle together to survive the winter storms."),
    ("lighthouses", "Lighthouses", "Lighthouse keepers once lived in stone cottages beside the light."),
    ("volcanoes", "Volcanoes", "The volcano erupted at night and ash fell on the villages."),
]


@slow
def test_rebuilding_the_index_under_load_fails_no_request_and_mixes_no_versions(fresh_index, embedder,
                                                                                server_factory):
    corpus, index = fresh_index
    server = server_factory(corpus, index, token=TOKEN)
    assert server.wait_until_answering()[0] == 200
    served = {contents(index)["version"]: set(contents(index)["articles"])}  # version -> its article ids
    results: list[tuple[int, str | None, set]] = []
    errors: list[str] = []
    stop = threading.Event()

    def load(seed: int) -> None:
        rng = random.Random(seed)
        deadline = time.monotonic() + 120
        for _ in range(3000):
            if stop.is_set() or time.monotonic() > deadline:
                return
            try:
                status, body = http(server.base + "/api/ask", {"question": rng.choice(QUESTIONS), "top_k": 8})
            except OSError as exc:  # a refused or reset connection is a failed request too
                errors.append(repr(exc))
                continue
            cited = {p["citation"]["article_id"] for p in body.get("passages", [])}
            results.append((status, body.get("index_version"), cited))

    threads = [threading.Thread(target=load, args=(seed,)) for seed in range(3)]
    for thread in threads:
        thread.start()
    try:
        time.sleep(1.0)
        for article_id, title, text in NEW_ARTICLES:  # three rebuilds from another process
            write_article(corpus, f"{article_id}.txt", title, [text])
            version = build_index(corpus, index, embedder).version
            served[version] = set(contents(index)["articles"])
            time.sleep(0.7)
        headers = {"Authorization": f"Bearer {TOKEN}"}
        status, body = http(server.base + "/api/articles", {"title": "Glaciers", "text": "Glaciers are melting."},
                            headers=headers)  # and two through the server's own admin API, while it serves
        assert status == 201, body
        served[body["index_version"]] = set(contents(index)["articles"])
        time.sleep(0.7)
        status, body = http(server.base + "/api/articles/penguins", method="DELETE", headers=headers)
        assert status == 200, body
        served[body["index_version"]] = set(contents(index)["articles"])
        time.sleep(1.0)
    finally:
        stop.set()
        for thread in threads:
            thread.join(150)
    final = contents(index)["version"]
    print(f"\nunder load: {len(results)} requests, {sum(r[0] == 200 for r in results)} answered 200, "
          f"{len(errors)} connection errors; {len(served)} versions served, {len({r[1] for r in results})} seen")

    assert not errors, errors[:5]
    assert len(results) >= 30, f"too little load to mean anything: {len(results)} requests"
    assert [r for r in results if r[0] != 200] == [], "every request under rebuilds succeeds"
    seen = [version for _, version, _ in results]
    assert set(seen) <= set(served), f"unknown versions answered: {set(seen) - set(served)}"
    for _, version, cited in results:
        assert cited <= served[version], f"{version} cited articles it does not hold: {cited - served[version]}"
    assert len(set(seen)) >= 3, f"the load saw too few of the {len(served)} versions: {sorted(set(seen))}"
    assert seen[-1] == final or http(server.base + "/healthz")[1]["index_version"] == final
    assert server.process.poll() is None and "Traceback" not in server.log()
