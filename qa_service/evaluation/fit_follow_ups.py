"""`qa-service fit`: the follow-up scorer fitted on conversations, never set by hand.

Each follow-up of the given conversations (../shared/data/editorial-conversations/ layout) is
asked in the editorial of the turn before it, with the earlier turns' gold answers as history (the
sentence holding each `must_contain`, its article and paragraph: what a reader who was answered
right has seen). Every sentence of that editorial is a candidate (sentence_features.py); the one
holding the turn's `must_contain` is the answer.

* Weights: a pairwise ranker, scikit-learn's logistic regression on the feature differences of the
  answer and each other sentence of its editorial (no intercept, features standardised), so a score
  orders sentences within one editorial. Its regularisation is chosen among a few by leave-one-
  conversation-out within the data given, then the weights are fitted on all of it.
* The "not in this editorial" threshold: the best sentence's score that declines the most
  unanswerable follow-ups while keeping the most answered right.
* The switch margin (service.py): how much better the whole corpus must answer a question that stands
  alone for it to leave the editorial, the one of SWITCH_MARGINS that answers the most later turns right.
* The alternatives margin: the gap between the best and the second score that best tells a wrong
  best sentence from a right one; under it, the next sentences are offered beside the answer.

Every choice is made on the data given; `make eval` reports each fold with a scorer fitted on the
other (README "Quality").
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np

from ..config import Config
from ..index.generation.read import IndexReader, Snapshot
from ..ingest.corpus import article_id_for
from ..reading.discussion import shown_from
from ..reading.fitted import Scorer
from ..reading.followup import Turn, read
from ..reading.search import Query
from ..reading.sentence_features import FEATURES, editorial_sentences, follow_up_features
from ..service import QAService, Question, history_turn
from .conversations import Conversation, answer_right
from .questions import EVAL_TOP_K

if TYPE_CHECKING:
    from ..index.embedder import Encoder

Answerer = Callable[[str, tuple[Turn, ...]], Turn]  # a question and the turns before it -> the turn as shown
# How much better the whole corpus must answer a question that stands alone for it to leave the editorial (on
# answer.evidence's scale, 0-3): chosen among these on the conversations, from "always leaves" to "always stays".
SWITCH_MARGINS = (-3.0, -1.0, -0.5, -0.25, 0.0, 0.25, 0.5, 1.0, 3.0)
ON_POLICY_ROUNDS = 2  # rounds of fitting again on the service's own histories (fit_on_conversations)
REGULARISATION = (0.001, 0.01, 0.1, 1.0)  # scikit-learn's C, chosen among these by leave-one-conversation-out
MIN_INSIDE_CHARS = 20  # as the scoring of an answer (conversations.answer_right)


@dataclass(frozen=True)
class Group:
    """One follow-up asked in its previous turn's editorial (or one editorial of a topic): its candidates'
    features and which are right."""

    unit: str  # the conversation (or topic) it belongs to: what leave-one-out holds out together
    features: np.ndarray
    right: np.ndarray  # bool per candidate; none for an unanswerable follow-up
    answerable: bool


def _spaced(text: str) -> str:
    return " ".join(text.split())


def _sentence_texts(snapshot: Snapshot, rows: np.ndarray, passages: np.ndarray) -> list[str]:
    spans = snapshot.sentence_span[rows]
    return [_spaced(snapshot.passage_text[p][s:e]) for p, (s, e) in zip(passages, spans, strict=True)]


def _holds(text: str, phrase: str) -> bool:
    return phrase in text or (text in phrase and len(text) > MIN_INSIDE_CHARS)


def _gold_turn(snapshot: Snapshot, question: str, article_id: str, phrase: str) -> Turn:
    """The turn a reader answered right has seen: the sentence holding `phrase` (else the one it starts in)."""
    number = snapshot.article_number[article_id]
    passages = np.flatnonzero(snapshot.passage_article_number == number)
    rows, owners = editorial_sentences(snapshot, passages)
    texts = _sentence_texts(snapshot, rows, owners)
    spaced = _spaced(phrase)
    at = next((i for i, t in enumerate(texts) if _holds(t, spaced)), None)
    if at is None:  # the phrase runs over a sentence end of the splitter's: the sentence it starts in
        at = next((i for i, t in enumerate(texts) if spaced[:MIN_INSIDE_CHARS] in t), 0)
    start, end = (int(x) for x in snapshot.sentence_span[rows[at]])
    passage = int(owners[at])
    return Turn(question, snapshot.passage_text[passage][start:end], article_id,
                int(snapshot.passage_paragraph[passage]))


def groups(snapshot: Snapshot, conversations: Sequence[Conversation], encode, answer: Answerer | None = None
           ) -> list[Group]:
    """The follow-ups of `conversations`, each asked in the editorial of the answer before it.

    The history is the gold one (what a reader answered right has seen), or with `answer` the service's
    own answers (what it will see when it is used: its mistakes included, so that a scorer learns, say,
    not to give again an answer that did not satisfy).
    """
    asked: list[tuple[str, str, tuple[Turn, ...], str | None]] = []
    for conversation in conversations:
        history: list[Turn] = []
        for number, turn in enumerate(conversation.turns):
            previous = history[-1] if history else None
            if number and turn.type not in ("opener", "topic-switch") and previous and previous.article_id:
                asked.append((conversation.id, turn.question, tuple(history), turn.must_contain))
            if answer is not None:
                history.append(answer(turn.question, tuple(history)))
            elif turn.must_contain and turn.file:
                history.append(_gold_turn(snapshot, turn.question, article_id_for(turn.file), turn.must_contain))
            else:
                history.append(Turn(turn.question))
    vectors = encode([question for _, question, _, _ in asked])
    found = []
    for (conversation_id, question, earlier, phrase), vector in zip(asked, vectors, strict=True):
        reading = read(question, earlier)
        assert reading.previous is not None and reading.previous.article_id is not None
        number = snapshot.article_number.get(reading.previous.article_id, -1)
        passages = np.flatnonzero(snapshot.passage_article_number == number)
        if len(passages) == 0:
            continue
        query = Query(snapshot, question, vector, context=reading.context)
        candidates = follow_up_features(snapshot, query, shown_from(snapshot, reading), passages)
        texts = _sentence_texts(snapshot, candidates.rows, candidates.passages)
        right = np.array([phrase is not None and _holds(t, _spaced(phrase)) for t in texts], dtype=np.bool_)
        if phrase and not right.any():
            continue  # the answer is not in the previous turn's editorial: nothing to learn about choosing in it
        found.append(Group(conversation_id, candidates.features, right, bool(phrase)))
    return found


def _pairs(data: Sequence[Group]) -> np.ndarray:
    return np.vstack([g.features[r] - g.features[w] for g in data if g.answerable
                      for r in np.flatnonzero(g.right) for w in np.flatnonzero(~g.right)])


def fit_ranker(data: Sequence[Group], c: float) -> np.ndarray:
    """Weights that order each group's right candidates above its others (see the module's docstring)."""
    from sklearn.linear_model import LogisticRegression

    pairs = _pairs(data)
    scale = pairs.std(axis=0)
    scale[scale == 0] = 1.0
    both = np.vstack([pairs / scale, -pairs / scale])
    labels = np.r_[np.ones(len(pairs)), np.zeros(len(pairs))]
    model = LogisticRegression(C=c, fit_intercept=False, max_iter=5000).fit(both, labels)
    return model.coef_[0] / scale


def _right_first(group: Group, weights: np.ndarray) -> bool:
    return bool(group.right[int(np.argmax(group.features @ weights))])


def top_one(data: Sequence[Group], weights: np.ndarray) -> float:
    """The share of answerable follow-ups whose best-scored sentence is right."""
    answerable = [g for g in data if g.answerable]
    return sum(_right_first(g, weights) for g in answerable) / max(len(answerable), 1)


def left_out_top_one(data: Sequence[Group], c: float) -> float:
    """Top-one of each conversation's follow-ups scored by weights fitted on the other conversations."""
    right = total = 0
    for held in sorted({g.unit for g in data}):
        rest = [g for g in data if g.unit != held]
        scored = [g for g in data if g.unit == held and g.answerable]
        if not scored or not any(g.answerable for g in rest):
            continue
        weights = fit_ranker(rest, c)
        right += sum(_right_first(g, weights) for g in scored)
        total += len(scored)
    return right / max(total, 1)


def _decline_below(data: Sequence[Group], weights: np.ndarray) -> float:
    """The threshold on the best score that gets the most follow-ups right (ties: the lowest)."""
    best = [float((g.features @ weights).max()) for g in data]
    candidates = sorted({-np.inf, *best})
    outcome = []
    for threshold in candidates:
        right = sum((b >= threshold and g.answerable and _right_first(g, weights))
                    or (b < threshold and not g.answerable) for g, b in zip(data, best, strict=True))
        outcome.append((right, -threshold))
    right, negative = max(outcome)
    return -negative if np.isfinite(negative) else float(min(best) - 1.0)


def unsure_gap(data: Sequence[Group], weights: np.ndarray) -> float:
    """The gap between the best and second scores under which the best sentence is more often wrong: the one
    that best tells wrong best sentences (under it) from right ones (at or over it)."""
    gaps, wrong = [], []
    for g in data:
        if not g.answerable or len(g.right) < 2:
            continue
        scores = np.sort(g.features @ weights)[::-1]
        gaps.append(float(scores[0] - scores[1]))
        wrong.append(not _right_first(g, weights))
    if not gaps:
        return 0.0
    options = sorted({0.0, *gaps})
    told = [sum((gap < m) == w for gap, w in zip(gaps, wrong, strict=True)) for m in options]
    return options[int(np.argmax(told))]


@dataclass(frozen=True)
class Fit:
    scorer: Scorer
    regularisation: float
    left_out_top_one: float  # leave-one-conversation-out, within the data fitted on
    follow_ups: int


def fit_follow_up(data: Sequence[Group], fitted_on: Sequence[str], switch_margin: float = 0.0) -> Fit:
    """The scorer, its thresholds and what leave-one-conversation-out says of it (see the module's docstring)."""
    if not any(g.answerable for g in data):
        raise ValueError("no answerable follow-up to fit on")
    by_c = {c: left_out_top_one(data, c) for c in REGULARISATION}
    c = max(REGULARISATION, key=lambda value: (by_c[value], -value))
    weights = fit_ranker(data, c)
    scorer = Scorer(FEATURES, weights, _decline_below(data, weights), unsure_gap(data, weights),
                    switch_margin, tuple(fitted_on))
    return Fit(scorer, c, by_c[c], len(data))


def fit_on_conversations(config: Config, embedder: Encoder, conversations: Sequence[Conversation],
                         fitted_on: Sequence[str], rounds: int = ON_POLICY_ROUNDS) -> Fit:
    """The follow-up scorer, fitted first on gold histories, then also on the histories it makes itself.

    A scorer fitted on gold histories only trusts the answer before too much: there the previous answer
    is always right, so "the next sentence" and "not the one shown" are safe bets; in use a wrong answer
    before moves both. Each round asks the conversations through the service with the last scorer, keeps
    the follow-ups as they were then asked, and fits again on all of them (the rounds of DAgger).
    """
    snapshot = IndexReader(config.index_dir, model_name=embedder.name).snapshot()
    data = groups(snapshot, conversations, embedder.encode)
    fit = fit_follow_up(data, fitted_on)
    for _ in range(rounds):
        data = data + groups(snapshot, conversations, embedder.encode,
                             _answerer(QAService(config, embedder=embedder, follow_up_scorer=fit.scorer)))
        fit = fit_follow_up(data, fitted_on)
    right = {margin: _later_turns_right(QAService(config, embedder=embedder, follow_up_scorer=replace(
        fit.scorer, switch_margin=margin)), conversations) for margin in SWITCH_MARGINS}
    best = [margin for margin in SWITCH_MARGINS if right[margin] == max(right.values())]
    return replace(fit, scorer=replace(fit.scorer, switch_margin=best[len(best) // 2]))


def _later_turns_right(service: QAService, conversations: Sequence[Conversation]) -> int:
    """How many turns after the first the service answers right, each conversation asked as a reader would."""
    right = 0
    for conversation in conversations:
        history: list[Turn] = []
        for number, turn in enumerate(conversation.turns):
            result = service.ask(Question(turn.question, top_k=EVAL_TOP_K, history=tuple(history)))
            right += number > 0 and answer_right(result, turn)
            history.append(history_turn(turn.question, result))
    return right


def _answerer(service: QAService) -> Answerer:
    """The turn a reader of `service` sees: its answer to the question, asked with the turns before it."""
    def answer(question: str, history: tuple[Turn, ...]) -> Turn:
        return history_turn(question, service.ask(Question(question, top_k=EVAL_TOP_K, history=history)))

    return answer
