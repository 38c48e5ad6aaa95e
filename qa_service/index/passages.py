"""Cutting paragraphs into passages that fit the encoder's window, each citing its paragraph.

Most paragraphs fit the model's 256 word pieces and become one passage. A longer one is cut at
sentence boundaries into overlapping windows (one sentence of overlap), so no text is silently
truncated by the encoder and every window still cites the paragraph number it came from. Each
passage keeps its sentences (the answer is one of them) with their lexical tokens.
"""

from __future__ import annotations

import bisect
import hashlib
import itertools
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

from ..ingest.corpus import Article
from ..text import sentence_spans, tokenize
from .clues import sentence_clues

TokenCounter = Callable[[str], int]


class Passage(NamedTuple):
    article_id: str
    paragraph: int  # 1-based paragraph number in the article
    part: int  # 0 for a whole paragraph, else the window number within it
    start: int  # character offsets of the passage within its paragraph
    end: int
    text: str
    hash: str  # text_hash(text): the key its vector is kept under


def text_hash(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


def text_key(text: str) -> int:
    """A 64-bit key of a text with its whitespace runs made one space: how an answer sentence a client sends
    back without its article is found again (generation/read.py, Snapshot.sentences_with_text)."""
    return int.from_bytes(hashlib.sha1(" ".join(text.split()).encode("utf-8")).digest()[:8], "big", signed=True)


def _longest_fit(text: str, spans: list[tuple[int, int]], prefix: list[int], i: int, limit: int,
                 count: TokenCounter) -> int:
    """The end (exclusive) of the longest run of spans from `i` whose text fits in `limit` tokens; at least i + 1.

    The run is first sized from the spans' own counts (`prefix`, their running sum: for a BERT tokenizer,
    which splits at whitespace first, the count of joined text is exactly that sum), then checked and
    adjusted against the count of its text. So a paragraph costs about two counts per window rather than
    one per span per window, which made a long paragraph of short words take minutes.
    """
    j = max(i + 1, bisect.bisect_right(prefix, prefix[i] + limit) - 1)
    while j - 1 > i and count(text[spans[i][0]:spans[j - 1][1]]) > limit:
        j -= 1
    while j < len(spans) and count(text[spans[i][0]:spans[j][1]]) <= limit:
        j += 1
    return j


def _running_sum(sizes: list[int]) -> list[int]:
    return [0, *itertools.accumulate(sizes)]


def _word_windows(text: str, base: int, limit: int, count: TokenCounter) -> list[tuple[int, int]]:
    """Fallback for a single sentence longer than the window: cut it between words."""
    words = [(m.start(), m.end()) for m in re.finditer(r"\S+", text)]
    prefix = _running_sum([count(text[s:e]) for s, e in words])
    windows, i = [], 0
    while i < len(words):
        j = _longest_fit(text, words, prefix, i, limit, count)
        windows.append((words[i][0] + base, words[j - 1][1] + base))
        if j >= len(words):
            break
        i = max(i + 1, j - max(1, (j - i) // 8))
    return windows


def split_paragraph(text: str, limit: int, count: TokenCounter) -> list[tuple[int, int]]:
    """Character spans of the windows of one paragraph; a single span when it fits."""
    if count(text) <= limit:
        return [(0, len(text))]
    units: list[tuple[int, int]] = []
    sizes: list[int] = []
    for s, e in sentence_spans(text):
        size = count(text[s:e])
        if size <= limit:
            units.append((s, e))
            sizes.append(size)
        else:
            for ws, we in _word_windows(text[s:e], s, limit, count):
                units.append((ws, we))
                sizes.append(limit)  # about: such a window is cut to fill it
    prefix = _running_sum(sizes)
    windows: list[tuple[int, int]] = []
    i = 0
    while i < len(units):
        j = _longest_fit(text, units, prefix, i, limit, count)
        windows.append((units[i][0], units[j - 1][1]))
        if j >= len(units):
            break
        i = j - 1 if j - 1 > i else j
    return windows


def article_passages(article: Article, limit: int, count: TokenCounter) -> list[Passage]:
    passages: list[Passage] = []
    for number, paragraph in enumerate(article.paragraphs, start=1):
        spans = split_paragraph(paragraph, limit, count)
        first_part = 0 if len(spans) == 1 else 1
        for part, (start, end) in enumerate(spans, start=first_part):
            text = paragraph[start:end]
            passages.append(Passage(article.id, number, part, start, end, text, text_hash(text)))
    return passages


def sentence_key(passage_hash: str, start: int, end: int) -> str:
    """The key a sentence's vector is kept under: its passage and its place there, since the vector is
    pooled from the passage's encoding (pooling.py) and the same words read differently elsewhere."""
    return text_hash(f"{passage_hash}:{start}:{end}")


class Sentence(NamedTuple):
    start: int  # character offsets within the passage
    end: int
    hash: str  # sentence_key(passage hash, start, end)
    terms: str  # its lexical tokens (text.tokenize), space-separated: how they are stored and joined
    clues: int  # clues.sentence_clues: what kinds of answer it can give (a number, a date, a reason …)
    entities: str = ""  # its named entities (entities.encode), filled in by entities.tag at build time
    entity_labels: int = 0  # the bit mask of their labels (entities.LABELS)
    voice: tuple[float, ...] = ()  # voice.VOICE: how evaluative, whose words; filled in by voice.with_voice


@dataclass(frozen=True)
class CutArticle:
    """An article as the index holds it: passages that fit the encoder, each with its sentences."""

    article: Article
    passages: tuple[tuple[Passage, tuple[Sentence, ...]], ...]


def cut_article(article: Article, limit: int, count: TokenCounter) -> CutArticle:
    passages = []
    for passage in article_passages(article, limit, count):
        sentences = tuple(
            Sentence(s, e, sentence_key(passage.hash, s, e), " ".join(tokenize(text)), sentence_clues(text))
            for s, e in sentence_spans(passage.text)
            for text in (passage.text[s:e],)
        )
        passages.append((passage, sentences))
    return CutArticle(article, tuple(passages))
