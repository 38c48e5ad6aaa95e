"""What a follow-up's answer sentence looks like, as numbers: the features the fitted scorer weighs.

A follow-up ("Who did he call?", "Why now?", "Is the writer happy about that?") is answered by a
sentence of the editorial under discussion. Which one is told by a few plain signals, each computed
for every sentence of that editorial from what the index stores (vectors, terms, clues, entities) and
one vector of the question; no model runs here:

* closeness in meaning: to the question as asked, to its passage, to the question together with the
  answer shown before it (the sum of the two vectors: the question completed from the history), and to
  that answer alone;
* the question's words: the IDF-weighted share of its own terms, and of the words it leaves out and
  the conversation supplies, that the sentence holds;
* the kind of answer asked for: a "who / when / how many / how long / where" question and a sentence
  holding (or lacking) an entity of that kind (entities.ASKED); a "why" question and a sentence giving
  a reason; a question on the writer's view and a sentence where the writer argues (clues.py);
* where it stands from the answer shown: the same paragraph, the next, two or three on, before it, and
  how far in paragraphs and sentences; the next sentence; its place in the editorial;
* what it is: already shown in this conversation, the previous answer itself, a question, a quotation,
  its length and new words, the first of its paragraph.

How much each counts is not set by hand: `fitted.py` holds weights fitted on conversations by
`fitting.py` (README "Quality", "Follow-up questions").
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .clues import CAUSE, OPINION, QUESTION, QUOTE, question_kind
from .entities import ASKED_MASKS, BIT, decode, labels_mask
from .generation.read import Snapshot
from .search import Query
from .voice import VOICE

# The voice of a sentence (voice.VOICE) that counts when the question asks for the writer's view.
VIEW_VOICE = ("subjectivity", "vader_strength", "deontic", "first_person", "attribution")
PARAGRAPH_STEPS = ("same_paragraph", "next_paragraph", "two_three_paragraphs_on", "before", "paragraph_distance")
SENTENCE_STEPS = ("sentence_distance", "next_sentence", "two_three_sentences_on")
FEATURES = (
    "cosine", "passage_cosine", "completed_cosine", "previous_cosine", "neighbour_cosine", "coverage",
    "context_coverage", "kind_held", "kind_missing", "new_entity", "reason_held", "opinion_held",
    "same_paragraph", "next_paragraph", "two_three_paragraphs_on", "before", "paragraph_distance",
    "sentence_distance", "next_sentence", "two_three_sentences_on", "position",
    "shown", "previous_answer", "asks", "quotes", "new_words", "length", "first_of_paragraph",
    *(f"view_{name}" for name in VIEW_VOICE),
)
NEWS = labels_mask(("PERSON", "ORG", "NORP", "GPE", "LOC", "FAC", "EVENT", "LAW", "DATE", "MONEY", "PERCENT",
                    "QUANTITY", "CARDINAL"))  # what an answer to a question of no particular kind may bring


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


def _share(snapshot: Snapshot, query: Query, tokens: list[str], rows: np.ndarray) -> np.ndarray:
    """The IDF-weighted share of `tokens` (distinct) that each sentence (or its title) holds."""
    distinct = sorted(set(tokens))
    if not distinct:
        return np.zeros(len(rows))
    idf = snapshot.lexical.idf(distinct)
    vocab = snapshot.lexical.vocab
    known = [(vocab[t], w) for t, w in zip(distinct, idf / idf.sum(), strict=True) if t in vocab]
    if not known:
        return np.zeros(len(rows))
    presence = snapshot.sentence_terms.weighted_presence([t for t, _ in known], np.array([w for _, w in known]))
    return presence[rows]


def _text(snapshot: Snapshot, row: int) -> str:
    start, end = snapshot.sentence_span[row]
    return snapshot.passage_text[int(snapshot.sentence_passage[row])][start:end]


def _new_entities(snapshot: Snapshot, rows: np.ndarray, owners: np.ndarray, labels: int, known: str) -> np.ndarray:
    """Whether each sentence names an entity with one of `labels` that `known` (lower case) does not: an answer
    brings something the question and the answer before did not have."""
    found = np.zeros(len(rows))
    for i in np.flatnonzero(snapshot.sentence_entity_labels[rows] & labels):
        row = int(rows[i])
        start = int(snapshot.sentence_span[row][0])
        text = snapshot.passage_text[int(owners[i])]
        found[i] = any(BIT[label] & labels and text[start + s:start + e].lower() not in known
                       for s, e, label in decode(snapshot.sentence_entities[row]))
    return found


def follow_up_features(snapshot: Snapshot, query: Query, shown: Shown, passage_rows: np.ndarray) -> Candidates:
    """The features (FEATURES) of every sentence of the editorial whose passages are `passage_rows`."""
    rows, owners = editorial_sentences(snapshot, passage_rows)
    n = len(rows)
    vectors = np.take(snapshot.sentence_vectors, rows, axis=0)
    cosine = vectors @ query.vector
    assert snapshot.dense_vectors is not None, "an editorial with sentences has passage vectors"
    passage_cosine = np.take(snapshot.dense_vectors, owners, axis=0) @ query.vector
    if shown.previous_row >= 0:
        previous_vector = snapshot.sentence_vectors[shown.previous_row]
        completed = query.vector + previous_vector
        completed_cosine = vectors @ (completed / max(float(np.linalg.norm(completed)), 1e-9))
        previous_cosine = vectors @ previous_vector
    else:
        completed_cosine, previous_cosine = cosine, np.zeros(n)
    kind = question_kind(query.text)
    labels, clues = snapshot.sentence_entity_labels[rows], snapshot.sentence_clues[rows]
    asked = ASKED_MASKS.get(kind, 0)
    kind_held = (labels & asked) > 0 if asked else np.zeros(n, dtype=bool)
    kind_missing = ~kind_held if asked else np.zeros(n, dtype=bool)
    paragraph = snapshot.passage_paragraph[owners].astype(np.float64)
    order = np.arange(n, dtype=np.float64)
    if shown.previous_paragraph is not None:
        step = paragraph - shown.previous_paragraph
        paragraphs = (step == 0, step == 1, (step >= 2) & (step <= 3), step < 0, np.log1p(np.abs(step)))
    else:
        paragraphs = (np.zeros(n),) * 5
    previous_at = np.flatnonzero(rows == shown.previous_row)
    if len(previous_at) == 0 and shown.previous_row >= 0:  # the answer shown, read from another window
        key = snapshot.sentence_text_key[shown.previous_row]
        previous_at = np.flatnonzero(snapshot.sentence_text_key[rows] == key)
    if len(previous_at):
        offset = order - previous_at[0]
        sentences = (np.log1p(np.abs(offset)), offset == 1, (offset >= 2) & (offset <= 3))
        is_previous = offset == 0
    else:
        sentences = (np.zeros(n),) * 3
        is_previous = np.zeros(n, dtype=bool)
    matched = query.matched_terms()[rows]
    n_terms = snapshot.sentence_n_terms[rows]
    first = np.ones(n, dtype=bool)
    first[1:] = paragraph[1:] != paragraph[:-1]
    neighbour = np.zeros(n)
    if n > 1:
        neighbour[:-1] = cosine[1:]
        neighbour[1:] = np.maximum(neighbour[1:], cosine[:-1])
    known = (query.text + " " + (_text(snapshot, shown.previous_row) if shown.previous_row >= 0 else "")).lower()
    columns = {
        "cosine": cosine, "passage_cosine": passage_cosine, "completed_cosine": completed_cosine,
        "previous_cosine": previous_cosine, "neighbour_cosine": neighbour,
        "coverage": _share(snapshot, query, query.tokens, rows),
        "context_coverage": _share(snapshot, query, query.context_tokens, rows),
        "kind_held": kind_held, "kind_missing": kind_missing,
        "new_entity": _new_entities(snapshot, rows, owners, asked or NEWS, known),
        "reason_held": ((clues & CAUSE) > 0) & (kind == "reason"),
        "opinion_held": ((clues & OPINION) > 0) & (kind == "opinion"),
        **dict(zip(PARAGRAPH_STEPS, paragraphs, strict=True)), **dict(zip(SENTENCE_STEPS, sentences, strict=True)),
        "position": order / max(n - 1, 1),
        "shown": np.isin(snapshot.sentence_text_key[rows], list(shown.keys)), "previous_answer": is_previous,
        "asks": (clues & QUESTION) > 0, "quotes": (clues & QUOTE) > 0,
        "new_words": np.log1p(np.maximum(n_terms - matched, 0)), "length": np.log1p(n_terms),
        "first_of_paragraph": first,
        **{f"view_{name}": snapshot.sentence_voice[rows, VOICE.index(name)] * (kind == "opinion")
           for name in VIEW_VOICE},
    }
    features = np.column_stack([np.asarray(columns[name], dtype=np.float64) for name in FEATURES]) if n else \
        np.zeros((0, len(FEATURES)))
    return Candidates(rows, owners, features)
