"""The overview of a topic on the chat page (overview.js), in a real Chromium against the real service."""

from __future__ import annotations

import json
import re

import pytest

from ...fixtures import TRAM_ID
from .fixtures import DESKTOP, PHONE, overflowing, screenshot
from .test_chat_page import ask

OVERVIEW_QUESTION = "What has the paper said about the Kessling tram derailment?"
TRAM_TITLE = "After the Kessling derailment, mend the tracks before the timetable"


def test_an_overview_question_lists_the_editorials_with_their_key_sentence(page):
    page.goto("/")
    with page.expect_request("**/api/overview") as sent:
        turn = ask(page, OVERVIEW_QUESTION)
    assert json.loads(sent.value.post_data) == {"topic": OVERVIEW_QUESTION}

    reply = turn.locator(".reply.overview")
    summary = reply.locator(".overview-summary").inner_text()
    assert re.match(r"\d+ editorials? on this topic", summary)
    assert summary.endswith("most relevant first") and "by date" not in summary, "its rows are undated"
    rows = reply.locator(".overview-list > li")
    assert rows.count() >= 1
    first = rows.first
    assert first.locator(".overview-title").inner_text() == TRAM_TITLE
    assert first.locator(".undated").inner_text() == "undated"
    sentence = first.locator(".overview-sentence").inner_text()
    assert len(sentence.split()) >= 4

    # ¶ links open the article at that paragraph, each named for a screen reader.
    paragraph = first.locator(".overview-paragraph").first
    assert re.fullmatch(r"¶\d+", paragraph.inner_text())
    assert paragraph.get_attribute("aria-label").startswith(f"{TRAM_TITLE}, paragraph ")
    href = paragraph.get_attribute("href")
    assert href.startswith(f"/articles/{TRAM_ID}#p")
    page.wait_for_function("document.getElementById('announcer').textContent.includes('on this topic')")

    # The overview survives a reload, as answers do.
    page.reload()
    assert page.locator(".turn .overview-list > li").first.locator(".overview-title").inner_text() == TRAM_TITLE

    paragraph = page.locator(".overview-paragraph").first
    paragraph.focus()
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(rf"/articles/{TRAM_ID}#p\d+$"))


def test_an_ordinary_answer_offers_all_editorials_on_its_topic(page):
    page.goto("/")
    turn = ask(page, "Why did the Kessling tram derail?")
    assert turn.locator(".reply .passages").count() == 1  # an ordinary answer, from /api/ask
    offer = turn.locator(".overview-offer")
    assert offer.inner_text() == "All editorials on this"
    offer.focus()
    with page.expect_request("**/api/overview") as sent:
        page.keyboard.press("Enter")
    assert json.loads(sent.value.post_data) == {"topic": "Why did the Kessling tram derail?"}
    overview = page.locator(".turn").nth(1)
    overview.locator(".reply.overview").wait_for()
    assert overview.locator(".bubble-user").inner_text() == "All editorials on: Why did the Kessling tram derail?"
    assert TRAM_TITLE in overview.locator(".overview-list").inner_text()


def test_an_overview_of_nothing_says_so(page):
    page.goto("/")
    turn = ask(page, "Editorials on cryptocurrency and bitcoin mining")
    assert turn.locator(".overview-summary").inner_text() == "No editorial discusses this topic."
    assert turn.locator(".overview-list").count() == 0


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_the_overview_fits_the_screen_and_every_link_is_named(new_page, viewport):
    page = new_page(viewport=viewport)
    page.goto("/")
    ask(page, OVERVIEW_QUESTION)
    screenshot(page, f"overview-{'phone' if viewport is PHONE else 'desktop'}")
    overflow = overflowing(page)
    assert overflow == [], overflow
    unnamed = page.evaluate(
        "[...document.querySelectorAll('.overview a[href], .overview button')].filter(e =>"
        " !e.getAttribute('aria-label') && !e.textContent.trim()).map(e => e.outerHTML)")
    assert unnamed == []
    if viewport is PHONE:  # ¶ links are large enough to tap
        box = page.locator(".overview-paragraph").first.bounding_box()
        assert box["width"] >= 24 and box["height"] >= 24


@pytest.mark.parametrize(("text", "overview"), [
    (OVERVIEW_QUESTION, True),
    ("How did the editorials view the tram derailment?", True),
    ("Editorials on the tram derailment", True),
    ("What have the columnists said about the tram derailment?", True),
    ("What does the paper think about trams?", True),
    ("Tell me what the paper thought of the tram derailment", True),
    ("What has been written about the tram derailment?", True),
    ("Any editorials on trams?", True),
    ("Summarise the editorials on trams", True),
    ("How was the tram derailment covered?", True),
    # a question about one editorial, or a follow-up, stays a question
    ("What did the writer say about the mayor?", False),
    ("What does the editorial say about the tracks?", False),
    ("How was it covered?", False),
    ("Why did the Kessling tram derail?", False),
])
def test_which_questions_ask_for_an_overview(page, text, overview):
    page.goto("/")
    assert page.evaluate("(text) => window.QAOverview.isOverviewQuestion(text)", text) is overview


def test_an_unsure_position_shows_a_second_sentence_with_its_paragraph(new_page, second_sentence_server):
    """Issue 28, 1: when the first sentence is unsure, the next one is shown too ("Also, in ¶N:")."""
    page = new_page(base_url=second_sentence_server)
    page.goto("/")
    first = ask(page, OVERVIEW_QUESTION).locator(".overview-list > li").first
    label = first.locator(".overview-second-label")
    assert re.fullmatch(r"Also, in ¶\d+:", label.inner_text())
    second = first.locator(".overview-second").inner_text()
    assert second and second != first.locator(".overview-sentence").first.inner_text()
    assert label.locator("a").get_attribute("href").startswith(f"/articles/{TRAM_ID}#p")
