"""What kind of answer a question asks for, and the names it gives, read from its words (which costs nothing).

"How many …?" asks for a number, "When …?" a date, "Who …?" a person, "Where …?" a place (each matched
against the sentences' named entities: entities.ASKED), "Why …?" a reason and "What does the writer
think …?" an argument (matched against clues.py's flags). The names a question gives (people, places,
organisations, years) must be in the article that answers it (answer.py).
"""

from __future__ import annotations

import re

from ..index.clues import CAUSE, OPINION
from ..text import tokenize

# Question kinds, and the clue the two that no entity answers expect of their answer (the others: entities.ASKED).
KINDS = ("duration", "number", "date", "person", "place", "reason", "opinion", "other")
EXPECTED = {"reason": CAUSE, "opinion": OPINION}

_WRITER = r"(?:writer|author|columnist|editorial|editors?|paper|piece|article|we|you|i)"
_KIND_RULES = (
    ("duration", re.compile(r"\bhow long\b(?!\s+ago)|\bhow many (?:years|months|weeks|days|hours|decades)\b",
                            re.IGNORECASE)),
    ("number", re.compile(r"\bhow (?:many|much|old|far|fast|big|large|high|low|often|tall)\b|"
                          r"\bwhat (?:percentage|share|proportion|number|amount|fraction|sum|price|rate)\b|"
                          r"\b(?:at what|by what) (?:rate|margin|percentage)\b|"
                          r"\bwhat (?:are|were) the (?:odds|chances)\b", re.IGNORECASE)),
    ("date", re.compile(r"^\W*(?:when|since when|until when)\b|\b(?:what|which) (?:year|date|day|month|decade|time)\b|"
                        r"\bin what year\b|\bhow long ago\b", re.IGNORECASE)),
    ("person", re.compile(r"^\W*(?:who|whom|whose)\b|\b(?:which|what) (?:\w+ )?(?:person|man|woman|men|women|"
                          r"leader|official|minister|president|senator|boss|owner|relative|journalist|writer|"
                          r"actor|actress|inmate|judge|player|chief|ceo|chairman|founder|politician|candidate|"
                          r"general|spokesman|spokeswoman|lawyer|scientist|author)s?\b", re.IGNORECASE)),
    ("place", re.compile(r"^\W*where\b|\b(?:which|what|in which|in what) (?:\w+ )?(?:country|countries|city|"
                         r"cities|town|state|region|province|place|port|village|island|capital|continent|nation|"
                         r"venue|location|area)\b", re.IGNORECASE)),
    ("reason", re.compile(r"\bwhy\b|"
                          r"\bwhat (?:\w+ )?(?:caused|causes|led|leads|drove|drives|pushed|is behind|explains)\b|"
                          r"\bfor what reason\b|\bwhat (?:is|was|are|were) the reasons?\b", re.IGNORECASE)),
    ("opinion", re.compile(r"\b(?:in the " + _WRITER + r"'?s? (?:view|opinion|eyes)|according to (?:the|this) "
                           + _WRITER + r"|says? the " + _WRITER + r"|the " + _WRITER + r" (?:thinks?|argues?|"
                           r"believes?|wants?|suggests?|says?|sees?|calls?|make|makes|draws?|suspects?|fears?|"
                           r"worr(?:y|ies)|proposes?|recommends?|urges?)|does the " + _WRITER + r"|"
                           r"(?:worries|bothers|troubles|concerns|angers|pleases) the " + _WRITER + r"|"
                           r"should\b|ought\b|is it (?:better|right|wise|wrong)|was (?:it|the \w+) right)",
                           re.IGNORECASE)),
)


def question_kind(question: str) -> str:
    """The kind of answer the question asks for: one of KINDS, "other" when its words do not say."""
    for kind, rule in _KIND_RULES:
        if rule.search(question):
            return kind
    return "other"


_CAPITALISED = re.compile(r"\b[A-Z][\w’'.-]*(?:\s+(?:of\s+|the\s+|de\s+)?[A-Z][\w’'.-]*)*")
_YEARS = re.compile(r"\b(?:1[5-9]\d\d|20\d\d)\b")


def question_names(question: str) -> list[list[str]]:
    """The names a question gives (people, places, organisations, years), each as its lexical terms.

    The question's first word is capitalised anyway ("Besides", "Upon"), so it never counts.
    """
    found: list[list[str]] = []
    opening = len(question) - len(question.lstrip())
    for match in _CAPITALISED.finditer(question):
        words = match.group(0).split()
        if match.start() == opening:
            words = words[1:]
        terms = tokenize(" ".join(words))
        if terms and terms not in found:
            found.append(terms)
    for year in _YEARS.findall(question):
        if [year] not in found:
            found.append([year])
    return found
