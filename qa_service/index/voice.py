"""Whose voice a sentence speaks in, and how strongly: the words that tell a position from a report.

"Sony should seriously consider releasing the comedy" states the writer's position; "Director
Matthew Warchus says he understands the decision" reports someone else's; "His latest book is …
Follow him on Twitter" is a byline, "Merry Christmas, Piedmont." a greeting. An overview shows
each editorial's position and a follow-up asking for the writer's view wants it, so every sentence
gets a few numbers, computed once at index build from its text alone (VOICE, in this order):

* how evaluative it is: VADER's positive and negative shares and the strength of its compound
  score (vaderSentiment, a well-kept opinion lexicon; TextBlob's subjectivity lexicon was measured
  beside it and dropped: leaving one topic out, the position scorer picked a position first for 0.707
  of the dev editorials without it, 0.685 with it, and it was two thirds of this module's build time);
* deontic and modal language ("should", "must", "need to", "it is time", "cannot");
* the writer's own voice ("we", "our", "I") against attribution to others ("said", "according to",
  "told") and quotation;
* what is no claim at all: a byline or an author's bio, a greeting.

What each counts for is fitted (reading/fitted.py, evaluation/fit_positions.py), not set here.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from .passages import CutArticle

VOICE = ("vader_positive", "vader_negative", "vader_strength", "deontic", "first_person", "attribution", "quotation",
         "byline", "greeting")

_DEONTIC = re.compile(r"\b(?:should|shouldn't|must|mustn't|ought|need to|needs to|have to|has to|had better|"
                      r"it is time|it's time|cannot|can't|deserves?|requires?|let us|let's)\b", re.IGNORECASE)
_FIRST_PERSON = re.compile(r"\b(?:we|our|ours|us|i|my|me)\b", re.IGNORECASE)
_ATTRIBUTION = re.compile(r"\b(?:said|says|say|told|tells|according to|claimed|claims|stated|states|insisted|"
                          r"insists|argued|argues|added|wrote|writes|reported|reports|announced|declared|"
                          r"explained|noted|alleged|maintained)\b", re.IGNORECASE)
_QUOTATION = re.compile(r"[\"“”]|(?:^|\s)[‘'][A-Za-z]")
_BYLINE = re.compile(r"\bfollow (?:him|her|me|us|them) on\b|\btwitter\b|@\w{2,}|\b(?:his|her|their) (?:latest|new|"
                     r"most recent) book\b|\bis (?:the )?(?:author|co-author|editor) of\b|\bis an? (?:\w+ ){0,4}"
                     r"(?:professor|fellow|columnist|contributor|correspondent|commentator|lecturer|researcher|"
                     r"analyst|director|editor|writer|author|journalist)\b", re.IGNORECASE)
_GREETING = re.compile(r"\b(?:merry christmas|happy (?:new year|holidays|christmas|easter|birthday)|season's "
                       r"greetings|thank you for reading|thanks for reading)\b", re.IGNORECASE)
_CAP = 3.0  # counts of a kind of word are capped: a long sentence is not more deontic for its length


@lru_cache(maxsize=1)
def _vader():
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    return SentimentIntensityAnalyzer()


def voice(text: str) -> list[float]:
    """The VOICE numbers of one sentence."""
    vader = _vader().polarity_scores(text)
    return [
        vader["pos"], vader["neg"], abs(vader["compound"]), min(len(_DEONTIC.findall(text)), _CAP),
        min(len(_FIRST_PERSON.findall(text)), _CAP), min(len(_ATTRIBUTION.findall(text)), _CAP),
        float(bool(_QUOTATION.search(text))), float(bool(_BYLINE.search(text))), float(bool(_GREETING.search(text))),
    ]


def with_voice(cuts: Sequence[CutArticle]) -> list[CutArticle]:
    """The articles with each sentence's VOICE filled in (the articles a build has not seen before)."""
    from .passages import CutArticle

    return [CutArticle(cut.article, tuple(
        (passage, tuple(s._replace(voice=tuple(voice(passage.text[s.start:s.end]))) for s in sentences))
        for passage, sentences in cut.passages)) for cut in cuts]


def voice_matrix(voices: Sequence[Sequence[float]]) -> np.ndarray:
    """The VOICE rows of sentences as one float32 array (how a generation stores them: SENTENCE_VOICE)."""
    return np.array(voices, dtype=np.float32).reshape(-1, len(VOICE))
