"""Shared fixtures: the real bundled model (loaded once per session) and small real indexes."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from qa_service.config import PROJECT_ROOT, Config
from qa_service.embedder import Embedder
from qa_service.index import Snapshot
from qa_service.service import QAService
from qa_service.store import build_index, read_current_name
from qa_service.web import create_app

SHARED_DATA = Path(os.environ.get("QA_SHARED_DATA", PROJECT_ROOT.parent / "shared" / "data"))
EDITORIALS = SHARED_DATA / "editorials"
SEED_CORPUS = PROJECT_ROOT / "corpus"
SEED_ID = "donga-2018-11-22-us-warning-against-seoul-speeding"  # the seed editorial, dated 2018-11-22
# A handful of real editorials beside the seed: enough for ranking to mean something, fast to embed.
SAMPLE_EDITORIALS = (
    "aljazeera-124-iranianopportunity.txt",
    "aljazeera-115-hostagesydneysiege.txt",
    "aljazeera-097-generationalchangeuscuba.txt",
)


def needs_shared_data():
    return pytest.mark.skipif(not EDITORIALS.is_dir(), reason=f"shared data not found at {SHARED_DATA}")


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    """The real bundled all-MiniLM-L6-v2, loaded once for the whole session."""
    config = Config()
    return Embedder(config.model, config.backend, cache_dir=PROJECT_ROOT / "embeddings" / "models")


def make_corpus(folder: Path, editorials=SAMPLE_EDITORIALS) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for path in SEED_CORPUS.glob("*.txt"):
        shutil.copy(path, folder / path.name)
    for name in editorials:
        if (EDITORIALS / name).exists():
            shutil.copy(EDITORIALS / name, folder / name)
    return folder


@pytest.fixture(scope="session")
def built_index(tmp_path_factory, embedder) -> tuple[Path, Path]:
    """(corpus_dir, index_dir) of a real index over the seed and a few editorials; treat as read-only."""
    root = tmp_path_factory.mktemp("built")
    corpus = make_corpus(root / "corpus")
    index = root / "index"
    build_index(corpus, index, embedder)
    return corpus, index


@pytest.fixture(scope="session")
def snapshot(built_index) -> Snapshot:
    """The built index as the service reads it (read-only)."""
    _, index = built_index
    return Snapshot(index / read_current_name(index))


@pytest.fixture
def fresh_index(tmp_path, built_index) -> tuple[Path, Path]:
    """A private, writable copy of `built_index` for tests that change the corpus or the index."""
    corpus, index = built_index
    shutil.copytree(corpus, tmp_path / "corpus")
    shutil.copytree(index, tmp_path / "index", ignore=shutil.ignore_patterns(".build.lock"))
    return tmp_path / "corpus", tmp_path / "index"


@pytest.fixture(scope="session")
def service(built_index, embedder) -> QAService:
    corpus, index = built_index
    return QAService(Config(corpus_dir=corpus, index_dir=index), embedder=embedder)


@pytest.fixture(scope="session")
def app(service):
    return create_app(service.config, service=service)


@pytest.fixture
def client(app):
    return app.test_client()
