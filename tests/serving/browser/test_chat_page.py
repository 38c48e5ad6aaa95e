"""The chat page, the article view and the list of articles, in a real Chromium against the real service.

The server is the app of tests/conftest.py (real model, real index over the test corpus of tests/fixtures.py).
Only the error paths replace /api/ask with a canned answer; every other reply comes from the real service.
"""

from __future__ import annotations

import json
import re
from urllib.parse import quote

import pytest

from ...fixtures import ARTICLE_COUNT
from .fixtures import DESKTOP, PHONE, XSS_IMG, XSS_SCRIPT, axe_violations, overflowing, screenshot

SEED_ID = "donga-2018-11-22-us-warning-against-seoul-speeding"
SEED_TITLE = "U.S. warning against Seoul’s speeding in improving inter-Korean relations"
QUESTION = "What did Pompeo warn about?"
FOLLOW_UP = "Who did he call to complain?"
OFF_TOPIC = "How do I bake sourdough bread at home?"


def ask(page, question: str):
    """Type a question, press Enter, wait for its reply; return the new turn's locator."""
    turns = page.locator(".turn")
    before = turns.count()
    page.fill("#question", question)
    page.press("#question", "Enter")
    turn = turns.nth(before)
    turn.locator(".reply").wait_for()
    return turn


def ask_and_capture(page, question: str):
    """Like ask(), also returning the JSON body the page sent to /api/ask."""
    with page.expect_request("**/api/ask") as sent:
        turn = ask(page, question)
    return turn, json.loads(sent.value.post_data)


def in_viewport(locator) -> bool:
    return locator.evaluate(
        "el => { const r = el.getBoundingClientRect();"
        " return r.top >= 0 && r.top < window.innerHeight && r.bottom > 0; }"
    )


def test_answer_cites_the_seed_paragraph_and_opens_it_highlighted(page):
    page.goto("/")
    turn, sent = ask_and_capture(page, QUESTION)
    assert sent == {"question": QUESTION, "history": []}

    answer = turn.locator(".answer-text").inner_text()
    assert "Pompeo" in answer
    # The answer sentence is highlighted inside its passage ("in context"), cited with title, date and ¶.
    context = turn.locator(".context")
    assert context.locator("mark").inner_text() == answer
    assert answer in context.locator(".quote").inner_text()
    cite = context.locator(".cite")
    assert SEED_TITLE in cite.inner_text()
    assert cite.locator("time").get_attribute("datetime") == "2018-11-22"
    assert cite.locator("time").inner_text() == "22 November 2018"
    paragraph = int(re.search(r"¶(\d+)", cite.inner_text()).group(1))

    # Every passage is listed, numbered [1] [2] ..., each with title, date, ¶ and a discreet score.
    items = turn.locator(".passages > li")
    assert items.count() == 5
    for n in range(items.count()):
        head = items.nth(n).locator(".passage-head").inner_text()
        assert head.startswith(f"[{n + 1}] ")
        assert re.search(r"¶\d+", head) and re.search(r"score \d\.\d{3}", head)
    assert turn.locator(".passage.weak").count() == 0
    assert items.first.locator(".cite time").get_attribute("datetime") == "2018-11-22"

    # Announced to screen readers, and the box is ready for the next question.
    page.wait_for_function("document.getElementById('announcer').textContent.startsWith('Answer: ')")
    assert page.locator("#announcer").inner_text() == f"Answer: {answer}"
    assert page.evaluate("document.activeElement.id") == "question"
    screenshot(page, "desktop-answer")

    # The citation is a real link to the article view, with the cited paragraph highlighted and in view.
    link = context.locator(".cite-link")
    assert link.get_attribute("href") == f"/articles/{SEED_ID}#p{paragraph}"
    link.click()
    page.wait_for_url(f"**/articles/{SEED_ID}#p{paragraph}")
    cited = page.locator(f"#p{paragraph}")
    cited.wait_for()
    assert page.locator(".paragraph.cited").count() == 1
    assert "cited" in cited.get_attribute("class")
    assert in_viewport(cited)
    assert answer in cited.inner_text()
    backgrounds = page.eval_on_selector_all(".paragraph", "ps => ps.map(p => getComputedStyle(p).backgroundColor)")
    assert backgrounds[paragraph - 1] != backgrounds[paragraph % len(backgrounds)]  # only the cited one is tinted
    assert page.locator("h1").inner_text() == SEED_TITLE
    screenshot(page, "desktop-article")

    # The same URL reloaded (or shared) highlights and scrolls again; a far paragraph is scrolled to.
    page.set_viewport_size(PHONE)
    page.goto(f"/articles/{SEED_ID}#p5")
    last = page.locator("#p5")
    assert "cited" in last.get_attribute("class")
    assert page.evaluate("window.scrollY") > 0
    assert in_viewport(last)


def test_follow_up_sends_history_and_the_conversation_survives_a_reload(page):
    page.goto("/")
    first = ask(page, QUESTION)
    first_answer = first.locator(".answer-text").inner_text()

    second, sent = ask_and_capture(page, FOLLOW_UP)
    # Each earlier turn goes back with the article and paragraph of the answer shown for it.
    first_source = first.locator(".context .cite-title")
    assert sent["history"] == [{"question": QUESTION, "answer": first_answer, "article_id": SEED_ID,
                                "paragraph": sent["history"][0]["paragraph"]}]
    assert f"¶{sent['history'][0]['paragraph']}" in first.locator(".context").inner_text()
    assert first_source.inner_text() == SEED_TITLE
    # The real service reads "he" through the history: the answer is about Pompeo's phone call.
    assert "Kang Kyung-wha" in second.locator(".answer-text").inner_text()
    # The page says how the follow-up was read; a question that stands alone shows no such line.
    assert second.locator(".searched-as-text").inner_text() == f"{FOLLOW_UP} (Pompeo)"
    assert second.locator(".reading-pronoun").inner_text().strip() == "Reading “he” as Pompeo."
    assert second.locator(".searched-in-title").inner_text() == SEED_TITLE
    assert first.locator(".searched-as").count() == 0

    page.reload()
    turns = page.locator(".turn")
    turns.nth(1).locator(".reply").wait_for()
    assert turns.count() == 2
    assert turns.nth(0).locator(".bubble-user").inner_text() == QUESTION
    assert turns.nth(0).locator(".answer-text").inner_text() == first_answer
    assert turns.nth(1).locator(".bubble-user").inner_text() == FOLLOW_UP
    assert turns.nth(1).locator(".searched-as-text").inner_text() == f"{FOLLOW_UP} (Pompeo)"
    assert page.locator("#empty-state").is_hidden()

    # After the reload, the next question still carries the last turns (at most 4).
    for extra in ("Who is Kang Kyung-wha?", "What is the working group?", "What did Seoul say?"):
        ask(page, extra)
    _, sent = ask_and_capture(page, "What about the railway project?")
    assert [t["question"] for t in sent["history"]] == [
        FOLLOW_UP, "Who is Kang Kyung-wha?", "What is the working group?", "What did Seoul say?"]


def test_a_three_turn_conversation_says_how_each_follow_up_was_read(page):
    page.goto("/")
    ask(page, "Who speaks for the Kessling tram drivers?")
    second = ask(page, "What did she say about the curves?")
    third, sent = ask_and_capture(page, "How many complaints did her members log?")
    assert [t.get("article_id") for t in sent["history"]] == ["kessling-tram-derailment"] * 2
    assert second.locator(".reading-pronoun").inner_text().strip() == "Reading “she” as Lena Okafor."
    assert third.locator(".reading-pronoun").inner_text().strip() == "Reading “her” as Lena Okafor."
    assert "63 complaints" in third.locator(".answer-text").inner_text()
    assert third.locator(".searched-in-title").inner_text().startswith("After the Kessling derailment")


def test_a_follow_up_that_editorial_does_not_answer_is_declined_as_such(new_page, declining_server):
    page = new_page(base_url=declining_server)
    page.goto("/")
    ask(page, "Where did the Kessling tram derailment happen?")
    declined = ask(page, "Which airline did he fly?")
    assert declined.locator(".not-found-text").inner_text() == "I couldn't find this in that editorial."


def test_an_unsure_answer_shows_the_next_best_sentences_of_its_editorial(new_page, unsure_server):
    """Issue 27, 5: a three-turn conversation whose follow-ups offer "Also in this editorial:" with ¶ links."""
    page = new_page(base_url=unsure_server)
    page.goto("/")
    first = ask(page, "Who speaks for the Kessling tram drivers?")
    assert first.locator(".also").count() == 0, "the first question of a conversation searches every editorial"
    ask(page, "What did she say about the curves?")
    third = ask(page, "How many complaints did her members log?")
    also = third.locator(".also")
    assert also.locator(".also-title").inner_text() == "Also in this editorial:"
    items = also.locator(".also-item")
    assert items.count() == 2
    answer = third.locator(".answer-text").inner_text()
    for i in range(2):
        text = items.nth(i).locator(".also-text").inner_text()
        assert text and text != answer
        href = items.nth(i).locator(".also-link").get_attribute("href")
        assert href.startswith("/articles/kessling-tram-derailment#p")
    serious = [v for v in axe_violations(page) if v["impact"] in ("serious", "critical")]
    assert not serious, serious
    items.nth(0).locator(".also-link").click()
    page.wait_for_url("**/articles/kessling-tram-derailment#p*")


def test_new_chat_clears_the_conversation(page):
    page.goto("/")
    ask(page, QUESTION)
    page.click("#new-chat")
    assert page.locator(".turn").count() == 0
    assert page.locator("#empty-state").is_visible()
    assert page.evaluate("document.activeElement.id") == "question"
    page.reload()
    page.locator("#empty-state").wait_for()
    assert page.locator(".turn").count() == 0
    _, sent = ask_and_capture(page, FOLLOW_UP)
    assert sent["history"] == []


def test_a_shared_link_asks_its_question_on_load(new_page):
    page = new_page()
    page.goto("/")
    turn = ask(page, QUESTION)
    href = turn.locator(".share-link").get_attribute("href")
    assert href == "/?q=What+did+Pompeo+warn+about%3F"

    reader = new_page()  # someone else, with an empty browser, opens the link
    with reader.expect_request("**/api/ask") as sent:
        reader.goto(href)
    assert json.loads(sent.value.post_data) == {"question": QUESTION, "history": []}
    reader.locator(".turn .answer-text").wait_for()
    assert reader.locator(".turn .bubble-user").inner_text() == QUESTION
    assert SEED_TITLE in reader.locator(".turn .context .cite").inner_text()
    # The address is cleaned, so a reload shows the conversation instead of asking again.
    assert reader.url.endswith("/") and "?q=" not in reader.url
    reader.reload()
    reader.locator(".turn .answer-text").wait_for()
    assert reader.locator(".turn").count() == 1

    # A link with a date range carries it along.
    with reader.expect_request("**/api/ask") as sent:
        reader.goto(f"/?q={quote(QUESTION)}&from=2018-11-01&to=2018-11-30")
    body = json.loads(sent.value.post_data)
    assert (body["date_from"], body["date_to"], body["history"]) == ("2018-11-01", "2018-11-30", [])


def test_off_topic_question_is_answered_not_found_with_weak_matches(page):
    page.goto("/")
    turn = ask(page, OFF_TOPIC)
    reply = turn.locator(".reply")
    assert reply.locator(".not-found-text").inner_text() == "I couldn't find this in the editorials."
    assert turn.locator(".answer-text").count() == 0 and turn.locator("mark").count() == 0
    items = turn.locator(".passages > li")
    assert items.count() > 0
    assert turn.locator(".passage.weak").count() == items.count()
    assert turn.locator(".passage .badge").all_inner_texts() == ["WEAK MATCH"] * items.count()
    page.wait_for_function("document.getElementById('announcer').textContent.startsWith(\"I couldn't find\")")
    screenshot(page, "desktop-not-found")


def test_server_error_shows_a_message_and_retry_works(page):
    failures = {"left": 1}

    def fail_once(route):
        if failures["left"]:
            failures["left"] -= 1
            route.fulfill(status=500, content_type="application/json",
                          body=json.dumps({"error": {"code": "internal_error", "message": "internal error"}}))
        else:
            route.continue_()

    page.problems.allow("500")
    page.route("**/api/ask", fail_once)
    page.goto("/")
    page.fill("#question", QUESTION)
    page.press("#question", "Enter")
    error = page.locator(".reply-error")
    error.wait_for()
    assert "error (500): internal error" in error.inner_text()
    assert page.locator("#send").is_enabled()
    assert page.evaluate("document.activeElement.id") == "question"
    screenshot(page, "desktop-error")
    with page.expect_request("**/api/ask") as sent:
        error.get_by_role("button", name="Retry").click()
    assert json.loads(sent.value.post_data)["question"] == QUESTION
    page.locator(".turn .answer-text").wait_for()
    assert page.locator(".reply-error").count() == 0
    assert page.locator(".turn").count() == 1


def test_slow_request_times_out_with_a_message_and_retry(new_page):
    page = new_page()
    page.clock.install()
    held = []
    page.route("**/api/ask", lambda route: held.append(route))  # never answered
    page.goto("/")
    page.fill("#question", QUESTION)
    page.press("#question", "Enter")
    page.wait_for_function("document.getElementById('send').disabled")
    page.clock.run_for(16_000)
    error = page.locator(".reply-error")
    error.wait_for()
    assert "took too long" in error.inner_text()
    page.unroute("**/api/ask")
    error.get_by_role("button", name="Retry").click()
    page.locator(".turn .answer-text").wait_for()


def test_keyboard_shift_enter_and_busy_state(page):
    held = []
    page.route("**/api/ask", lambda route: held.append(route))
    page.goto("/")
    box = page.locator("#question")
    box.click()
    page.keyboard.type("What did Pompeo")
    page.keyboard.press("Shift+Enter")
    page.keyboard.type("warn about?")
    assert box.input_value() == "What did Pompeo\nwarn about?"
    assert page.locator(".turn").count() == 0

    page.keyboard.press("Enter")
    page.wait_for_function("document.getElementById('send').disabled")
    assert page.locator("#ask-form").get_attribute("aria-busy") == "true"
    assert page.locator(".turn .bubble-user").inner_text() == "What did Pompeo\nwarn about?"
    # While busy, neither Enter nor the button sends a second question.
    page.keyboard.type("A second question")
    page.keyboard.press("Enter")
    page.locator("#send").dispatch_event("click")
    page.wait_for_timeout(200)
    assert len(held) == 1 and page.locator(".turn").count() == 1
    assert box.input_value() == "A second question"

    held[0].continue_()
    page.locator(".turn .answer-text").wait_for()
    assert page.locator("#send").is_enabled()
    assert page.evaluate("document.activeElement.id") == "question"


def test_suggestions_come_from_the_indexed_titles(page):
    page.goto("/")
    buttons = page.locator("#suggestion-list button")
    buttons.first.wait_for()
    titles = {a["title"] for a in page.request.get("/api/articles").json()["articles"]}
    offered = buttons.all_inner_texts()
    assert 1 <= len(offered) <= 4 and len(set(offered)) == len(offered)
    for text in offered:
        match = re.fullmatch(r"What is “(.+)” about\?", text)
        assert match and match.group(1) in titles
    # each title isolated from the words around it (a right-to-left title must not reorder them)
    assert buttons.first.locator("bdi").inner_text() in titles
    screenshot(page, "desktop-empty")
    first = offered[0]
    buttons.first.click()
    page.locator(".turn .reply").wait_for()
    assert page.locator(".turn .bubble-user").inner_text() == first
    assert page.locator("#empty-state").is_hidden()


def test_date_range_is_sent_and_filters(page):
    page.goto("/")
    page.locator("#filters summary").click()
    page.fill("#date-from", "2019-01-01")
    turn, sent = ask_and_capture(page, QUESTION)
    assert sent["date_from"] == "2019-01-01" and "date_to" not in sent
    assert turn.locator(".range").inner_text() == "Dates: from 1 January 2019"
    # Nothing indexed is dated after 2018 (and undated editorials drop out): not found, no passages.
    assert turn.locator(".not-found-text").is_visible()
    assert turn.locator(".passages > li").count() == 0

    page.fill("#date-from", "2018-11-01")
    page.fill("#date-to", "2018-11-30")
    assert page.locator("#filters-summary").inner_text() == "1 November 2018 – 30 November 2018"
    turn, sent = ask_and_capture(page, QUESTION)
    assert (sent["date_from"], sent["date_to"]) == ("2018-11-01", "2018-11-30")
    dates = turn.locator(".passages .cite time").evaluate_all("ts => ts.map(t => t.dateTime)")
    assert dates and set(dates) == {"2018-11-22"}

    page.click("#clear-dates")
    _, sent = ask_and_capture(page, QUESTION)
    assert "date_from" not in sent and "date_to" not in sent


def test_browse_lists_the_articles_and_opens_them(page):
    page.goto("/")
    page.get_by_role("link", name="Browse").click()
    page.wait_for_url("**/articles")
    items = page.locator(".article-list li")
    listed = page.request.get("/api/articles").json()["articles"]
    assert items.count() == len(listed) == ARTICLE_COUNT
    seed = items.filter(has_text=SEED_TITLE)
    assert seed.locator("time").get_attribute("datetime") == "2018-11-22"
    assert "22 November 2018" in seed.inner_text()
    assert items.first.locator(".article-link").inner_text() == SEED_TITLE  # newest first; undated after
    screenshot(page, "desktop-browse")
    seed.locator("a").click()
    page.wait_for_url(f"**/articles/{SEED_ID}")
    assert page.locator("h1").inner_text() == SEED_TITLE
    assert page.locator(".paragraph").count() == 5
    assert page.locator(".paragraph.cited").count() == 0

    page.problems.allow("404")
    response = page.goto("/articles/no-such-article")
    assert response.status == 404
    assert page.locator("h1").inner_text() == "No such article"


def test_markup_in_articles_stays_inert_text(new_page, xss_server):
    page = new_page(base_url=xss_server)
    page.goto("/")
    turn = ask(page, "What do the village bakers complain about?")
    conversation = page.locator("#conversation")
    text = conversation.inner_text()
    assert XSS_SCRIPT in text and XSS_IMG in text
    assert conversation.locator("script, img").count() == 0
    assert turn.locator(".answer-text").count() == 1  # a real answer was rendered, markup and all
    page.reload()  # the conversation restored from localStorage is inert too
    page.locator(".turn .reply").wait_for()
    assert conversation.locator("script, img").count() == 0
    assert page.evaluate("typeof window.__xss") == "undefined"

    page.goto("/articles/flour-tax#p1")
    assert XSS_SCRIPT in page.locator("#p1").inner_text()
    assert XSS_IMG in page.locator("#p2").inner_text()
    assert XSS_IMG in page.locator("h1").inner_text()
    assert page.locator("main script, main img").count() == 0
    assert page.locator("a[href^='javascript']").count() == 0  # the javascript: "original" link is dropped
    page.goto("/articles")
    assert XSS_IMG in page.locator(".article-list").inner_text()
    assert page.evaluate("typeof window.__xss") == "undefined"


def test_answer_offsets_count_code_points_like_python(page):
    """The service's start/end are Python (code point) offsets; an emoji before them must not shift the mark."""
    text = "Intro 🙂🙂 then. The answer sentence is here. After."
    start = text.index("The answer")  # a Python index: each emoji counts 1 here, 2 in UTF-16
    end = start + len("The answer sentence is here.")
    body = {
        "question": "q", "found": True,
        "answer": {"text": text[start:end], "passage": 1, "start": start, "end": end},
        "passages": [{"rank": 1, "score": 0.5, "text": text, "citation": {
            "article_id": "x", "title": "T", "date": None, "paragraph": 1, "url": None}}],
        "took_ms": 1,
    }
    page.route("**/api/ask", lambda route: route.fulfill(status=200, content_type="application/json",
                                                         body=json.dumps(body)))
    page.goto("/")
    turn = ask(page, "q")
    assert turn.locator(".context mark").inner_text() == "The answer sentence is here."
    assert "undated" in turn.locator(".context .cite").inner_text()


CONTRAST = """
() => {
  const lum = (rgb) => {
    const [r, g, b] = rgb.map(v => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const parse = (c) => c.match(/[\\d.]+/g).map(Number);
  const background = (el) => {
    for (let e = el; e; e = e.parentElement) {
      const c = parse(getComputedStyle(e).backgroundColor);
      if (c.length < 4 || c[3] > 0.5) return c.slice(0, 3);
    }
    return parse(getComputedStyle(document.body).backgroundColor).slice(0, 3);
  };
  const out = [];
  const selectors = [".answer-text", ".reply-label", ".quote", "mark", ".cite-link", ".cite-meta", ".score", ".badge",
                     ".hint", ".share-link", ".bubble-user", ".sources-title", "#send", ".nav a", ".composer-hint",
                     "#filters summary", ".weak .badge", ".weak .quote", ".more-button"];
  for (const sel of selectors) {
    for (const el of document.querySelectorAll(sel)) {
      if (!el.getClientRects().length) continue;
      const style = getComputedStyle(el);
      const fg = lum(parse(style.color)), bg = lum(background(el));
      const ratio = (Math.max(fg, bg) + 0.05) / (Math.min(fg, bg) + 0.05);
      out.push([sel, Math.round(ratio * 100) / 100]);
      break;
    }
  }
  return out;
}
"""


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_layout_contrast_and_labels_on_phone_and_desktop(new_page, scheme):
    for name, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        page = new_page(viewport=viewport, color_scheme=scheme)
        page.goto("/")
        page.locator("#suggestion-list button").first.wait_for()
        screenshot(page, f"{name}-{scheme}-empty")
        ask(page, QUESTION)
        ask(page, OFF_TOPIC)
        page.locator(".turn").first.scroll_into_view_if_needed()
        page.evaluate("window.scrollTo(0, 0)")
        screenshot(page, f"{name}-{scheme}-answer")
        page.locator(".turn").nth(1).evaluate("t => t.scrollIntoView()")
        screenshot(page, f"{name}-{scheme}-not-found")

        # Nothing sticks out sideways: no horizontal scrolling, even at 360 px.
        overflow = overflowing(page)
        assert overflow == [], overflow
        assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]

        # Text is readable against its background (WCAG AA, 4.5:1), in both themes.
        ratios = page.evaluate(CONTRAST)
        assert len(ratios) >= 17, ratios
        assert all(r >= 4.5 for _, r in ratios), ratios

        # Every control has an accessible name; keyboard focus is visible.
        unnamed = page.evaluate(
            "[...document.querySelectorAll('button, input, textarea, a[href]')].filter(e => e.getClientRects().length"
            " && !(e.labels && e.labels.length) && !e.getAttribute('aria-label') && !e.textContent.trim())"
            ".map(e => e.outerHTML)")
        assert unnamed == []
        page.locator("#question").focus()
        page.keyboard.press("Shift+Tab")
        page.keyboard.press("Tab")
        assert page.evaluate("getComputedStyle(document.activeElement).outlineStyle") != "none"

        page.goto(f"/articles/{SEED_ID}#p2")
        screenshot(page, f"{name}-{scheme}-article")
        assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
        page.goto("/articles")
        screenshot(page, f"{name}-{scheme}-browse")
        assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
