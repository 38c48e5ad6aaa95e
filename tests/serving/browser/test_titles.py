"""Titles and authors that try to break the layout, and the way back to Browse on a phone, in a real Chromium.

A U+202E (right-to-left override) in a title or an author must not reverse the citation or the line after it,
and a 300-character title without a space (the longest the admin API takes) must wrap, not widen the page.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from qa_service.config import Config
from qa_service.index.generation.build import build_index
from qa_service.service import QAService
from qa_service.serving.web import create_app

from .fixtures import DESKTOP, PHONE, LiveServer, screenshot
from .test_chat_page import ask

RLO = "\u202e"
LONG_TITLE = "Lighthouse" + "x" * 290  # 300 characters, no space
ARTICLES = {
    "flour-tax.md": f"""---
title: The bakers{RLO} complain
date: 2020-01-03
author: Ann{RLO} Baker
url: https://example.org/flour
---

The village bakers complain bitterly about the new flour tax. They say bread will cost twice as much.

Ovens were inspected by the council last winter. The inspectors found nothing wrong with the ovens.
""",
    "lighthouse.md": f"""---
title: {LONG_TITLE}
date: 2019-05-05
---

The lighthouse keepers left the island in 1990. The lamp has run by itself ever since.
""",
}


@pytest.fixture(scope="module")
def titles_server(tmp_path_factory, embedder) -> Iterator[str]:
    root = tmp_path_factory.mktemp("titles")
    corpus = root / "corpus"
    corpus.mkdir()
    for name, text in ARTICLES.items():
        (corpus / name).write_text(text, encoding="utf-8")
    build_index(corpus, root / "index", embedder)
    service = QAService(Config(corpus_dir=corpus, index_dir=root / "index"), embedder=embedder)
    with LiveServer(create_app(service.config, service=service)) as server:
        yield server.url


def left_to_right(page, selectors: list[str], within: str) -> bool:
    """Whether the elements `selectors` (each the first match inside the first `within`) are laid out in this order,
    each starting right of where the one before ends."""
    return page.locator(within).first.evaluate(
        """(root, selectors) => {
             const boxes = selectors.map((s) => root.querySelector(s).getBoundingClientRect());
             return boxes.every((box, i) => i === 0 || box.left >= boxes[i - 1].right - 0.5);
           }""", selectors)


def test_a_right_to_left_override_in_a_title_stays_inside_it(new_page, titles_server):
    page = new_page(base_url=titles_server)
    page.goto("/")
    turn = ask(page, "What do the village bakers complain about?")
    cite = ".cite:has(.cite-title:text('bakers'))"
    assert turn.locator(cite).count() >= 1
    assert left_to_right(page, [".cite-title", "time", ".cite-para"], within=f".turn {cite}"), \
        "the citation after the title is reversed"
    screenshot(page, "title-override-chat")

    page.goto("/articles/flour-tax")
    # The author holds the override: the date, the author and then the original's link, in that order.
    assert left_to_right(page, ["time", "bdi", "a"], within=".article .meta")
    assert page.title().startswith("\u2068The bakers")  # the tab's title is isolated too (U+2068 ... U+2069)


@pytest.mark.parametrize(("name", "viewport"), [("phone", PHONE), ("desktop", DESKTOP)])
def test_a_300_character_word_in_a_title_wraps(new_page, titles_server, name, viewport):
    page = new_page(base_url=titles_server, viewport=viewport)
    for path in ("/articles/lighthouse", "/articles"):
        page.goto(path)
        assert page.locator(f"text={LONG_TITLE[:40]}").first.is_visible()
        assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"], path
    page.goto("/")
    turn = ask(page, "When did the lighthouse keepers leave the island?")
    assert turn.locator(".cite-title", has_text=LONG_TITLE[:40]).count() >= 1
    assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
    screenshot(page, f"long-title-chat-{name}")


def test_an_article_page_on_a_phone_leads_to_browse(new_page, titles_server):
    """On a phone the current page's link is hidden to save room; an article page is not Browse itself."""
    page = new_page(base_url=titles_server, viewport=PHONE)
    page.goto("/articles")
    assert not page.locator(".nav a", has_text="Browse").is_visible()  # Browse itself: the brand and Chat remain
    page.goto("/articles/lighthouse")
    browse = page.locator(".nav a", has_text="Browse")
    assert browse.is_visible() and browse.get_attribute("aria-current") == "true"
    browse.click()
    page.wait_for_url("**/articles")
    assert page.locator("h1").inner_text() == "Browse the editorials"
