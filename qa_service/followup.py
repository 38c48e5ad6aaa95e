"""Resolving follow-up questions against the conversation, so retrieval sees what "he" means.

A question leans on an earlier turn when it has a third-person pronoun and few words of its
own ("Who did he call to complain?"), almost no words at all ("Why?", "And Iran?"), starts as a
continuation ("What about …"), or names something only by description ("How did the prime
minister respond?"). Such a question is searched with the names it leaves out, in brackets:
the proper names of the previous question (itself resolved), else those of the previous
answer, else the previous question's content words:

    "Who did he call to complain?" after "What did Pompeo warn about?"
    -> "Who did he call to complain? (Pompeo)"

Only the names are carried over, not the whole earlier question, so the new question still
decides what is asked. A question that stands on its own is searched exactly as asked, so a
change of subject is never dragged back to the old one. Resolution is string work only: the
encoder still embeds one text per question.
"""

from __future__ import annotations

import re

from .text import STOPWORDS, tokenize

PRONOUN = re.compile(
    r"\b(he|she|him|his|her|hers|it|its|they|them|their|theirs|this|these|those|the former|the latter)\b",
    re.IGNORECASE,
)
CONTINUATION = re.compile(r"^\s*(and|but|also|or|then|what about|how about|what else)\b", re.IGNORECASE)
DEFINITE = re.compile(r"\bthe\b", re.IGNORECASE)
CAPITALISED = re.compile(r"\b[A-Z][\w’'.-]*(?:\s+(?:of\s+|the\s+)?[A-Z][\w’'.-]*)*")
NOT_NAMES = frozenset(re.findall(r"\w+", """
    what who whom whose which when where why how did does do is are was were will would can could should
    has have had the a an in on at of for to and but or if then also i you we he she it they this that these
    those his her its their there here mr mrs ms dr
"""))
FEW_TERMS = 2  # fewer content words than this: a follow-up ("Why?", "And Iran?")
OWN_TERMS = 5  # a question with this many content words stands alone, pronoun or not
DESCRIPTION_TERMS = 3  # "the prime minister", with no name of its own and at most this many words
MAX_NAMES = 4
MAX_WORDS = 8


def names(text: str) -> list[str]:
    """Capitalised names in `text` ("Pompeo", "Marshall Islands", "Kim Jong-un"), first seen first."""
    found: list[str] = []
    for match in CAPITALISED.finditer(text):
        words = match.group(0).split()
        while words and words[0].lower().strip("’'") in NOT_NAMES:
            words = words[1:]
        name = " ".join(words).rstrip(".’'").removesuffix("’s").removesuffix("'s")
        if name and name.lower() not in NOT_NAMES and name not in found:
            found.append(name)
    return found


def needs_context(question: str) -> bool:
    """Whether the question leans on the conversation (see the module's docstring)."""
    terms = set(tokenize(question))
    if len(terms) < FEW_TERMS or CONTINUATION.match(question):
        return True
    if PRONOUN.search(question) and len(terms) < OWN_TERMS:
        return True
    return bool(DEFINITE.search(question)) and len(terms) <= DESCRIPTION_TERMS and not names(question)


def _content_words(text: str) -> list[str]:
    words = re.findall(r"(?u)\b\w[\w’'-]+\b", text)
    return list(dict.fromkeys(w for w in words if w.lower() not in STOPWORDS and w.lower() not in NOT_NAMES))


def _context(question: str, previous_question: str, previous_answer: str) -> str:
    own = {w.lower() for w in re.findall(r"(?u)\w+", question)}

    def new(items: list[str]) -> list[str]:
        return [i for i in items if not {w.lower() for w in re.findall(r"(?u)\w+", i)} <= own]

    carried = new(names(previous_question))[:MAX_NAMES] or new(names(previous_answer))[:MAX_NAMES]
    if not carried:
        carried = new(_content_words(previous_question))[:MAX_WORDS]
    return ", ".join(carried)


def resolve(question: str, history: tuple[tuple[str, str], ...]) -> str:
    """What the question leaves out and the conversation supplies ("" for a question that stands alone)."""
    if not history or not needs_context(question):
        return ""
    last = next((i for i in range(len(history) - 1, -1, -1) if history[i][0].strip()), None)
    if last is None:
        return ""
    earlier, answer = history[last]
    return _context(question, retrieval_query(earlier, history[:last]), answer or "")


def with_context(question: str, context: str) -> str:
    return f"{question} ({context})" if context else question


def retrieval_query(question: str, history: tuple[tuple[str, str], ...]) -> str:
    """The text to search with: the question, plus what it leaves out when it depends on the conversation."""
    return with_context(question, resolve(question, history))
