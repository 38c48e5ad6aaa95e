"""Browse in a real Chromium at phone and desktop widths: filter box, paging, order; nothing wider than the screen."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from qa_service.config import Config
from qa_service.index.generation.build import build_index
from qa_service.service import QAService
from qa_service.serving.web import create_app
from qa_service.serving.web.pages import PAGE_SIZE

from ...fakes import HashingEmbedder
from .fixtures import DESKTOP, PHONE, LiveServer, screenshot

ARCHIVE = 70  # more than two pages


@pytest.fixture(scope="module")
def archive_server(tmp_path_factory) -> Iterator[str]:
    """An archive the size that made Browse unusable on a phone: dated and undated articles, quoted titles."""
    root = tmp_path_factory.mktemp("archive")
    corpus = root / "corpus"
    corpus.mkdir()
    for n in range(ARCHIVE):
        dated = n % 7 != 0
        date_line = f"Date: {2000 + n // 12}-{1 + n % 12:02d}-15\n" if dated else ""
        title = f"“Harbour” report {n:02d}" if n % 5 == 0 else f"Harbour report {n:02d}"
        (corpus / f"report-{n:02d}.txt").write_text(f"{title}\n{date_line}\nThe harbour on day {n}.\n")
    build_index(corpus, root / "index", HashingEmbedder())
    config = Config(corpus_dir=corpus, index_dir=root / "index")
    with LiveServer(create_app(config, service=QAService(config, embedder=HashingEmbedder()))) as server:
        yield server.url


def listed(page) -> list[str]:
    return page.locator(".article-list .article-link").all_inner_texts()


@pytest.mark.parametrize("name, viewport", [("phone", PHONE), ("desktop", DESKTOP)])
def test_browse_filters_and_pages_a_large_archive(new_page, archive_server, name, viewport):
    page = new_page(base_url=archive_server, viewport=viewport)
    page.goto("/articles")
    assert len(listed(page)) == PAGE_SIZE
    assert page.locator(".pager-status").inner_text() == "Page 1 of 3"
    dates = page.locator(".article-list time").evaluate_all("ts => ts.map(t => t.dateTime)")
    assert dates == sorted(dates, reverse=True)  # newest first
    assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
    screenshot(page, f"{name}-browse-archive")

    page.get_by_role("link", name="Older →").click()
    page.wait_for_url("**/articles?page=2")
    page.get_by_role("link", name="Older →").click()
    page.wait_for_url("**/articles?page=3")
    last = listed(page)
    assert page.locator(".pager-status").inner_text() == "Page 3 of 3"
    undated = [t for t in last if t in {f"Harbour report {n:02d}" for n in range(0, ARCHIVE, 7)}
               or t in {f"“Harbour” report {n:02d}" for n in range(0, ARCHIVE, 7)}]
    assert undated == last[-len(undated):] and len(undated) == len(range(0, ARCHIVE, 7))  # undated at the end
    assert undated == sorted(undated, key=lambda t: t.replace("“", "").replace("”", ""))  # quotes ignored

    # The filter box: title words and a date, kept in the address (a link to a filtered list can be shared).
    box = page.get_by_role("searchbox", name="Filter by title or date")
    box.fill("report 12")
    box.press("Enter")
    page.wait_for_url("**/articles?q=report+12*")
    assert listed(page) == ["Harbour report 12"] and page.locator(".pager").count() == 0
    assert "of 70 editorials" in page.locator("#browse-summary").inner_text()
    page.locator("input[name=q]").fill("2003")
    page.locator("input[name=from]").fill("2003-06-01")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url("**from=2003-06-01*")
    assert page.locator(".article-list time").evaluate_all("ts => ts.map(t => t.dateTime)") == [
        f"2003-{m:02d}-15" for m in range(12, 5, -1) if (36 + m - 1) % 7 != 0]
    assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
    screenshot(page, f"{name}-browse-filtered")
    page.get_by_role("link", name="Show all").click()
    page.wait_for_url("**/articles")
    assert len(listed(page)) == PAGE_SIZE
