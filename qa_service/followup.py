"""Resolving follow-up questions against the conversation, so retrieval sees what "he" means.

A question that leans on an earlier turn (a pronoun, or almost no words of its own) is
searched together with the previous question; a question that stands on its own is searched
as it is, so a change of subject is never dragged back to the old one.
"""

from __future__ import annotations

import re

from .text import tokenize

ANAPHORA = re.compile(
    r"\b(he|she|him|her|his|hers|it|its|they|them|their|theirs|this|that|these|those|there|"
    r"the same|such|the former|the latter)\b",
    re.IGNORECASE,
)
STANDALONE_TERMS = 4


def needs_context(question: str) -> bool:
    return bool(ANAPHORA.search(question)) or len(tokenize(question)) < 2


def retrieval_query(question: str, history: tuple[tuple[str, str], ...]) -> str:
    """The text to search with: the question, plus the last question when it depends on it."""
    if not history or not needs_context(question):
        return question
    if len(tokenize(question)) >= STANDALONE_TERMS and not ANAPHORA.search(question):
        return question
    previous_question = next((q for q, _ in reversed(history) if q.strip()), "")
    return f"{question} {previous_question}".strip()
