"""What a follow-up's answer sentence looks like, as numbers: the features the fitted scorer weighs.

A follow-up ("Who did he call?", "Why now?", "Is the writer happy about that?") is answered by a
sentence of the editorial under discussion. Which one is told by a few plain signals, each computed
for every sentence of that editorial from what the index stores (vectors, terms, clues, entities) and
one vector of the question; no model runs here:

* closeness in meaning: to the question as asked, to its passage, and to the question together with
  the answer shown before it (the sum of the two vectors: the question completed from the history);
* the question's own words: the IDF-weighted share of them the sentence holds;
* the kind of answer asked for: a "who / when / how many / how long / where" question and a sentence
  holding an entity of that kind (entities.ASKED);
* where it stands from the answer shown: its paragraph, the next, two or three on, or before it;
* what it is: already shown in this conversation, the previous answer itself, a question, its length.

These are the features that held on both conversation folds; others were measured and left out
(README "Follow-up questions"). How much each counts is not set by hand: `fitted.py` holds weights
fitted on conversations by `evaluation/fit_follow_ups.py`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..index.clues import QUESTION
from ..index.entities import ASKED_MASKS
from ..index.generation.read import Snapshot
from .kinds import question_kind
from .search import Query

PARAGRAPH_STEPS = ("same_paragraph", "next_paragraph", "two_three_paragraphs_on", "before")
FEATURES = (
    "cosine", "passage_cosine", "completed_cosine", "coverage", "kind_held",
    *PARAGRAPH_STEPS, "shown", "previous_answer", "asks", "length",
)


@dataclass(frozen=True)
class Candidates:
    """The sentences of one editorial, in reading order, each once, with their features (one row each)."""

    rows: np.ndarray  # sentence rows
    passages: np.ndarray  # the passage row each was read from
    features: np.ndarray  # len(rows) x len(FEATURES)


@dataclass(frozen=True)
class Shown:
    """What the conversation has shown from this editorial: the previous answer's sentence row (-1: none)
    and the text keys of every answer given from it."""

    previous_row: int = -1
    previous_paragraph: int | None = None
    keys: frozenset[int] = frozenset()


def editorial_sentences(snapshot: Snapshot, passage_rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The sentence rows of these passages in reading order, a sentence that two overlapping windows of a long
    paragraph both hold counted once (from the first), with the passage row of each."""
    starts = snapshot.sentence_first[passage_rows]
    counts = snapshot.sentence_first[passage_rows + 1] - starts
    rows = np.concatenate([np.arange(s, s + c) for s, c in zip(starts, counts, strict=True)]) \
        if len(passage_rows) else np.zeros(0, dtype=np.int64)
    owners = np.repeat(passage_rows, counts)
    paragraph = snapshot.passage_paragraph[owners].astype(np.int64)
    keyed = np.stack([paragraph, snapshot.sentence_text_key[rows]], axis=1)
    _, first = np.unique(keyed, axis=0, return_index=True)
    keep = np.sort(first)
    return rows[keep].astype(np.int64), owners[keep].astype(np.int64)


def _share(snapshot: Snapshot, tokens: list[str], rows: np.ndarray) -> np.ndarray:
    """The IDF-weighted share of `tokens` (distinct) that each sentence (or its title) holds."""
    distinct = sorted(set(tokens))
    if not distinct:
        return np.zeros(len(rows))
    idf = snapshot.lexical.idf(distinct)
    vocab = snapshot.lexical.vocab
    known = [(vocab[t], w) for t, w in zip(distinct, idf / idf.sum(), strict=True) if t in vocab]
    if not known:
        return np.zeros(len(rows))
    # Only the editorial's rows (sorted) are filled in: no array over every sentence of the index per question.
    share = np.zeros(len(rows))
    for term, weight in known:
        holding = snapshot.sentence_terms.sentences_with(term)
        at = np.minimum(np.searchsorted(rows, holding), len(rows) - 1)
        share[at[rows[at] == holding]] += weight
    return share


def follow_up_features(snapshot: Snapshot, query: Query, shown: Shown, passage_rows: np.ndarray) -> Candidates:
    """The features (FEATURES) of every sentence of the editorial whose passages are `passage_rows`."""
    rows, owners = editorial_sentences(snapshot, passage_rows)
    n = len(rows)
    vectors = np.take(snapshot.sentence_vectors, rows, axis=0)
    cosine = vectors @ query.vector
    assert snapshot.dense_vectors is not None, "an editorial with sentences has passage vectors"
    completed_cosine = cosine
    if shown.previous_row >= 0:
        completed = query.vector + snapshot.sentence_vectors[shown.previous_row]
        completed_cosine = vectors @ (completed / max(float(np.linalg.norm(completed)), 1e-9))
    asked = ASKED_MASKS.get(question_kind(query.text), 0)
    paragraph = snapshot.passage_paragraph[owners].astype(np.int64)
    if shown.previous_paragraph is not None:
        step = paragraph - shown.previous_paragraph
        paragraphs = (step == 0, step == 1, (step >= 2) & (step <= 3), step < 0)
    else:
        paragraphs = (np.zeros(n, dtype=bool),) * 4
    keys = snapshot.sentence_text_key[rows]
    previous_key = snapshot.sentence_text_key[shown.previous_row] if shown.previous_row >= 0 else None
    columns = {
        "cosine": cosine,
        "passage_cosine": np.take(snapshot.dense_vectors, owners, axis=0) @ query.vector,
        "completed_cosine": completed_cosine,
        "coverage": _share(snapshot, query.tokens, rows),
        "kind_held": (snapshot.sentence_entity_labels[rows] & asked) > 0,
        **dict(zip(PARAGRAPH_STEPS, paragraphs, strict=True)),
        "shown": np.isin(keys, list(shown.keys)),
        "previous_answer": keys == previous_key,  # the answer shown (in any window that holds it)
        "asks": (snapshot.sentence_clues[rows] & QUESTION) > 0,
        "length": np.log1p(snapshot.sentence_n_terms[rows]),
    }
    features = np.column_stack([np.asarray(columns[name], dtype=np.float64) for name in FEATURES]) if n else \
        np.zeros((0, len(FEATURES)))
    return Candidates(rows, owners, features)
