"""The chat page within the server's limits, in a real Chromium against the real service (issue 26, items 7, 9, 12).

What the page sends must be taken: a conversation of long answers, kept across a reload, must not make every
later question a 413 (the body's limit is 64 KiB), nor a long follow-up's "All editorials on this" a 400 (a topic
is at most 1,000 characters). What it shows must fit: a 10,000-character sentence in an overview is folded.
Only the long answers and sentences are canned; the questions that must get through go to the real service.
"""

from __future__ import annotations

import json

from qa_service.config import MAX_QUESTION_CHARS
from qa_service.serving.web.validation import HISTORY_ANSWER_CHARS, MAX_HISTORY_TURNS

from ...fixtures import TRAM_ID
from .fixtures import PHONE, overflowing, screenshot
from .test_chat_page import QUESTION, SEED_ID, SEED_TITLE, ask
from .test_overview_page import TRAM_TITLE

MAX_BODY_BYTES = 64 * 1024
LONG_ANSWER = ("Pompeo warned Seoul 🙂 against speeding ahead. " * 500)[:21_000]  # 21 KB, emoji count 1 here, 2 in JS


def reply(question: str, answer: str, resolved: str | None = None) -> dict:
    """An /api/ask body whose answer is `answer`, in the seed editorial's ¶2."""
    body = {"question": question, "found": True,
            "answer": {"text": answer, "passage": 1, "start": 0, "end": len(answer)},
            "passages": [{"rank": 1, "score": 0.9, "text": answer, "citation": {
                "article_id": SEED_ID, "title": SEED_TITLE, "date": "2018-11-22", "paragraph": 2, "url": None}}],
            "took_ms": 1}
    if resolved:
        body["resolved_question"] = resolved
    return body


def canned(answer: str, resolved: str | None = None):
    """A route handler answering every question with `answer`."""
    def fulfill(route):
        question = json.loads(route.request.post_data)["question"]
        route.fulfill(status=200, content_type="application/json", body=json.dumps(reply(question, answer, resolved)))
    return fulfill


def ask_for_real(page, question: str) -> dict:
    """Ask the real service; the reply must be an answer, not an error. Returns the body the page sent."""
    with page.expect_request("**/api/ask") as sent:
        turn = ask(page, question)
    assert turn.locator(".reply-error").count() == 0, turn.locator(".reply").inner_text()
    turn.locator(".answer-text, .not-found-text").first.wait_for()
    body = sent.value.post_data_buffer
    assert len(body) <= MAX_BODY_BYTES, len(body)
    return json.loads(body)


def test_long_answers_go_back_as_the_server_reads_them_also_after_a_reload(page):
    page.route("**/api/ask", canned(LONG_ANSWER))
    page.goto("/")
    for n in range(4):
        ask(page, f"What did Pompeo warn about, part {n}?")
    page.unroute("**/api/ask")

    sent = ask_for_real(page, QUESTION)
    history = sent["history"]
    assert len(history) == 4 <= MAX_HISTORY_TURNS
    # Each answer cut where the server cuts it: 2,000 characters, counted as Python counts them (code points).
    assert [t["answer"] for t in history] == [LONG_ANSWER[:HISTORY_ANSWER_CHARS]] * 4
    assert {(t["article_id"], t["paragraph"]) for t in history} == {(SEED_ID, 2)}

    page.reload()  # the turns come back from localStorage, whole: the next question still goes through
    page.locator(".turn .reply").first.wait_for()
    sent = ask_for_real(page, "Who did he call to complain?")
    assert len(sent["history"]) == 4


def test_a_conversation_that_would_still_be_too_large_leaves_out_its_oldest_turns(page):
    """Characters JSON escapes six-fold (\\u0007): four turns of them, cut to the server's limits, are 72 KB."""
    bell = "\u0007"
    saved = {"filters": {}, "turns": [
        {"question": f"{n}" + bell * 1100, "filters": {}, "data": reply("q", bell * 2100)} for n in range(4)]}
    page.goto("/")
    page.evaluate("(saved) => localStorage.setItem('qa-chat-v1', JSON.stringify(saved))", saved)
    page.reload()
    page.locator(".turn .reply").first.wait_for()
    sent = ask_for_real(page, QUESTION)
    assert [t["question"][0] for t in sent["history"]] == ["1", "2", "3"]


def test_a_413_says_what_to_do_and_asks_again_in_a_new_chat(page):
    page.problems.allow("413")
    page.route("**/api/ask", lambda route: route.fulfill(status=413, content_type="application/json", body=json.dumps(
        {"error": {"code": "request_entity_too_large", "message": "request body too large"}})))
    page.goto("/")
    turn = ask(page, QUESTION)
    error = turn.locator(".reply-error")
    assert error.locator(".error-text").inner_text() == (
        "This conversation is too long to send; start a New chat to ask this question.")
    page.unroute("**/api/ask")
    with page.expect_request("**/api/ask") as sent:
        error.get_by_role("button", name="Ask in a new chat").click()
    assert json.loads(sent.value.post_data) == {"question": QUESTION, "history": []}
    page.locator(".turn .answer-text").wait_for()
    assert page.locator(".turn").count() == 1 and page.locator(".reply-error").count() == 0


def test_all_editorials_on_a_long_follow_up_asks_for_a_topic_the_server_takes(page):
    question = ("Who did he call to complain about " + "the inter-Korean military agreement and " * 30)[:996] + "?"
    resolved = f"{question} (Pompeo)"
    assert (len(question), len(resolved)) == (997, 1006)
    page.route("**/api/ask", canned("Pompeo telephoned Kang Kyung-wha.", resolved))
    page.goto("/")
    turn = ask(page, question)
    with page.expect_request("**/api/overview") as sent:
        turn.locator(".overview-offer").click()
    topic = json.loads(sent.value.post_data)["topic"]
    assert len(topic) <= MAX_QUESTION_CHARS and resolved.startswith(topic) and not topic.endswith(" ")
    overview = page.locator(".turn").nth(1)
    overview.locator(".reply.overview, .reply-error").first.wait_for()
    assert overview.locator(".reply-error").count() == 0, overview.inner_text()


def test_a_very_long_overview_sentence_is_folded_on_a_phone(new_page):
    page = new_page(viewport=PHONE)
    sentence = ("The tracks must be mended before the timetable is restored, the editorial says " * 130)[:10_008]
    word = "Kessling" * 250  # 2,000 characters without a space
    editorials = [{"article_id": TRAM_ID, "title": TRAM_TITLE, "date": None, "url": None, "score": 1.0,
                   "sentence": {"text": text, "paragraph": 2}, "paragraphs": [2, 5]} for text in (sentence, word)]
    body = {"topic": "the tram", "total": 2, "editorials": editorials, "took_ms": 1, "index_version": "x"}
    page.route("**/api/overview", lambda route: route.fulfill(status=200, content_type="application/json",
                                                              body=json.dumps(body)))
    page.goto("/")
    turn = ask(page, "Editorials on the tram")
    rows = turn.locator(".overview-list > li")
    assert rows.count() == 2
    for n in range(2):
        assert rows.nth(n).bounding_box()["height"] < 400
    assert overflowing(page) == []
    screenshot(page, "overview-long-sentence-phone")

    more = rows.first.locator(".more-button")
    assert more.inner_text() == "Show the whole sentence" and more.get_attribute("aria-expanded") == "false"
    more.click()
    assert more.get_attribute("aria-expanded") == "true" and more.inner_text() == "Show less"
    assert rows.first.bounding_box()["height"] > 2000  # unfolded: all of it
    assert overflowing(page) == []
    more.click()
    assert rows.first.bounding_box()["height"] < 400
