"""The service object the web app and the CLI share: what it does before its first question."""

from __future__ import annotations

from qa_service import service as service_module
from qa_service.config import Config
from qa_service.service import WARM_UP_QUESTIONS, QAService
from tests.fakes import HashingEmbedder


def test_warm_up_runs_the_encoder_and_the_whole_ask_path_before_the_first_question(built_index, embedder,
                                                                                   monkeypatch):
    corpus, index = built_index
    asked = []
    real_retrieve = service_module.retrieve
    monkeypatch.setattr(service_module, "retrieve", lambda snapshot, query, *a, **k:
                        asked.append(query.text) or real_retrieve(snapshot, query, *a, **k))
    warmed = []
    real_warm_up = embedder.warm_up
    monkeypatch.setattr(embedder, "warm_up", lambda: warmed.append(True) or real_warm_up())
    QAService(Config(corpus_dir=corpus, index_dir=index), embedder=embedder).warm_up()
    assert warmed == [True]
    assert asked == list(WARM_UP_QUESTIONS)


def test_warm_up_without_an_index_only_warms_the_encoder(tmp_path):
    embedder = HashingEmbedder()
    QAService(Config(corpus_dir=tmp_path, index_dir=tmp_path / "none"), embedder=embedder).warm_up()
    assert embedder.encoded == []
