"""The Browse page: order (dated newest first, then undated by title ignoring punctuation), filter, paging."""

from __future__ import annotations

import re

import pytest

from qa_service.config import Config
from qa_service.index.generation.build import build_index
from qa_service.service import QAService
from qa_service.serving.web import create_app
from qa_service.serving.web.pages import PAGE_SIZE, browse_order

from ..fakes import HashingEmbedder

ARTICLES = [  # (file name, title, date or None)
    ("quoted.txt", "“Zebra crossings” save lives", None),
    ("apples.txt", "Apples and oranges", None),
    ("bracket.txt", "[Editorial] Bridges of the city", None),
    ("korea-2018.txt", "Korea talks resume", "2018-11-22"),
    ("korea-2019.txt", "Korea talks stall", "2019-02-28"),
    ("budget.txt", "'Budget' day", "2019-02-28"),
    ("old.txt", "An old editorial", "2001-05-01"),
    ("libraries.txt", "Keep the libraries open at night", "2012-06-01"),
]
ROUTINE = 2 * PAGE_SIZE  # enough dated articles for three pages


@pytest.fixture(scope="module")
def browse(tmp_path_factory):
    root = tmp_path_factory.mktemp("browse")
    corpus = root / "corpus"
    corpus.mkdir()
    for name, title, day in ARTICLES:
        date_line = f"Date: {day}\n" if day else ""
        (corpus / name).write_text(f"{title}\n{date_line}\nA paragraph about {title.lower()}.\n")
    for n in range(ROUTINE):
        (corpus / f"routine-{n:03d}.txt").write_text(
            f"Routine note {n:03d}\nDate: 2010-01-{1 + n % 28:02d}\n\nNothing much happened on day {n}.\n")
    build_index(corpus, root / "index", HashingEmbedder())
    config = Config(corpus_dir=corpus, index_dir=root / "index")
    service = QAService(config, embedder=HashingEmbedder())
    return create_app(config, service=service).test_client(), service


def titles(html: str) -> list[str]:
    return re.findall(r'class="article-link" href="[^"]+"><bdi>([^<]+)</bdi></a>', html.replace("&#39;", "'"))


def test_order_is_dated_newest_first_then_undated_by_title_ignoring_punctuation(browse):
    _, service = browse
    ordered = [a.title for a in browse_order(service.snapshot().articles.values())]
    assert ordered[:3] == ["'Budget' day", "Korea talks stall", "Korea talks resume"]
    assert ordered[-4:] == ["An old editorial", "Apples and oranges", "[Editorial] Bridges of the city",
                            "“Zebra crossings” save lives"]
    dated = ordered[:-3]
    assert all(t.startswith(("'Budget'", "Korea", "An old", "Routine", "Keep")) for t in dated)


def test_pages_of_the_list_cover_every_article_once(browse):
    client, service = browse
    total = len(service.snapshot().articles)
    seen, page = [], 1
    while True:
        response = client.get(f"/articles?page={page}")
        assert response.status_code == 200
        html = response.get_data(as_text=True)
        seen += titles(html)
        assert f"Page {page} of 3" in html
        if 'rel="next"' not in html:
            break
        page += 1
    assert page == 3 and len(seen) == len(set(seen)) == total
    assert seen == [a.title for a in browse_order(service.snapshot().articles.values())]
    first = client.get("/articles").get_data(as_text=True)
    assert len(titles(first)) == PAGE_SIZE and 'rel="prev"' not in first
    assert f"{total} editorials in the collection" in first
    # Past the end or not a number: the nearest page, never an error.
    assert titles(client.get("/articles?page=99").get_data(as_text=True)) == seen[2 * PAGE_SIZE:]
    assert titles(client.get("/articles?page=x").get_data(as_text=True)) == seen[:PAGE_SIZE]


@pytest.mark.parametrize(("page", "shown"), [
    ("%C2%B2", 1), ("1%E2%81%B0", 1), ("%D9%A2", 1),  # "²", "1⁰", an Arabic-Indic 2: digits to str.isdigit
    ("9" * 5000, 3), ("0", 1), ("-2", 1), ("", 1)])
def test_a_page_number_that_is_not_a_plain_number_is_never_an_error(browse, page, shown):
    response = browse[0].get(f"/articles?page={page}")
    assert response.status_code == 200 and f"Page {shown} of 3" in response.get_data(as_text=True)


@pytest.mark.parametrize("query, expected", [
    ("korea", ["Korea talks stall", "Korea talks resume"]),
    ("KOREA stall", ["Korea talks stall"]),
    ("zebra crossings", ["“Zebra crossings” save lives"]),
    ("budget", ["'Budget' day"]),
    ("2019-02", ["'Budget' day", "Korea talks stall"]),
    ("november 2018", ["Korea talks resume"]),
    ("undated apples", ["Apples and oranges"]),
    ("no such words", []),
    # other forms of a title's words, stemmed as the search stems them; a word's start still counts
    ("library", ["Keep the libraries open at night"]),
    ("keeping libraries open", ["Keep the libraries open at night"]),
    ("librar nights", ["Keep the libraries open at night"]),
    ("the library", ["Keep the libraries open at night"]),
    ("librarian", []),
    ("talking", ["Korea talks stall", "Korea talks resume"]),
])
def test_the_filter_matches_title_and_date_words(browse, query, expected):
    client, _ = browse
    html = client.get("/articles", query_string={"q": query}).get_data(as_text=True)
    assert titles(html) == expected
    assert f"{len(expected)} of " in html
    assert ("No editorial matches this filter." in html) is (not expected)


def test_a_date_range_keeps_the_filter_through_the_pages(browse):
    client, _ = browse
    html = client.get("/articles", query_string={"from": "2010-01-01", "to": "2010-12-31"}).get_data(as_text=True)
    assert f"{ROUTINE} of " in html and all(t.startswith("Routine") for t in titles(html))
    assert 'href="/articles?from=2010-01-01&amp;to=2010-12-31&amp;page=2"' in html
    assert 'value="2010-01-01"' in html  # the form shows the filter in use
    second = client.get("/articles?from=2010-01-01&to=2010-12-31&page=2").get_data(as_text=True)
    assert all(t.startswith("Routine") for t in titles(second)) and "Page 2 of 2" in second
    bad = client.get("/articles?from=2019-02-30")
    assert bad.status_code == 400 and "is not a date" in bad.get_data(as_text=True)
