"""Acronyms the articles define, so that a query naming a thing finds the articles that use its acronym.

An article that writes "Islamic State of Iraq and the Levant (ISIL)" once and "ISIL" seventeen
times shares no word with a reader's "the Islamic State group" but the long form's. The articles'
own definitions say which acronym a name stands for: found with the Schwartz–Hearst rule (the
acronym's letters, last to first, in the words before the parenthesis, its first letter starting
a word; "A Simple Algorithm for Identifying Abbreviation Definitions in Biomedical Text", 2003).
The PyPI package `abbreviations` implements it too, but configures the root logger when imported
and raises on unbalanced parentheses; the rule is the twenty lines below.

A query gains a definition's acronym when it names the long form: all of it, or its first words
when they hold at least half of its content words ("Islamic State" for ISIL, not "United States"
for "United States Agency for International Development").
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from ..text import STOPWORDS, fold_accents

# "(ISIL)", "(Isis)", "(MoD)": 2-10 letters, a capital first, written right after a space.
_DEFINED = re.compile(r"(?<=\s)\(([A-Z][A-Za-z]{1,9})\)")
_WORD = re.compile(r"[\w'’-]+")
_POSSESSIVE = re.compile(r"['’]s$")
_WINDOW = 400  # characters
_CLAUSE_END = re.compile(r"[.;:!?,()\[\]\"“”]")


def _words(text: str) -> list[str]:
    """Lower-cased, accent-free words without a possessive ("Agency's" -> "agency")."""
    return [_POSSESSIVE.sub("", w) for w in _WORD.findall(fold_accents(text).lower())]


def _long_form(words: list[str], acronym: str) -> list[str] | None:
    """The shortest tail of `words` whose letters spell `acronym` (Schwartz–Hearst), or None."""
    text = " ".join(words)
    at = len(text) - 1
    for position in range(len(acronym) - 1, -1, -1):
        letter = acronym[position].lower()
        # the first letter must start a word; the others may sit anywhere in one
        while at >= 0 and (text[at].lower() != letter or (position == 0 and at > 0 and text[at - 1] != " ")):
            at -= 1
        if at < 0:
            return None
        at -= 1
    start = text.rfind(" ", 0, at + 1) + 1
    form = text[start:].split()
    return form if len(form) >= 2 else None


class Definitions:
    """The long forms some texts define, found by their first word so that a query checks only its own words'."""

    def __init__(self, texts: Iterable[str]):
        forms: dict[tuple[str, ...], str] = {}
        for text in texts:
            for match in _DEFINED.finditer(text):
                acronym = match.group(1)
                # the clause before the parenthesis, from a window that holds the longest long form (20 words)
                before = _CLAUSE_END.split(text[max(0, match.start() - _WINDOW):match.start()])[-1]
                limit = min(len(acronym) + 5, 2 * len(acronym))
                words = _long_form(_words(before)[-limit:], acronym)
                if words is not None:
                    forms[tuple(words)] = acronym
        self.by_first_word: dict[str, list[tuple[tuple[str, ...], str]]] = {}
        for form, acronym in forms.items():
            self.by_first_word.setdefault(form[0], []).append((form, acronym))

    def __len__(self) -> int:
        return sum(len(forms) for forms in self.by_first_word.values())

    def named(self, text: str) -> list[list[str]]:
        """The acronyms of the long forms `text` names, grouped by the place that names them ("Islamic State"
        names both ISIL and Isis when the texts define both); none for a name `text` abbreviates itself."""
        words = _words(text)
        places: dict[int, list[str]] = {}
        for place, word in enumerate(words):
            for form, acronym in self.by_first_word.get(word, ()):
                if acronym not in places.get(place, ()) and _names(words[place:place + len(form)], form):
                    places.setdefault(place, []).append(acronym)
        return [places[place] for place in sorted(places)
                if not any(acronym.lower() in words for acronym in places[place])]


def _content(words: Sequence[str]) -> int:
    return sum(w not in STOPWORDS for w in words)


def _names(words: list[str], form: tuple[str, ...]) -> bool:
    """Whether `words` start with all of `form` or with a part of it holding half its content words, at least two."""
    needed = max(2, (_content(form) + 1) // 2)
    same = 0
    while same < min(len(words), len(form)) and words[same] == form[same]:
        same += 1
    return same == len(form) or any(_content(form[:end]) >= needed and form[end - 1] not in STOPWORDS
                                    for end in range(2, same + 1))
