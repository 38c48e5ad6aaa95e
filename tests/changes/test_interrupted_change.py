"""Issue 21, item 2: an article change killed while it moves old files aside loses nothing.

The change is a real `qa-service import --replace` in a subprocess (tests/fault_build.py), killed with
SIGKILL after it has moved some of the old files aside and before it writes the new ones. Whatever
writes next (`qa-service index`, an admin change, a server start) must put those files back first.
"""

from __future__ import annotations

import csv
import signal
from pathlib import Path

import pytest

from qa_service.changes.corpus_change import JOURNAL, recover_at_start
from qa_service.config import Config
from qa_service.index.generation.build import ChangePending, build_index
from qa_service.index.generation.layout import read_current_name
from qa_service.index.generation.read import Snapshot
from qa_service.ingest.corpus import corpus_files
from qa_service.service import QAService
from qa_service.serving.web import create_app

from ..fakes import HashingEmbedder
from ..fixtures import start_build, write_article

ARTICLES = 30
MOVED = 12  # files moved aside when the import is killed
TOKEN = "interrupted-change-token"


def served(index: Path) -> dict[str, str]:
    """Article id -> its first paragraph, as the served generation holds it."""
    snap = Snapshot(index / str(read_current_name(index)))
    return {a: snap.passage_text[i] for i, a in enumerate(snap.passage_article)}


def corpus_texts(corpus: Path) -> dict[str, str]:
    return {p.stem: p.read_text().split("\n\n")[1].strip() for p in corpus_files(corpus)}


@pytest.fixture
def killed_import(tmp_path):
    """A corpus of ARTICLES indexed articles, and an import replacing all of them killed after MOVED moves."""
    corpus, index = tmp_path / "corpus", tmp_path / "index"
    corpus.mkdir()
    for n in range(ARTICLES):
        write_article(corpus, f"article-{n:02d}.txt", f"Article {n:02d}", [f"The original text of article {n}."])
    build_index(corpus, index, HashingEmbedder())
    before = corpus_texts(corpus)
    export = tmp_path / "bulk.csv"
    with open(export, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "title", "text"])
        writer.writerows([f"article-{n:02d}", f"Article {n:02d}", f"Rewritten text {n}."] for n in range(ARTICLES))
    process = start_build(corpus, index, "--import", str(export), "--die-after-moves", str(MOVED))
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == -signal.SIGKILL, stderr
    assert len(list(corpus.glob(".*.aside"))) == MOVED and (index / JOURNAL).exists()
    assert len(corpus_files(corpus)) == ARTICLES - MOVED
    return corpus, index, before


def test_index_after_a_killed_import_puts_the_moved_files_back_in_corpus_and_index(killed_import, fake_cli):
    corpus, index, before = killed_import
    result = fake_cli("index", "--corpus", str(corpus), "--index", str(index), "--quiet")
    assert result.exit_code == 0, result.output
    assert "An interrupted article change was undone before indexing." in result.output
    assert "0 removed" in result.output or "up to date" in result.output
    assert not list(corpus.glob(".*.aside")) and not (index / JOURNAL).exists()
    assert corpus_texts(corpus) == before
    assert served(index) == before

    # The next admin change finds nothing to "complete" and deletes nothing.
    config = Config(corpus_dir=corpus, index_dir=index, admin_token=TOKEN)
    client = create_app(config, service=QAService(config, embedder=HashingEmbedder())).test_client()
    added = client.post("/api/articles", json={"title": "Lighthouses", "text": "Keepers lived here."},
                        headers={"Authorization": f"Bearer {TOKEN}"})
    assert added.status_code == 201, added.get_json()
    assert len(corpus_files(corpus)) == ARTICLES + 1
    assert set(served(index)) == set(before) | {"lighthouses"}


def test_any_other_build_refuses_while_the_change_is_pending_and_names_the_command(killed_import):
    corpus, index, before = killed_import
    version = read_current_name(index)
    with pytest.raises(ChangePending) as refused:
        build_index(corpus, index, HashingEmbedder())
    assert f"run `qa-service index --corpus {corpus} --index {index}`" in str(refused.value)
    assert read_current_name(index) == version and len(list(corpus.glob(".*.aside"))) == MOVED


def test_files_moved_aside_are_restored_even_if_a_build_indexed_the_corpus_meanwhile(killed_import):
    """As `qa-service index` did before: it built the corpus with the files aside, so the served index
    matched the corpus and the next change took the killed one for complete and deleted them."""
    corpus, index, before = killed_import
    build_index(corpus, index, HashingEmbedder(), lock_held=True)  # past the refusal, as the old code built
    assert len(served(index)) == ARTICLES - MOVED
    recover_at_start(Config(corpus_dir=corpus, index_dir=index), 30.0)
    assert not list(corpus.glob(".*.aside")) and not (index / JOURNAL).exists()
    assert corpus_texts(corpus) == before
    build_index(corpus, index, HashingEmbedder())
    assert served(index) == before
