"""`qa-service fit`: the follow-up scorer's weights and thresholds are chosen on conversations, by a script."""

from __future__ import annotations

import json
import shutil

import numpy as np
from click.testing import CliRunner

from qa_service.cli import main
from qa_service.config import Config
from qa_service.evaluation.conversations import load_conversations
from qa_service.evaluation.fit_follow_ups import (
    SWITCH_MARGINS,
    Group,
    fit_follow_up,
    fit_on_conversations,
    groups,
    top_one,
)
from qa_service.index.generation.read import IndexReader
from qa_service.reading.fitted import FOLLOW_UP, Scorer, load_scorer
from qa_service.reading.sentence_features import FEATURES

from ..fixtures import TEST_CONVERSATIONS

NEXT = FEATURES.index("next_paragraph")


def synthetic(unit: str, seed: int, answerable: bool = True) -> Group:
    """A follow-up of 12 candidates with noise features, the right one (first) the only one in the next paragraph."""
    features = np.random.default_rng(seed).normal(size=(12, len(FEATURES)))
    features[:, NEXT] = 0.0
    right = np.zeros(12, dtype=bool)
    if answerable:
        features[0, NEXT], right[0] = 1.0, True
    return Group(unit, features, right, answerable)


def test_the_ranker_learns_what_tells_the_right_sentence_apart():
    data = [synthetic(f"c{i % 5}", i) for i in range(40)]
    fit = fit_follow_up(data, ["synthetic"])
    assert fit.scorer.features == FEATURES and np.isfinite(fit.scorer.weights).all()
    assert int(np.argmax(fit.scorer.weights)) == NEXT
    assert top_one(data, fit.scorer.weights) == 1.0 and fit.left_out_top_one == 1.0
    assert fit.scorer.fitted_on == ("synthetic",)


def test_the_decline_threshold_is_chosen_where_it_gets_the_most_right():
    answerable = [synthetic(f"c{i % 5}", i) for i in range(30)]
    unanswerable = [synthetic(f"c{i}", 100 + i, answerable=False) for i in range(4)]
    for group in unanswerable:
        group.features[:] = 0.0  # no sentence there looks like an answer
    fit = fit_follow_up(answerable + unanswerable, ["synthetic"])
    best = [float((g.features @ fit.scorer.weights).max()) for g in answerable + unanswerable]
    assert max(best[30:]) < fit.scorer.decline_below <= min(best[:30])


def test_the_fit_of_the_test_conversations_is_a_scorer_the_service_loads(embedder, built_index):
    corpus, index = built_index
    conversations = load_conversations(TEST_CONVERSATIONS)
    config = Config(corpus_dir=corpus, index_dir=index)
    data = groups(IndexReader(index).snapshot(), conversations, embedder.encode)
    assert len([g for g in data if g.answerable]) >= 8 and all(g.right.sum() == 1 for g in data if g.answerable)
    assert any(not g.answerable for g in data), "the unanswerable follow-up is a group of its own"
    fit = fit_on_conversations(config, embedder, conversations, ["conversations.jsonl"], rounds=1)
    assert fit.scorer.switch_margin in SWITCH_MARGINS
    assert len(fit.scorer.weights) == len(FEATURES) and fit.follow_ups > len(data), "its own histories were added"


def test_the_fit_command_writes_a_scorer_file(tmp_path, monkeypatch, embedder, built_index):
    corpus, index = built_index
    monkeypatch.setattr("qa_service.index.embedder.Embedder", lambda *args, **kwargs: embedder)
    shutil.copytree(index, tmp_path / "index")
    out = tmp_path / "fitted"
    result = CliRunner().invoke(main, ["fit", "--corpus", str(corpus), "--index", str(tmp_path / "index"),
                                       "--conversations", str(TEST_CONVERSATIONS), "--out", str(out), "--quiet"])
    assert result.exit_code == 0, result.output
    assert f"Wrote {out / FOLLOW_UP}" in result.output and "leave-one-conversation-out" in result.output
    scorer = load_scorer(out, FOLLOW_UP, FEATURES)
    assert isinstance(scorer, Scorer) and scorer.fitted_on == ("conversations.jsonl",)
    assert json.loads((out / FOLLOW_UP).read_text())["features"] == list(FEATURES)


def test_fitting_without_conversations_is_a_one_line_error(tmp_path, built_index):
    empty = tmp_path / "none.jsonl"
    empty.write_text("")
    corpus, _ = built_index
    result = CliRunner().invoke(main, ["fit", "--corpus", str(corpus), "--index", str(tmp_path / "index"),
                                       "--conversations", str(empty), "--out", str(tmp_path / "out"), "--quiet"])
    assert result.exit_code == 1 and result.output.startswith("Error: cannot fit") and "Traceback" not in result.output
