"""What kinds of answer a sentence can give, as bit flags computed once at index time (`sentence_clues`).

A reader's "Why …?" is answered by a sentence giving a reason, "What does the writer think …?" by one
where the writer argues ("should", "must", "it is time"); a sentence that asks or quotes is seldom an
answer. Topic sentences ("Pompeo's remarks were tough.") match the question's words as well as the
answer does, so these clues help tell them apart (kinds.py reads what a question asks for). A
sentence's numbers, dates, people and places are its named entities (entities.py: they replaced the
capitalisation and digit rules that were here, README "Quality").
"""

from __future__ import annotations

import re

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
