"""Weights fitted on data, not set by hand: small JSON files the service loads, written by `qa-service fit`.

A file holds a linear scorer over named features: its weights, the thresholds chosen with it on
the same data, and what it was fitted on, so that a figure can say which data its choices saw.

* follow_up.json (sentence_features.FEATURES): the sentence answering a follow-up in the editorial
  under discussion; below `decline_below` it is declined as not there, the sentences within
  `alternatives_within` of the best are offered too, and a question that stands alone leaves the
  editorial when the corpus answers it better by `switch_margin`. Shipped fitted on both conversation
  folds (`make fit`); `make eval` reports each fold with one fitted on the other.
* position.json (position_features.POSITION_FEATURES): the sentence of an editorial that states its
  position on a topic, with a second one shown when it scores within `second_within`. Shipped fitted
  on the dev topics; `make eval` reports them leaving one topic out (README "Quality").
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

SHIPPED = Path(__file__).resolve().parent / "scorers"
FOLLOW_UP = "follow_up.json"  # Scorer: the sentence answering a follow-up (sentence_features.py)
POSITION = "position.json"  # PositionScorer: the sentence stating an editorial's position (position_features.py)


class FittedError(RuntimeError):
    """A fitted file that cannot be used (missing, unreadable, or for other features): refit it."""


@dataclass(frozen=True)
class Scorer:
    features: tuple[str, ...]
    weights: np.ndarray
    decline_below: float  # the best sentence's score under which the editorial is taken not to answer
    alternatives_within: float  # sentences scoring within this of the best are offered beside it
    # A question that stands alone leaves the editorial when the whole corpus answers it better by this much
    # (on answer.evidence's scale); chosen with the weights, on the same conversations.
    switch_margin: float
    fitted_on: tuple[str, ...]  # the data it was fitted on (file names)

    def scores(self, features: np.ndarray) -> np.ndarray:
        return features @ self.weights

    def to_json(self) -> dict:
        return {"features": list(self.features), "weights": [round(float(w), 6) for w in self.weights],
                "decline_below": round(self.decline_below, 6),
                "alternatives_within": round(self.alternatives_within, 6), "switch_margin": self.switch_margin,
                "fitted_on": list(self.fitted_on)}


@dataclass(frozen=True)
class PositionScorer:
    features: tuple[str, ...]
    weights: np.ndarray
    second_within: float  # a second sentence is shown beside the best when it scores within this of it
    fitted_on: tuple[str, ...]

    def scores(self, features: np.ndarray) -> np.ndarray:
        return features @ self.weights

    def to_json(self) -> dict:
        return {"features": list(self.features), "weights": [round(float(w), 6) for w in self.weights],
                "second_within": round(self.second_within, 6), "fitted_on": list(self.fitted_on)}


def fitted_file(folder: Path | None, name: str) -> Path:
    """`name` in `folder` when it is there, else the shipped one."""
    if folder is not None and (Path(folder) / name).is_file():
        return Path(folder) / name
    return SHIPPED / name


@lru_cache(maxsize=8)
def _read(path: Path, stamp: float) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def load_scorer(folder: Path | None, name: str, features: tuple[str, ...]) -> Scorer:
    """The follow-up scorer `name` (from `folder`, else shipped) for these features, in this order."""
    return _load(folder, name, features, lambda data, weights: Scorer(
        tuple(data["features"]), weights, float(data["decline_below"]), float(data["alternatives_within"]),
        float(data["switch_margin"]), tuple(data["fitted_on"])))


def load_position_scorer(folder: Path | None, features: tuple[str, ...]) -> PositionScorer:
    """The position scorer (POSITION, from `folder`, else shipped) for these features, in this order."""
    return _load(folder, POSITION, features, lambda data, weights: PositionScorer(
        tuple(data["features"]), weights, float(data["second_within"]), tuple(data["fitted_on"])))


def _load(folder: Path | None, name: str, features: tuple[str, ...], make):
    path = fitted_file(folder, name)
    try:
        data = _read(path, path.stat().st_mtime)
        scorer = make(data, np.array(data["weights"], dtype=np.float64))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise FittedError(f"cannot read the fitted scorer {path}: {exc}; write it with `qa-service fit`") from None
    if scorer.features != features or len(scorer.weights) != len(features):
        raise FittedError(f"{path} was fitted on other features than this version computes; "
                          "refit it with `make fit` (qa-service fit)")
    return scorer
