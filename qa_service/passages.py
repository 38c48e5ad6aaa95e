"""Cutting paragraphs into passages that fit the encoder's window, each citing its paragraph.

Most paragraphs fit the model's 256 word pieces and become one passage. A longer one is cut at
sentence boundaries into overlapping windows (one sentence of overlap), so no text is silently
truncated by the encoder and every window still cites the paragraph number it came from.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from .corpus import Article
from .text import sentence_spans

TokenCounter = Callable[[str], int]


@dataclass(frozen=True)
class Passage:
    article_id: str
    paragraph: int  # 1-based paragraph number in the article
    part: int  # 0 for a whole paragraph, else the window number within it
    start: int  # character offsets of the passage within its paragraph
    end: int
    text: str

    @property
    def hash(self) -> str:
        return text_hash(self.text)


def text_hash(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


def _word_windows(text: str, base: int, limit: int, count: TokenCounter) -> list[tuple[int, int]]:
    """Fallback for a single sentence longer than the window: cut it between words."""
    words = [(m.start() + base, m.end() + base) for m in re.finditer(r"\S+", text)]
    windows, i = [], 0
    while i < len(words):
        j = i + 1
        while j < len(words) and count(text[words[i][0] - base:words[j][1] - base]) <= limit:
            j += 1
        windows.append((words[i][0], words[j - 1][1]))
        if j >= len(words):
            break
        i = max(i + 1, j - max(1, (j - i) // 8))
    return windows


def split_paragraph(text: str, limit: int, count: TokenCounter) -> list[tuple[int, int]]:
    """Character spans of the windows of one paragraph; a single span when it fits."""
    if count(text) <= limit:
        return [(0, len(text))]
    units: list[tuple[int, int]] = []
    for s, e in sentence_spans(text):
        if count(text[s:e]) <= limit:
            units.append((s, e))
        else:
            units.extend(_word_windows(text[s:e], s, limit, count))
    windows: list[tuple[int, int]] = []
    i = 0
    while i < len(units):
        j = i + 1
        while j < len(units) and count(text[units[i][0]:units[j][1]]) <= limit:
            j += 1
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
            passages.append(Passage(article.id, number, part, start, end, paragraph[start:end]))
    return passages


def build_passages(articles: Sequence[Article], limit: int, count: TokenCounter) -> list[Passage]:
    return [p for article in articles for p in article_passages(article, limit, count)]
