"""The topic of an overview request (topic_frame.py): the frame around it taken off, the topic kept whole."""

import pytest

from qa_service.reading.topic_frame import topic_of

from ..fixtures import linear


@pytest.mark.parametrize(("text", "topic"), [
    ("What has the paper said about the Charlie Hebdo killings?", "the Charlie Hebdo killings"),
    ("What's the paper's view of the Senate findings?", "the Senate findings"),
    ("How did the editorials view Iran - the nuclear talks?", "Iran - the nuclear talks"),
    ("Editorials on the NHS winter crisis", "the NHS winter crisis"),
    ("How did the editorials react to the Lindt cafe siege in Sydney?", "the Lindt cafe siege in Sydney"),
    ("How has the paper covered the NHS?", "the NHS"),
    ("Where did the paper stand on the euro?", "the euro"),
    ("What did the editorials make of Obama's speech?", "Obama's speech"),
    ("Show me the editorials on Greece", "Greece"),
    # other writers, other verbs, other word orders
    ("What have the columnists said about free speech?", "free speech"),
    ("What has been written about the Senate torture report?", "the Senate torture report"),
    ("What does the paper think about men's violence against women?", "men's violence against women"),
    ("What has the paper had to say about Hollywood and race?", "Hollywood and race"),
    ("Tell me what the paper thought of the euro crisis", "the euro crisis"),
    ("Any editorials on Greece?", "Greece"),
    ("Opinion pieces on police violence", "police violence"),
    ("The paper’s view on the NHS winter crisis", "the NHS winter crisis"),
    ("What stance did the paper take on the Iran talks?", "the Iran talks"),
    ("How was the Charlie Hebdo attack covered?", "the Charlie Hebdo attack"),
    ("How was Greece covered in the editorials?", "Greece"),
    ("What was said about Greece in the editorials?", "Greece"),
    ("What did the editorials on Greece say?", "Greece"),
    # the topic kept whole
    ("What has the paper said about the view from Moscow?", "the view from Moscow"),
    ("What has the paper said about the US on Iran?", "the US on Iran"),
    ("Editorials on free thought", "free thought"),
    ("Editorials on on-line privacy", "on-line privacy"),
    ("the tram derailment", "the tram derailment"),
    ("What about Greece?", "What about Greece"),  # no writer, no writing: not a frame
    ("What has the paper said about?", "What has the paper said about"),  # nothing left: kept whole
])
def test_topic_of_takes_the_frame_off(text, topic):
    assert topic_of(text) == topic


SPACED = {
    "a passive frame": lambda n: "how was x" + " " * n + "y",
    "a topic with a long gap": lambda n: "x" + " " * n + "y",
    "a gap after a preposition": lambda n: "What did the editorials on x" + " " * n + "in" + " " * n + "y",
}


@pytest.mark.parametrize("make", SPACED.values(), ids=SPACED.keys())
def test_reading_the_topic_grows_linearly_with_its_whitespace(make):
    """Issue 26, 5: "how was x" + 980 spaces + "y" cost 30 times a topic of its length (the frame's searches
    were tried from every space of the run)."""
    assert linear(topic_of, make, n=120)
