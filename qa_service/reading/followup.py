"""Reading a follow-up question in the light of the conversation: what it leaves out, and where it points.

A question leans on an earlier turn when it has a third-person pronoun and few words of its
own ("Who did he call to complain?"), almost no words at all ("Why now?", "And Iran?"), starts
as a continuation ("What about …"), points back at the previous answer ("Who said that?"), or
names something only by description ("How did the prime minister respond?"). Such a question
is read against the conversation:

* its pronouns are read as the names of the earlier turns (the previous answer first, then the
  previous question, then earlier turns), a person's pronoun as a person's name where one can
  be told: "Who did he call?" after "What did Pompeo warn about?" reads "he" as Pompeo;
* the words it leaves out are carried over, in brackets: the proper names of the previous
  question (itself read the same way), else those of the previous answer, else the previous
  question's content words: "Who did he call to complain? (Pompeo)". Only names are carried,
  not the whole earlier question, so the new question still decides what is asked;
* the editorial of the previous answer (`Turn.article_id`) is where it is searched first
  (`discussion.py`).

A question that stands on its own is searched exactly as asked, so a change of subject is
never dragged back to the old one. Reading is string work only: the encoder still embeds one
text per question.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass

from ..text import STOPWORDS, tokenize

PRONOUN = re.compile(
    r"\b(he|she|him|his|her|hers|it|its|they|them|their|theirs|this|that|these|those|the former|the latter)\b",
    re.IGNORECASE,
)
PERSON_PRONOUN = re.compile(r"\b(he|she|him|his|her|hers|himself|herself)\b", re.IGNORECASE)
# "that" only as a pronoun that stands for something ("Who said that?", "about that figure"), not as a conjunction.
REFERENCE = re.compile(r"\b(?:that|this|those|these)\b(?!\s+(?:the|a|an|he|she|it|they|we|i|you|there)\b)"
                       r"|\b(?:the|that|this) (?:figure|number|claim|view|argument|decision|move|idea|case|one)\b",
                       re.IGNORECASE)
CONTINUATION = re.compile(r"^\s*(and|but|also|or|then|so|what about|how about|what else)\b", re.IGNORECASE)
DEFINITE = re.compile(r"\bthe\b", re.IGNORECASE)
CAPITALISED = re.compile(r"\b[A-Z][\w’'.-]*(?:\s+(?:of\s+|the\s+|al-|bin\s+)?[A-Z][\w’'.-]*)*")
TITLES = re.compile(r"\b(?:President|Prime Minister|Minister|Secretary|Senator|Governor|Mayor|King|Queen|Prince|"
                    r"Pope|General|Chancellor|Judge|Chief|Sheikh|Mr|Mrs|Ms|Dr)\.?\s+$")
NOT_NAMES = frozenset(re.findall(r"\w+", """
    what who whom whose which when where why how did does do is are was were will would can could should
    has have had the a an in on at of for to and but or if then also i you we he she it they this that these
    those his her its their there here mr mrs ms dr so according
"""))
NOT_PERSON_WORDS = frozenset(re.findall(r"\w+", """
    bank council court party front union university college school church ministry department office agency
    committee commission house senate congress parliament assembly government army navy forces state states
    united kingdom republic islands island city county street road north south east west new old national
    international european american british french russian chinese islamic muslim christian jewish news times
    post journal post company group foundation institute association organisation organization league club
    january february march april may june july august september october november december monday tuesday
    wednesday thursday friday saturday sunday christmas easter god gods kings day year act law bill treaty
    war report
"""))
CALENDAR = frozenset(re.findall(r"\w+", """january february march april may june july august september october
    november december monday tuesday wednesday thursday friday saturday sunday"""))
PARTICLE = re.compile(r"^(?:al|el|bin|ibn|de|da|van|von)-", re.IGNORECASE)
AUXILIARIES = "did|does|do|has|had|have|was|is|will|would|can|could|should|might|may"
SAYING = ("said|says|told|tells|warned|warns|argued|argues|wrote|writes|called|calls|claimed|claims|insisted|"
          "insists|added|asked|telephoned|met|visited|announced|promised|admitted|denied")
FEW_TERMS = 2  # fewer content words than this: a follow-up ("Why?", "And Iran?")
OWN_TERMS = 5  # a question with this many content words stands alone, pronoun or not
DESCRIPTION_TERMS = 3  # "the prime minister", with no name of its own and at most this many words
# The work one text may cost: its first capitalised runs only (an answer sentence has a few dozen; a hostile
# history of 30 KB of "M," had thousands in each turn).
MAX_CAPITALISED_RUNS = 200
TITLE_REACH = 40  # characters before a name searched for its title: "Prime Minister " and some spacing
MAX_NAMES = 4
MAX_WORDS = 8


@dataclass(frozen=True)
class Turn:
    """One earlier turn of a conversation, as the client sends it back with the next question."""

    question: str
    answer: str = ""  # the answer sentence shown ("" when none was)
    article_id: str | None = None  # the editorial that answer came from
    paragraph: int | None = None  # and its paragraph


@dataclass(frozen=True)
class Reading:
    """How a question was read against the conversation (an empty Reading: as asked)."""

    leans: bool = False  # it needs the conversation to be understood
    context: str = ""  # the words it leaves out, carried over from the conversation
    pronouns: tuple[tuple[str, str], ...] = ()  # ("he", "Pompeo"): shown to the reader
    previous: Turn | None = None  # the last turn before it (None: the conversation starts here)
    shown: tuple[str, ...] = ()  # the answers already given from the previous turn's editorial


def names(text: str) -> list[str]:
    """Capitalised names in `text` ("Pompeo", "Marshall Islands", "Kim Jong-un"), first seen first."""
    return [name for name, _ in _names_with_titles(text)]


def _names_with_titles(text: str) -> list[tuple[str, bool]]:
    """Each name, and whether it looks like a person's: a title before it ("President Jonathan"), or two or
    three capitalised words none of which names an organisation or a place ("Chris Kyle", not "Security
    Council")."""
    found: dict[str, bool] = {}
    for match in itertools.islice(CAPITALISED.finditer(text), MAX_CAPITALISED_RUNS):
        words = match.group(0).split()
        while words and words[0].lower().strip("’'") in NOT_NAMES:
            words = words[1:]
        owner = next((i for i, w in enumerate(words) if w.endswith(("’s", "'s"))), len(words))
        words = words[:owner + 1]  # "Ridley Scott's Exodus": the owner is the name
        titled = False
        while len(words) > 1 and TITLES.match(words[0] + " "):
            words, titled = words[1:], True
        name = " ".join(words).rstrip(".’'").removesuffix("’s").removesuffix("'s").rstrip(",;:")
        if not name or name.lower() in NOT_NAMES or name.lower() in CALENDAR or name in found:
            continue
        if len(words) == 1 and _starts_sentence(text, match.start()):
            continue  # "Instead", "Sitting": capitalised because a sentence starts there
        titled = titled or _title_before(text, match.start())
        found[name] = titled or (2 <= len(name.split()) <= 3 and all(_person_word(w) for w in name.split()))
    return list(found.items())


def _title_before(text: str, start: int) -> bool:
    """Whether a title ("President ") ends just before `start`; only the few characters before it are read."""
    return start > 0 and text[start - 1].isspace() and bool(TITLES.search(text, max(0, start - TITLE_REACH), start))


def _starts_sentence(text: str, start: int) -> bool:
    """Whether a sentence starts at `start`: read back over the whitespace before it only, never the whole text."""
    end = start
    while end > 0 and text[end - 1].isspace():
        end -= 1
    return end == 0 or text[end - 1] in ".!?\"“‘:-"


def _person_word(word: str) -> bool:
    word = PARTICLE.sub("", word)  # "al-Assad", "bin Salman"
    return word[:1].isupper() and word[1:].islower() and word.lower() not in NOT_PERSON_WORDS


# A word after an auxiliary, or before a possessive or a verb of saying; a word starts where no word character is
# before it, so each word is read once however many hyphens or dots it holds.
_ACTING = re.compile(rf"\b(?:{AUXILIARIES})\s+([\w’'.-]+)|(?<![\w’'.-])([A-Z][\w-]*+)(?:’s|'s|\s+(?:{SAYING}))\b")


def _acting(text: str) -> set[str]:
    """The words used as a person's in `text`: "did Pompeo warn", "Pompeo’s remarks", "Pompeo said".

    One pass over the text for all its names (a search per name was quadratic in a text of many names).
    """
    return {_bare(word) for match in _ACTING.finditer(text) for word in match.groups() if word}


def _lone_names_acting(text: str, found: list[tuple[str, bool]]) -> list[str]:
    """The one-word names of `found` (first seen first) that `text` uses as a person's."""
    lone = [name for name, _ in found if " " not in name and _person_word(name)]
    acting = _acting(text) if lone else set()
    return [name for name in lone if name in acting]


def _bare(word: str) -> str:
    """A name as `names` gives it: without trailing dots or quotes, or a possessive "’s"."""
    return word.rstrip(".’'").removesuffix("’s").removesuffix("'s")


def needs_context(question: str) -> bool:
    """Whether the question leans on the conversation (see the module's docstring)."""
    terms = set(tokenize(question))
    if len(terms) < FEW_TERMS or CONTINUATION.match(question):
        return True
    if (PRONOUN.search(question) or REFERENCE.search(question)) and len(terms) < OWN_TERMS:
        return True
    return bool(DEFINITE.search(question)) and len(terms) <= DESCRIPTION_TERMS and not names(question)


def _content_words(text: str) -> list[str]:
    words = re.findall(r"(?u)\b\w[\w’'-]+\b", text)
    return list(dict.fromkeys(w for w in words if w.lower() not in STOPWORDS and w.lower() not in NOT_NAMES))


def _new(items: list[str], question: str) -> list[str]:
    """The items that add a word the question does not have."""
    own = {w.lower() for w in re.findall(r"(?u)\w+", question)}
    return [i for i in items if not {w.lower() for w in re.findall(r"(?u)\w+", i)} <= own]


def _context(question: str, previous_question: str, previous_answer: str) -> str:
    carried = _new(names(previous_question), question)[:MAX_NAMES] \
        or _new(names(previous_answer), question)[:MAX_NAMES]
    if not carried:
        carried = _new(_content_words(previous_question), question)[:MAX_WORDS]
    return ", ".join(carried)


def _pronouns(question: str, texts: list[str]) -> tuple[tuple[str, str], ...]:
    """The question's person pronoun ("he", "her") read as the first person named in `texts` (most recent first).

    Other pronouns ("it", "they") stand for things and groups, which capitalisation cannot tell
    apart, so they are left as they are; the editorial under discussion is searched all the same.
    """
    pronoun = PERSON_PRONOUN.search(question)
    if not pronoun:
        return ()
    candidates = [(text, _names_with_titles(text)) for text in texts]
    person = next((name for _, found in candidates for name, is_person in found if is_person), None)
    if person is None:  # else a lone name used as a person's ("did Pompeo warn"), not an acronym ("PFA")
        person = next((name for text, found in candidates for name in _lone_names_acting(text, found)), None)
    return ((pronoun.group(0), person),) if person else ()


def read(question: str, history: tuple[Turn, ...]) -> Reading:
    """How `question` leans on `history` (no context when it stands alone or there is no history)."""
    asked = [turn for turn in history if turn.question.strip()]
    if not asked:
        return Reading()
    previous = asked[-1]
    shown = tuple(t.answer for t in history if t.answer and t.article_id and t.article_id == previous.article_id)
    leans = needs_context(question)
    resolved_earlier = _resolved(asked)
    texts = [previous.answer, resolved_earlier, *(t.answer + " " + t.question for t in reversed(asked[:-1]))]
    return Reading(
        leans=leans,
        context=_context(question, resolved_earlier, previous.answer or "") if leans else "",
        pronouns=_pronouns(question, [t for t in texts if t]),  # a person's pronoun refers back, leaning or not
        previous=previous,
        shown=shown,
    )


def _resolved(asked: list[Turn]) -> str:
    """The last of the questions `asked`, with what it leaves out: each is read against the one before it,
    oldest first, so the whole history is read once (reading each turn anew for the next was quadratic)."""
    resolved = asked[0].question
    for before, turn in zip(asked, asked[1:]):
        context = _context(turn.question, resolved, before.answer) if needs_context(turn.question) else ""
        resolved = with_context(turn.question, context)
    return resolved


def with_context(question: str, context: str) -> str:
    return f"{question} ({context})" if context else question


def retrieval_query(question: str, history: tuple[Turn, ...]) -> str:
    """The text to search with: the question, plus what it leaves out when it depends on the conversation."""
    return with_context(question, read(question, history).context)
