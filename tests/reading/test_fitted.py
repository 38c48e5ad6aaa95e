"""The fitted scorers the service loads: the shipped one, a folder's instead, and a clear error for a stale one."""

from __future__ import annotations

import json

import numpy as np
import pytest

from qa_service.reading.fitted import FOLLOW_UP, SHIPPED, FittedError, load_scorer
from qa_service.reading.sentence_features import FEATURES

from ..fixtures import write_scorer


def test_the_shipped_scorer_is_fitted_on_both_conversation_folds():
    scorer = load_scorer(None, FOLLOW_UP, FEATURES)
    assert scorer.features == FEATURES and np.isfinite(scorer.weights).all()
    assert set(scorer.fitted_on) == {"conversations.jsonl", "conversations-2.jsonl"}
    assert np.isfinite([scorer.decline_below, scorer.alternatives_within, scorer.switch_margin]).all()


def test_a_folder_of_fitted_scorers_is_used_instead_of_the_shipped_one(tmp_path):
    mine = load_scorer(write_scorer(tmp_path, decline_below=2.5, shown=-1.0), FOLLOW_UP, FEATURES)
    assert mine.decline_below == 2.5 and mine.weights[FEATURES.index("shown")] == -1.0
    fallback, shipped = load_scorer(tmp_path / "empty", FOLLOW_UP, FEATURES), load_scorer(SHIPPED, FOLLOW_UP, FEATURES)
    assert (fallback.weights == shipped.weights).all(), "a folder without the file falls back to the shipped one"


def test_a_scorer_fitted_on_other_features_is_refused_with_what_to_do(tmp_path):
    path = write_scorer(tmp_path) / FOLLOW_UP
    data = json.loads(path.read_text())
    path.write_text(json.dumps({**data, "features": data["features"][:-1], "weights": data["weights"][:-1]}))
    with pytest.raises(FittedError, match="refit it with `make fit`"):
        load_scorer(tmp_path, FOLLOW_UP, FEATURES)
    path.write_text("{not json")
    with pytest.raises(FittedError, match="cannot read the fitted scorer"):
        load_scorer(tmp_path, FOLLOW_UP, FEATURES)
