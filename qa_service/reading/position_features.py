"""What a sentence that states an editorial's position on a topic looks like, as numbers the fitted scorer weighs.

An overview row shows one sentence per editorial, and a reader should learn from it where the
editorial stands. Such a sentence is about the topic, argues rather than reports (evaluative and
deontic words, the writer's own voice: voice.py), sits where an editorial argues (towards its end,
central to what it says), and is no byline, bio, greeting, question or quotation. Each of these is a
column here, computed from what the index stores and the topic's one vector:

* the topic: cosine of sentence and topic, the IDF-weighted share of the topic's terms it holds;
* the editorial: cosine of the sentence and the mean of the editorial's sentence vectors (central),
  its place (0 first, 1 last, and squared), in the first or the last paragraph;
* its voice (voice.VOICE) and clues: a question, a quotation, the OPINION words of clues.py;
* what it holds: numbers or dates, people (a report of facts and names more often than a verdict),
  its length, and whether it is short.

How much each counts is fitted on the dev topics (`evaluation/fit_positions.py`, `qa-service fit --topics`),
leaving one topic out to report it (README "An overview of the editorials on a topic").
"""

from __future__ import annotations

import numpy as np

from ..index.clues import OPINION, QUESTION, QUOTE
from ..index.entities import labels_mask
from ..index.generation.read import Snapshot
from ..index.voice import VOICE

SHORT_TERMS = 6  # fewer distinct terms than this: a fragment, a greeting, a heading
NUMBERS = labels_mask(("CARDINAL", "MONEY", "PERCENT", "QUANTITY", "DATE", "TIME"))
PEOPLE = labels_mask(("PERSON",))
POSITION_FEATURES = (
    "cosine", "coverage", "central", "place", "place_squared",
    "first_paragraph", "last_paragraph", "asks", "quotes", "opinion", *VOICE, "numbers", "people", "length", "short",
)


def position_features(snapshot: Snapshot, sentence_rows: np.ndarray, cosine: np.ndarray,
                      coverage: np.ndarray) -> np.ndarray:
    """POSITION_FEATURES of one editorial's sentences (in reading order), given their cosine to the topic and
    the share of its terms they hold."""
    n = len(sentence_rows)
    if n == 0:
        return np.zeros((0, len(POSITION_FEATURES)))
    vectors = np.take(snapshot.sentence_vectors, sentence_rows, axis=0).astype(np.float32)
    centre = vectors.mean(axis=0)
    centre /= max(float(np.linalg.norm(centre)), 1e-9)
    place = np.arange(n) / max(n - 1, 1)
    paragraph = snapshot.passage_paragraph[snapshot.sentence_passage[sentence_rows]]
    clues, labels = snapshot.sentence_clues[sentence_rows], snapshot.sentence_entity_labels[sentence_rows]
    n_terms = snapshot.sentence_n_terms[sentence_rows]
    columns = {
        "cosine": cosine, "coverage": coverage, "central": vectors @ centre,
        "place": place, "place_squared": place ** 2,
        "first_paragraph": paragraph == paragraph.min(), "last_paragraph": paragraph == paragraph.max(),
        "asks": (clues & QUESTION) > 0, "quotes": (clues & QUOTE) > 0, "opinion": (clues & OPINION) > 0,
        **{name: snapshot.sentence_voice[sentence_rows, i] for i, name in enumerate(VOICE)},
        "numbers": (labels & NUMBERS) > 0, "people": (labels & PEOPLE) > 0,
        "length": np.log1p(n_terms), "short": n_terms < SHORT_TERMS,
    }
    return np.column_stack([np.asarray(columns[name], dtype=np.float64) for name in POSITION_FEATURES])
