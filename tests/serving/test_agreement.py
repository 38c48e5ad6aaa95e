"""Issue 11: the corpus, the index and the server agree under every fault a red-team found.

Each test reproduces one finding and fails without its fix. Everything is in-process or on
127.0.0.1, and every wait is bounded.
"""

from __future__ import annotations

import errno
import importlib
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from qa_service.config import PROJECT_ROOT, Config
from qa_service.index.generation import build as store
from qa_service.index.generation.build import build_index, is_up_to_date
from qa_service.index.generation.layout import read_current_name
from qa_service.index.generation.read import Snapshot
from qa_service.ingest.corpus import corpus_files
from qa_service.service import QAService
from qa_service.serving.web import create_app

from ..fakes import HashingEmbedder
from ..fixtures import admin_env, write_article

admin_module = importlib.import_module("qa_service.serving.web.admin")

TOKEN = "agreement-test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def make_env(tmp_path: Path):
    env = admin_env(tmp_path, TOKEN)
    return env.corpus, env.index, env.client


def served_ids(index: Path) -> set[str]:
    return set(Snapshot(index / str(read_current_name(index))).articles)


def corpus_ids(corpus: Path) -> set[str]:
    return {p.stem for p in corpus_files(corpus)}


# --- 1. a CLI build beside an admin change -----------------------------------------------------------------------

@pytest.mark.parametrize("change", ["delete", "add"])
def test_a_cli_build_beside_an_admin_change_leaves_corpus_and_index_in_step(tmp_path, monkeypatch, change):
    """The admin change arrives while a build holds the lock, after the build started and before it lists
    the corpus; the build is still running when the change gives up waiting (503)."""
    corpus, index, client = make_env(tmp_path)
    write_article(corpus, "extra.txt", "Extra", ["An extra article for the build to embed."])
    monkeypatch.setattr(admin_module, "LOCK_WAIT_SECONDS", 1.0)
    before = sorted(p.name for p in corpus.iterdir())
    answers: list = []

    def admin_change() -> None:
        if change == "delete":
            answers.append(client.delete("/api/articles/harbour", headers=AUTH))
        else:
            answers.append(client.post("/api/articles", json={"title": "Lighthouses", "text": "Keepers lived here."},
                                       headers=AUTH))

    admin = threading.Thread(target=admin_change)
    real_carryover = store.read_carryover

    def carryover_then_admin_change(*args, **kwargs):
        """Inside the build, before the corpus is listed: the admin change starts and (unfixed) moves files."""
        result = real_carryover(*args, **kwargs)
        admin.start()
        deadline = time.monotonic() + 10
        while admin.is_alive() and sorted(p.name for p in corpus.iterdir()) == before and time.monotonic() < deadline:
            time.sleep(0.02)
        return result

    class WaitingEmbedder(HashingEmbedder):
        def encode(self, texts, batch_size=32, progress=None):
            admin.join(60)  # the corpus is listed by now; the admin change gives up while the build runs
            return super().encode(texts, batch_size, progress)

    monkeypatch.setattr(store, "read_carryover", carryover_then_admin_change)
    build_index(corpus, index, WaitingEmbedder())
    admin.join(60)
    assert answers and answers[0].status_code == 503, answers[0].get_json()
    assert answers[0].get_json()["error"]["code"] == "index_busy"
    assert sorted(p.name for p in corpus.iterdir() if not p.name.startswith(".")) == before, \
        "a refused change leaves the corpus as it was"
    assert served_ids(index) == corpus_ids(corpus), "the index holds exactly the corpus's articles"
    embedder = HashingEmbedder()
    assert is_up_to_date(index, corpus, embedder.name, embedder.encoder)

    monkeypatch.setattr(store, "read_carryover", real_carryover)
    admin = threading.Thread(target=admin_change)
    admin.run()  # with no build running, the change goes through
    assert answers[1].status_code in (200, 201), answers[1].get_json()
    assert served_ids(index) == corpus_ids(corpus)


# --- 2. "up to date" includes the integrity check ----------------------------------------------------------------

def flip_byte(path: Path, at: float = 0.6) -> None:
    data = bytearray(path.read_bytes())
    data[int(len(data) * at)] ^= 0x20
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("damaged", ["sentences.npy", "meta.sqlite", "dense.faiss"])
def test_qa_service_index_repairs_a_damaged_only_generation(tmp_path, fake_cli, damaged):
    corpus, index, client = make_env(tmp_path)
    assert "up to date" in fake_cli("index", "--corpus", str(corpus), "--index", str(index)).output
    flip_byte(index / read_current_name(index) / damaged)
    assert client.get("/healthz").status_code == 503
    result = fake_cli("index", "--corpus", str(corpus), "--index", str(index), "--quiet")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("Index 000002") and "2 in all" in result.output
    health = client.get("/healthz")
    assert health.status_code == 200 and "warning" not in health.get_json()
    assert "up to date" in fake_cli("index", "--corpus", str(corpus), "--index", str(index)).output


# --- 4. one bad file name ----------------------------------------------------------------------------------------

def add_bad_files(corpus: Path, monkeypatch) -> None:
    """A file whose name is not UTF-8 and one that cannot be read (chmod 000; root reads anyway, so its read
    is also made to fail as it would for any other user)."""
    fd = os.open(os.fsencode(corpus) + b"/bad\xffname.txt", os.O_WRONLY | os.O_CREAT, 0o644)
    os.write(fd, b"T\n\nP.\n")
    os.close(fd)
    locked = corpus / "locked.txt"
    locked.write_text("Locked\n\nA paragraph nobody may read.\n")
    locked.chmod(0)
    real_read_bytes = Path.read_bytes

    def read_bytes(self):
        if self.name == "locked.txt":
            raise PermissionError(13, "Permission denied", str(self))
        return real_read_bytes(self)

    monkeypatch.setattr(Path, "read_bytes", read_bytes)


def test_bad_file_names_and_unreadable_files_are_reported_and_skipped_by_the_cli(tmp_path, fake_cli, monkeypatch):
    corpus, index, client = make_env(tmp_path)
    add_bad_files(corpus, monkeypatch)
    result = fake_cli("index", "--corpus", str(corpus), "--index", str(index), "--quiet")
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output and result.exception is None
    assert "Skipped bad\\xffname.txt: the file name is not UTF-8" in result.output
    assert "Skipped locked.txt: cannot read file (Permission denied)" in result.output
    assert "2 unchanged, 2 skipped" in result.output
    assert "up to date" in fake_cli("index", "--corpus", str(corpus), "--index", str(index)).output


def test_bad_file_names_do_not_block_admin_changes(tmp_path, monkeypatch):
    corpus, index, client = make_env(tmp_path)
    add_bad_files(corpus, monkeypatch)
    added = client.post("/api/articles", json={"title": "Lighthouses", "text": "Keepers lived here."}, headers=AUTH)
    assert added.status_code == 201, added.get_json()
    skipped = {p["path"]: p["reason"] for p in added.get_json()["build"]["skipped"]}
    assert set(skipped) == {"bad\\xffname.txt", "locked.txt"}
    assert client.delete("/api/articles/lighthouses", headers=AUTH).status_code == 200
    assert served_ids(index) == {"harbour", "bridges"}


# --- 7. read-your-writes -----------------------------------------------------------------------------------------

def test_after_an_admin_201_every_thread_reads_the_new_article(tmp_path, monkeypatch):
    """Loading the new generation is slowed down, so that most of the readers arrive while one thread loads it."""
    corpus, index, client = make_env(tmp_path)
    app = client.application
    assert client.get("/api/articles/lighthouses").status_code == 404  # the reader holds the old generation
    other_worker = two_workers(corpus, index)[0]
    assert other_worker.get("/api/articles/lighthouses").status_code == 404
    added = client.post("/api/articles", json={"title": "Lighthouses", "text": "Keepers lived here."}, headers=AUTH)
    assert added.status_code == 201
    real_load = Snapshot._load

    def slow_load(self):
        time.sleep(1.0)
        real_load(self)

    monkeypatch.setattr(Snapshot, "_load", slow_load)
    readers = 16
    start = threading.Barrier(readers)
    statuses: list[int] = []

    def read() -> None:
        reader = app.test_client()
        start.wait(30)
        statuses.append(reader.get("/api/articles/lighthouses").status_code)

    threads = [threading.Thread(target=read) for _ in range(readers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert statuses == [200] * readers
    assert other_worker.get("/api/articles/lighthouses").status_code == 200  # another worker too


# --- 8. one version for every worker; no stale warning -----------------------------------------------------------

def test_the_older_generation_warning_clears_when_current_is_repaired(tmp_path):
    corpus, index, client = make_env(tmp_path)
    write_article(corpus, "later.txt", "Later", ["An article of the second generation."])
    newest = build_index(corpus, index, HashingEmbedder()).version
    good = (index / "CURRENT").read_bytes()
    (index / "CURRENT").write_bytes(b"gen-999999\n")
    health = client.get("/healthz").get_json()
    assert health["index_version"] == newest and "warning" in health
    (index / "CURRENT").write_bytes(good)  # repaired by hand: the same generation, now named by CURRENT
    health = client.get("/healthz").get_json()
    assert health["index_version"] == newest and "warning" not in health


def two_workers(corpus: Path, index: Path):
    """Two apps over one index, as two gunicorn workers: each its own reader."""
    config = Config(corpus_dir=corpus, index_dir=index)
    return [create_app(config, service=QAService(config, embedder=HashingEmbedder())).test_client() for _ in "ab"]


def test_workers_agree_when_the_served_generation_is_damaged_and_then_repaired(tmp_path, monkeypatch):
    from qa_service.index.generation.read import IndexReader

    monkeypatch.setattr(IndexReader, "VERIFY_SECONDS", 0.0)  # the files are looked at on every request
    corpus, index, _ = make_env(tmp_path)
    old = build_index(corpus, index, HashingEmbedder()).version
    write_article(corpus, "later.txt", "Later", ["An article of the second generation."])
    new = build_index(corpus, index, HashingEmbedder()).version
    running, _ = two_workers(corpus, index)
    assert running.get("/healthz").get_json()["index_version"] == new  # loaded before the damage
    damaged = index / read_current_name(index) / "sentences.npy"
    good = damaged.read_bytes()
    flip_byte(damaged)
    _, restarted = two_workers(corpus, index)  # a worker started (or restarted) after the damage
    answers = [w.get("/healthz").get_json() for w in (running, restarted, running, restarted)]
    assert [a["index_version"] for a in answers] == [old] * 4, answers
    assert all("damaged" in a["warning"] for a in answers)
    damaged.write_bytes(good)  # repaired in place; CURRENT never changed
    answers = [w.get("/healthz").get_json() for w in (running, restarted)]
    assert [a["index_version"] for a in answers] == [new] * 2 and not any("warning" in a for a in answers)


# --- 6. titles that slugify to nothing ---------------------------------------------------------------------------

def test_titles_in_any_script_get_distinct_readable_ids(tmp_path):
    corpus, index, client = make_env(tmp_path)
    titles = ["한국 경제의 미래", "...", "\u200b\u200b", "!!!", "Москва сегодня"]
    ids = []
    for n, title in enumerate(titles):
        response = client.post("/api/articles", json={"title": title, "text": f"Paragraph number {n}."}, headers=AUTH)
        assert response.status_code == 201, (title, response.get_json())
        ids.append(response.get_json()["id"])
    assert len(set(ids)) == len(titles)
    assert ids[0] == "hangug-gyeongjeui-milae" and ids[4] == "moskva-segodnya"
    assert all(i.startswith("article-") for i in ids[1:4])
    for article_id, title in zip(ids, titles):
        body = client.get(f"/api/articles/{article_id}").get_json()
        assert body["title"] == title
    again = client.post("/api/articles?replace=1", json={"title": "...", "text": "The dots, replaced."}, headers=AUTH)
    assert again.status_code == 200 and again.get_json()["id"] == ids[1]
    assert client.get(f"/api/articles/{ids[2]}").get_json()["paragraphs"][0]["text"] == "Paragraph number 2."
    assert served_ids(index) == {"harbour", "bridges", *ids}


# --- 11. symlinks out of the corpus, url schemes, the file size cap ----------------------------------------------

def test_symlinks_out_of_the_corpus_are_refused_unless_allowed(tmp_path, fake_cli, monkeypatch):
    corpus, index, client = make_env(tmp_path)
    secret = tmp_path / "secret.txt"
    secret.write_text("Secret\n\nA file outside the corpus that must not be published.\n")
    (corpus / "outside.txt").symlink_to(secret)
    (corpus / "kept").mkdir()
    write_article(corpus / "kept", "inner.txt", "Inner", ["A file inside the corpus folder, linked."])
    (corpus / "inner.txt").symlink_to(corpus / "kept" / "inner.txt")
    result = fake_cli("index", "--corpus", str(corpus), "--index", str(index), "--quiet")
    assert result.exit_code == 0, result.output
    assert "Skipped outside.txt: symbolic link to a file outside the corpus folder" in result.output
    assert served_ids(index) == {"harbour", "bridges", "inner"}
    monkeypatch.setenv("QA_CORPUS_ALLOW_OUTSIDE_LINKS", "1")
    assert fake_cli("index", "--corpus", str(corpus), "--index", str(index), "--quiet").exit_code == 0
    assert served_ids(index) == {"harbour", "bridges", "inner", "outside"}


def test_corpus_files_over_the_size_cap_are_skipped_and_reported(tmp_path, fake_cli, monkeypatch):
    corpus, index, client = make_env(tmp_path)
    write_article(corpus, "big.txt", "Big", [f"Paragraph {n} of a long article, with some words." for n in range(100)])
    monkeypatch.setenv("QA_MAX_FILE_BYTES", "2000")
    result = fake_cli("index", "--corpus", str(corpus), "--index", str(index), "--quiet")
    assert result.exit_code == 0, result.output
    size = (corpus / "big.txt").stat().st_size
    assert f"Skipped big.txt: {size:,} bytes, over the limit of 2,000 per file" in result.output
    assert served_ids(index) == {"harbour", "bridges"}
    questions = tmp_path / "questions.jsonl"
    questions.write_text('{"question": "Where is the harbour?", "answers": ["harbour"], "article": "harbour.txt"}\n')
    evaluated = tmp_path / "eval-index"
    result = fake_cli("eval", "--corpus", str(corpus), "--questions", str(questions), "--index", str(evaluated),
                      "--quiet")
    assert result.exit_code == 0, result.output
    assert served_ids(evaluated) == {"harbour", "bridges"}  # eval builds with the same limits
    config = Config(corpus_dir=corpus, index_dir=index, admin_token=TOKEN, max_file_bytes=2000)
    admin = create_app(config, service=QAService(config, embedder=HashingEmbedder())).test_client()
    too_big = admin.post("/api/articles", json={"title": "Long", "text": "word " * 1000}, headers=AUTH)
    assert too_big.status_code == 413 and too_big.get_json()["error"]["code"] == "article_too_large"
    assert not (corpus / "long.md").exists()


@pytest.mark.parametrize("url", ["javascript:alert(1)", "data:text/html,<b>x</b>", "JaVaScRiPt:alert(1)",
                                 "//example.org/x", "ftp://example.org/x", "http://exa mple.org"])
def test_only_http_urls_from_front_matter_are_served(tmp_path, url):
    corpus, index, client = make_env(tmp_path)
    (corpus / "linked.md").write_text(f"---\ntitle: Linked\nurl: {url}\n---\n\nA paragraph with a link.\n")
    (corpus / "good.md").write_text("---\ntitle: Good\nurl: https://example.org/good\n---\n\nA good link.\n")
    build_index(corpus, index, HashingEmbedder())
    assert client.get("/api/articles/linked").get_json()["url"] is None
    assert client.get("/api/articles/good").get_json()["url"] == "https://example.org/good"
    listed = client.get("/api/articles").get_json()["articles"]
    assert all(a["url"] in (None, "https://example.org/good") for a in listed)


def test_an_index_built_before_the_url_check_does_not_serve_its_javascript_url(tmp_path, monkeypatch):
    from qa_service.ingest.formats import markdown

    corpus, index, client = make_env(tmp_path)
    (corpus / "linked.md").write_text("---\ntitle: Linked\nurl: javascript:alert(1)\n---\n\nA paragraph.\n")
    with monkeypatch.context() as unchecked:  # as an older version built it
        unchecked.setattr(markdown, "http_url", lambda value: value or None)
        build_index(corpus, index, HashingEmbedder())
    assert client.get("/api/articles/linked").get_json()["url"] is None


# --- 11. a worker killed during an admin change -------------------------------------------------------------------

KILLED_CHANGE = """
import os, signal, sys
from pathlib import Path
from qa_service.index.generation import build as store
from qa_service.config import Config
from qa_service.service import QAService
from qa_service.serving.web import create_app
from tests.fakes import HashingEmbedder

corpus, index, when = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
die = lambda *a, **k: os.kill(os.getpid(), signal.SIGKILL)
if when == "before-switch":
    class Dying(HashingEmbedder):
        def encode(self, *a, **k):
            die()
    embedder = Dying()
else:
    store._prune = die  # after CURRENT names the new generation, before the admin route cleans up
    embedder = HashingEmbedder()
config = Config(corpus_dir=corpus, index_dir=index, admin_token="t")
client = create_app(config, service=QAService(config, embedder=embedder)).test_client()
client.post("/api/articles?replace=1", json={"title": "Bridges", "text": "Rewritten text on bridges."},
            headers={"Authorization": "Bearer t"})
"""


@pytest.mark.parametrize("when", ["before-switch", "after-switch"])
def test_a_change_whose_process_was_killed_is_undone_or_completed_at_start(tmp_path, when):
    from qa_service.changes.corpus_change import recover_at_start

    corpus, index, client = make_env(tmp_path)
    (corpus / "bridges.txt").rename(corpus / "bridges.md")  # replaced in place: same name, new text
    build_index(corpus, index, HashingEmbedder())
    before = (corpus / "bridges.md").read_text()
    process = subprocess.run([sys.executable, "-c", KILLED_CHANGE, str(corpus), str(index), when],
                             cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120)
    assert process.returncode == -signal.SIGKILL, process.stderr
    assert list(corpus.glob(".*.aside")), "the killed change left files aside"
    embedder = HashingEmbedder()

    recover_at_start(Config(corpus_dir=corpus, index_dir=index), 30.0)  # as a new worker does before serving
    assert not list(corpus.glob(".*.aside")) and not (index / ".admin-change.json").exists()
    text = client.get("/api/articles/bridges").get_json()["paragraphs"][0]["text"]
    if when == "before-switch":
        assert (corpus / "bridges.md").read_text() == before and text == "The new bridge opened to traffic in May."
    else:
        assert "Rewritten text on bridges." in (corpus / "bridges.md").read_text()
        assert text == "Rewritten text on bridges."
    assert served_ids(index) == corpus_ids(corpus)
    assert is_up_to_date(index, corpus, embedder.name, embedder.encoder)


# --- 10. one-line CLI errors; a damaged ONNX export is made again -------------------------------------------------

@pytest.mark.parametrize(("error", "says"), [
    (OSError(errno.ENOSPC, "No space left on device"), "free some disk space"),
    (PermissionError(errno.EACCES, "Permission denied"), "run it as a user who may write there"),
])
def test_a_full_disk_or_a_permission_error_is_one_line_and_leaves_the_index(tmp_path, fake_cli, monkeypatch,
                                                                             error, says):
    corpus, index, client = make_env(tmp_path)
    write_article(corpus, "extra.txt", "Extra", ["An extra article to write a generation for."])
    before = read_current_name(index)

    def fail(dense, path):
        error.filename = str(path)
        raise error

    monkeypatch.setattr(store, "write_dense_index", fail)
    result = fake_cli("index", "--corpus", str(corpus), "--index", str(index), "--quiet")
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: cannot write the index"), result.output
    assert says in lines[0] and "dense.faiss" in lines[0] and "Traceback" not in result.output
    assert read_current_name(index) == before and not list(index.glob("*.partial"))
    assert client.get("/healthz").status_code == 200


def test_a_damaged_onnx_export_is_detected_and_made_again(tmp_path, embedder, caplog):
    from qa_service.config import PROJECT_ROOT
    from qa_service.index.embedder import Embedder
    from qa_service.index.onnx_export import INT8_FILE

    shutil.copytree(PROJECT_ROOT / "embeddings" / "models", tmp_path / "models",
                    ignore=shutil.ignore_patterns("*.lock"))
    in_use = embedder.model_file.relative_to((PROJECT_ROOT / "embeddings" / "models").resolve())
    exported = tmp_path / "models" / in_use.parts[0]  # the export the session's encoder runs
    data = (exported / INT8_FILE).read_bytes()
    (exported / INT8_FILE).write_bytes(data[: len(data) // 2])  # truncated, as by a full disk or a kill
    config = Config()
    again = Embedder(config.model, "onnx-int8", cache_dir=tmp_path / "models")
    assert (exported / INT8_FILE).stat().st_size == len(data)
    # Both said on stderr by default (warnings): the export is ~15 s that would otherwise pass in silence.
    said = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert any("is damaged" in m for m in said) and any("to ONNX once (~15 s)" in m for m in said), said
    probe = ["Who pollinates apple orchards?", "Pompeo warned Seoul."]
    assert np.allclose(again.encode(probe), embedder.encode(probe), atol=1e-5)


# --- 11. worker memory across admin builds ------------------------------------------------------------------------

def test_freed_memory_is_given_back_after_each_build_and_each_switch(tmp_path, monkeypatch):
    """The growth itself (606 -> 708 MB over 80 admin builds of the editorials; 593 -> 595 with the trim) takes minutes
    to measure: see qa_service/index/heap.py. Here: the trim works on this system and runs when it should."""
    from qa_service.index import heap

    assert heap.release_free_memory(), "glibc's malloc_trim is available"
    corpus, index, client = make_env(tmp_path)
    client.get("/healthz")
    calls = []
    monkeypatch.setattr(heap, "release_free_memory", lambda: calls.append(1) or True)
    added = client.post("/api/articles", json={"title": "Lighthouses", "text": "Keepers lived here."}, headers=AUTH)
    assert added.status_code == 201 and len(calls) == 1  # after the build
    assert client.get("/api/articles/lighthouses").status_code == 200 and len(calls) == 2  # after the switch
    assert client.get("/healthz").status_code == 200 and len(calls) == 2  # not on every request


def test_ask_turns_a_permission_error_into_one_line(tmp_path, fake_cli, monkeypatch):
    from qa_service.service import QAService as Service

    corpus, index, _ = make_env(tmp_path)

    def refused(self, question):  # as the first ONNX export into an index folder this user may not write
        raise PermissionError(errno.EACCES, "Permission denied", str(index / "models"))

    monkeypatch.setattr(Service, "ask", refused)
    result = fake_cli("ask", "Where do fishing boats leave from?", "--index", str(index))
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: cannot use the index folder") and "models" in lines[0]
