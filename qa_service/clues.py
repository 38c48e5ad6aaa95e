"""What kind of answer a question asks for, and what kinds of answer a sentence can give.

A reader's "How many …?" is answered by a sentence with a number, "When …?" by one with a date
or year, "Who …?" by one naming a person, "Why …?" by one giving a reason, and "What does the
writer think …?" by one where the writer argues ("should", "must", "it is time"). Topic
sentences ("Pompeo's remarks were tough.") match the question's words as well as the answer
does, so these clues are what tells them apart.

A question's kind is read from its first words (`question_kind`), which costs nothing. A sentence's
numbers, dates, people and places are its named entities, found at index time (entities.py: they
replaced the capitalisation and digit rules that were here, README "Quality"); its reasons, arguments,
questions and quotations are bit flags of plain rules computed once at index time (`sentence_clues`).
"""

from __future__ import annotations

import re

from .text import tokenize

# Sentence clues: bit flags (1, 2, 4 and 128 were a number, a date, a name and a place: entities.py now).
CAUSE = 8
OPINION = 16
QUESTION = 32  # the sentence asks rather than tells
QUOTE = 64

_CAUSE = re.compile(
    r"\b(?:because|since|due to|owing to|thanks to|as a result|result of|so that|in order to|caused?|causing|"
    r"leads? to|led to|reasons?|why|therefore|hence|after|given that|for fear|drive[ns]?|driven|fuell?ed)\b",
    re.IGNORECASE,
)
_OPINION = re.compile(
    r"\b(?:should|must|ought|need to|needs to|have to|has to|it is time|it's time|we believe|i believe|i think|"
    r"we think|surely|clearly|better|worse|wrong|right to|mistake|wise|unwise|shameful|welcome|hope|"
    r"deserves?|cannot|can't|would be|is no way|worr(?:y|ies|ied)|danger|threat|lesson|matters?)\b",
    re.IGNORECASE,
)
_QUOTE = re.compile(r"[\"“”]|(?:^|\s)[‘'][A-Z]")


_PATTERNS = ((CAUSE, _CAUSE), (OPINION, _OPINION), (QUOTE, _QUOTE))


def sentence_clues(text: str) -> int:
    """The clue flags of one sentence."""
    flags = sum(flag for flag, pattern in _PATTERNS if pattern.search(text))
    if text.rstrip("\"'”’)] ").endswith("?"):
        flags |= QUESTION
    return flags


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
