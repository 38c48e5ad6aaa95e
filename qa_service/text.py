"""Sentence spans and lexical tokens: the small text tools shared by indexing, search and answers."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import Stemmer
from bm25s.stopwords import STOPWORDS_EN_PLUS

# A sentence ends at . ! or ? (optionally followed by closing quotes or brackets), before
# whitespace and a capital, digit or opening quote. Abbreviations are guarded below.
# A run of end marks is matched from its first mark only and never given back (possessive), so a
# paragraph of 60,000 "!" costs one pass, not one pass per mark.
SENTENCE_END = re.compile(r"(?<![.!?])[.!?]++[\"'”’)\]]*+(?=\s+[\"'“‘(\[]?[A-Z0-9])")
ABBREVIATIONS = {
    "mr", "mrs", "ms", "dr", "prof", "st", "jr", "sr", "gen", "col", "lt", "sgt", "gov", "sen",
    "rep", "rev", "vs", "etc", "inc", "ltd", "co", "corp", "no", "fig", "jan", "feb", "mar", "apr",
    "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec", "e.g", "i.e", "u.s", "u.k", "u.n",
}
WORD = re.compile(r"(?u)\b\w\w+\b")
STOPWORDS = frozenset(STOPWORDS_EN_PLUS)


def _word_before(text: str, end: int, start: int) -> str:
    """The word (non-space run) that ends at `end`, not reaching back before `start`.

    Read backwards from `end`, so each sentence end costs its own word, however many abbreviations
    ("J. K. J. K. …") come before it in the same sentence: the splitter stays linear in the paragraph.
    """
    begin = end
    while begin > start and not text[begin - 1].isspace():
        begin -= 1
    return text[begin:end]


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) character offsets of each sentence in `text`, whitespace trimmed."""
    spans: list[tuple[int, int]] = []
    start = 0
    for match in SENTENCE_END.finditer(text):
        token = _word_before(text, match.start(), start).lower().rstrip(".")
        if token in ABBREVIATIONS or (len(token) == 1 and "a" <= token <= "z"):
            continue
        spans.append((start, match.end()))
        start = match.end()
    spans.append((start, len(text)))
    return trimmed_spans(text, spans)


def trimmed_spans(text: str, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """`spans` without the whitespace at their ends; those holding nothing else are dropped."""
    trimmed = []
    for s, e in spans:
        while s < e and text[s].isspace():
            s += 1
        while e > s and text[e - 1].isspace():
            e -= 1
        if e > s:
            trimmed.append((s, e))
    return trimmed


@lru_cache(maxsize=1)
def _stemmer() -> Stemmer.Stemmer:
    return Stemmer.Stemmer("english")


def fold_accents(text: str) -> str:
    """"Beyoncé" -> "Beyonce": readers type names without their accents more often than with them."""
    if text.isascii():
        return text
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def tokenize(text: str) -> list[str]:
    """Lower-cased, accent-free, stop-word free, Snowball-stemmed word tokens (the BM25 vocabulary)."""
    words = [w for w in WORD.findall(fold_accents(text).lower()) if w not in STOPWORDS]
    return _stemmer().stemWords(words)
