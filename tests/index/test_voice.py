"""A sentence's voice: evaluative and deontic words, the writer's own against others', and what is no claim."""

from __future__ import annotations

import pytest

from qa_service.index.voice import VOICE, voice


def of(text: str) -> dict[str, float]:
    return dict(zip(VOICE, voice(text), strict=True))


def test_a_verdict_is_evaluative_and_deontic():
    verdict = of("The council should publish the inspection now; hiding it would be shameful and wrong.")
    report = of("The inspection was carried out in 2012 on eleven curves.")
    assert verdict["deontic"] >= 1 and report["deontic"] == 0
    assert verdict["vader_strength"] > report["vader_strength"] and verdict["vader_negative"] > 0


def test_the_writers_own_voice_against_someone_elses():
    own = of("We believe the dam is the wrong answer.")
    reported = of("“We will mend the pipes,” she told a packed meeting, according to the board.")
    assert own["first_person"] >= 1 and own["attribution"] == 0 and own["quotation"] == 0
    assert reported["attribution"] >= 2 and reported["quotation"] == 1


@pytest.mark.parametrize("text", [
    "His latest book is The Price of Water. Follow him on Twitter @johndoe.",
    "Jane Roe is a senior fellow at the Institute for Water Policy.",
    "She is the author of three books on rivers.",
])
def test_a_byline_or_a_bio_is_marked(text):
    assert of(text)["byline"] == 1


def test_a_greeting_is_marked_and_a_plain_sentence_is_neither():
    assert of("Merry Christmas, Piedmont.")["greeting"] == 1
    plain = of("The tram stopped a metre from the river wall.")
    assert plain["greeting"] == 0 and plain["byline"] == 0
    assert len(voice("")) == len(VOICE)
