"""The topic of an overview request: "What has the paper said about X?" asks about X.

The frame around the topic ("What has the paper said about", "Editorials on", "How was … covered")
is taken off before the topic is searched: its words would match every editorial. A leading frame is
a run of frame words that names the paper or its writing ("editorials", "columnists", "written") and
ends in a preposition ("about", "on", "of" …) or in a verb that takes the topic as its object ("view",
"cover"); the run goes on through later prepositions, so "What has the paper had to say about X"
leaves X, not "say about X", while "… said about the view from Moscow" keeps "the view from Moscow".
"""

from __future__ import annotations

import re


def _set(words: str) -> frozenset[str]:
    return frozenset(words.split())


_WORD = re.compile(r"[\w'’-]+")
_WRITERS = _set("""paper papers paper's newspaper newspapers newspaper's editorial editorials editorial's editor
    editors editors' columnist columnists columnist's writer writers writer's leader leaders opinion
    opinions piece pieces column columns page pages board press commentary coverage overview""")
_WRITING = _set("""say says said saying write writes wrote written writing argue argues argued think thinks thought
    feel feels felt make made react reacted respond responded stand stood take takes took taken view
    views viewed position positions stance stances verdict line judge judged cover covers covered see
    saw seen treat treated portray portrayed discuss discussed summarise summarize summary conclude
    concluded""")
_DIRECT = _set("""view viewed judge judged cover covers covered see saw treat treated portray portrayed discuss
    discussed summarise summarize""")  # verbs whose object is the topic: "How did the editorials view X"
_PREPOSITIONS = _set("""about on of regarding concerning towards toward to over""")
_FILLER = _set("""what what's whats how where has have had did does do is was were are been be the a an any all me
    tell show give list find please its their this that so far ever lately recently in""")
_FRAME = _WRITERS | _WRITING | _PREPOSITIONS | _FILLER
_QUESTION_WORDS = _set("""what what's whats how where did does do""")

# Each whitespace run is entered at its start only ((?<!\s)): tried from every space of a long run, as before, these
# searches were quadratic in the run ("how was x" + 980 spaces + "y" cost 30 times a topic of its length).
_TRAILING_WRITER = re.compile(r"(?<!\s)\s+(?:in|by|from)\s+(?:the\s+)?(?:paper|newspaper|editorials?|editors|columns?|"
                              r"opinion\s+pages?|columnists|press)\s*$", re.IGNORECASE)
_TRAILING_VERB = re.compile(r"(?<!\s)\s+(?:say|said|argue|argued|think|thought|conclude|concluded|suggest|"
                            r"suggested)\s*$", re.IGNORECASE)
# "How was X covered?", "How has X been treated in the editorials?"
_PASSIVE = re.compile(r"^\s*how\s+(?:was|were|is|are|has|have)\s+(.+?)(?<!\s)\s+(?:been\s+)?(?:covered|viewed|treated|"
                      r"portrayed|judged|seen|discussed|reported)\b", re.IGNORECASE)


def _leading_frame(text: str) -> tuple[int, bool]:
    """Where the topic starts after a leading frame (0 without one), and whether the frame is a question that
    ends in a writer and a preposition ("What did the editorials on X say?": a verb may follow the topic)."""
    words = [(m.group(0).lower().replace("’", "'"), m.end()) for m in _WORD.finditer(text)]
    end, named, verb_may_follow = 0, False, False
    for i, (word, word_end) in enumerate(words):
        if word not in _FRAME:
            break
        named = named or word in _WRITERS or word in _WRITING
        ends_frame = word in _PREPOSITIONS or (word in _DIRECT and end == 0)
        if ends_frame and named and i + 1 < len(words):
            end = word_end
            verb_may_follow = words[0][0] in _QUESTION_WORDS and i > 0 and words[i - 1][0] in _WRITERS
    return end, verb_may_follow


def topic_of(text: str) -> str:
    """The topic of an overview request: the text without a frame such as "What has the paper said about"."""
    end, verb_may_follow = _leading_frame(text)
    passive = None if end else _PASSIVE.match(text)
    topic = passive.group(1) if passive else text[end:]
    topic = topic.strip().rstrip("?.! ").strip()
    for trailing in (_TRAILING_WRITER, _TRAILING_VERB) if verb_may_follow else (_TRAILING_WRITER,):
        shorter = trailing.sub("", topic)
        topic = shorter if shorter.strip() else topic
    return topic.strip() or text.strip().rstrip("?.! ").strip() or text.strip()
