"""The service object the web app and the CLI share: what it does before its first question."""

from __future__ import annotations

from qa_service import service as service_module
from qa_service.config import Config
from qa_service.reading.topic_frame import topic_of
from qa_service.service import WARM_UP_FOLLOW_UP, WARM_UP_QUESTIONS, WARM_UP_TOPIC, QAService, Question, history_turn
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
    encoded = []
    real_encode = embedder.encode
    monkeypatch.setattr(embedder, "encode", lambda texts, *a, **k: encoded.append(list(texts)) or
                        real_encode(texts, *a, **k))
    service = QAService(Config(corpus_dir=corpus, index_dir=index), embedder=embedder)
    service.warm_up()
    assert warmed == [True]
    assert asked == list(WARM_UP_QUESTIONS)
    # and a follow-up, read in the editorial of the last answer (no search of the whole corpus), and an overview
    assert encoded == [[q] for q in WARM_UP_QUESTIONS] + [[WARM_UP_FOLLOW_UP], [topic_of(WARM_UP_TOPIC)]]
    assert "acronyms" in vars(service.snapshot())  # read by the warm-up's overview, not by the first reader's


def test_every_turn_of_a_conversation_is_one_encoder_call(service, monkeypatch):
    encoded = []
    real_encode = service.embedder.encode
    monkeypatch.setattr(service.embedder, "encode", lambda texts, *a, **k: encoded.append(list(texts)) or
                        real_encode(texts, *a, **k))
    history: tuple = ()
    for text in ("Where did the Kessling tram derailment happen?", "How did the mayor respond?",
                 "What does the Arlen Valley Water Board want to build?", "Who is its president?"):
        result = service.ask(Question(text, history=history))
        history = (*history, history_turn(text, result))
    assert [len(texts) for texts in encoded] == [1, 1, 1, 1]
    assert encoded[1] == ["How did the mayor respond?"], "in the editorial under discussion: the question as asked"


def test_warm_up_without_an_index_only_warms_the_encoder(tmp_path):
    embedder = HashingEmbedder()
    QAService(Config(corpus_dir=tmp_path, index_dir=tmp_path / "none"), embedder=embedder).warm_up()
    assert embedder.encoded == []
