"""Shared fixtures: the real bundled model (loaded once per session) and small real indexes."""

from __future__ import annotations

from pathlib import Path

import pytest

from qa_service.config import PROJECT_ROOT, Config
from qa_service.index.embedder import Embedder
from qa_service.index.generation.build import build_index
from qa_service.index.generation.layout import read_current_name
from qa_service.index.generation.read import Snapshot
from qa_service.service import QAService
from qa_service.serving.web import create_app

from .fakes import HashingEmbedder
from .fixtures import copy_index, make_corpus


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    """The real bundled all-MiniLM-L6-v2, loaded once for the whole session."""
    config = Config()
    return Embedder(config.model, config.backend, cache_dir=PROJECT_ROOT / "embeddings" / "models")


@pytest.fixture(scope="session")
def torch_embedder() -> Embedder:
    """PyTorch fp32 (sentence-transformers' default runtime): the one extra model this suite loads."""
    return Embedder(Config().model, "torch")


@pytest.fixture(scope="session")
def built_index(tmp_path_factory, embedder) -> tuple[Path, Path]:
    """(corpus_dir, index_dir) of a real index over the test corpus (tests/fixtures.py); treat as read-only."""
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
    return copy_index(corpus, index, tmp_path)


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


@pytest.fixture
def fake_cli(monkeypatch):
    """The `qa-service` CLI in-process with the hashing encoder in place of the model (a build takes milliseconds)."""
    from click.testing import CliRunner

    from qa_service.cli import main
    from qa_service.index import embedder

    monkeypatch.setattr(embedder, "Embedder", lambda *a, **kw: HashingEmbedder())
    monkeypatch.setattr(embedder, "model_name_for", lambda path: HashingEmbedder.name)
    monkeypatch.setattr(embedder, "encoder_id", lambda backend: HashingEmbedder.encoder)
    monkeypatch.delenv("QA_INDEX_DIR", raising=False)
    monkeypatch.delenv("QA_CORPUS_DIR", raising=False)
    runner = CliRunner()
    return lambda *args: runner.invoke(main, list(args))
