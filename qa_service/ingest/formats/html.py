"""Saved web pages (.html/.htm): the article among a newspaper site's navigation, share buttons and footers.

trafilatura tells the article from what surrounds it on any site (menus, share buttons, related links,
comments, footers) and reads the metadata from the page's meta tags and JSON-LD. A page with no article
on it (a section front, a page of navigation and footer only) is refused with the reason, never indexed
as an article made of its menu: trafilatura's fallback extractors return whatever text a page has, so
what they find must also pass trafilatura's own measures of an article (below, `_no_article`).
"""

from __future__ import annotations

import re

from .common import CorpusError, clean, parse_iso_date
from .donga import POSTED_ANYWHERE, parse_posted

WORD = re.compile(r"\w+")


def parse_html(text: str) -> dict:
    """The article of a saved web page: main text (one paragraph per block), title, date, url, author."""
    import trafilatura
    from lxml import html as lxml_html

    # Dates only from where a page states them (meta tags, JSON-LD, <time>, the URL, a 'Posted' line):
    # trafilatura's extensive search would guess one from any year in the text (2019 -> 2019-01-01).
    document = trafilatura.bare_extraction(text, with_metadata=True, include_comments=False, include_tables=False,
                                           favor_precision=True,
                                           date_extraction_params={"extensive_search": False, "original_date": True})
    if document is None or not (document.text or "").strip():
        raise CorpusError("no article text found in the HTML page")
    paragraphs = [p for p in (clean(line) for line in document.text.split("\n")) if p]
    try:
        tree = lxml_html.fromstring(text)
    except (ValueError, lxml_html.etree.ParserError):
        tree = None
    reason = _no_article(paragraphs, document, tree)
    if reason:
        raise CorpusError(f"no article text in the HTML page: {reason}")
    canonical, posted = _page_facts(tree)
    url = canonical or document.url
    return {
        "title": clean(document.title or ""),
        "date": parse_iso_date(document.date or "") or posted,
        "url": url if url and url.lower().startswith(("http://", "https://")) else None,
        "author": clean(document.author or "") or None,
        "paragraphs": paragraphs,
    }


def _no_article(paragraphs: list[str], document, tree) -> str | None:
    """Why the text trafilatura found is not an article (None when it is one).

    Two of trafilatura's own measures: a page's text made only of its links' words (and its title's) is
    navigation or a list of headlines, as trafilatura's main extractor judges link-dense blocks; and a page
    that does not declare itself an article (og:type) must hold at least trafilatura's MIN_EXTRACTED_SIZE
    characters of text, its measure of an acceptable extraction.
    """
    from trafilatura.settings import DEFAULT_CONFIG

    if tree is not None:
        linked = {w.lower() for text in [*tree.xpath("//a//text()"), document.title or ""] for w in WORD.findall(text)}
        if all({w.lower() for w in WORD.findall(p)} <= linked for p in paragraphs):
            return "its text is only the words of its links and title (navigation, or a section's list of articles)"
    size = sum(len(p) for p in paragraphs)
    least = DEFAULT_CONFIG.getint("DEFAULT", "MIN_EXTRACTED_SIZE")
    if size < least and (document.pagetype or "").lower() != "article":
        return f"{size} characters of text, fewer than the {least} of a page's article, and no og:type article"
    return None


def _page_facts(tree) -> tuple[str | None, str | None]:
    """(canonical url, date of a 'Posted …' line) of a page, where it has them.

    The canonical <link> is the address without tracking parameters (og:url often has them); the
    'Posted March. 04, 2019 07:31' line is how the seed's site dates its pages, with no date meta tag.
    """
    if tree is None:
        return None, None
    url = next((href.strip() for href in
                tree.xpath('//link[contains(concat(" ", normalize-space(@rel), " "), " canonical ")]/@href')
                if href.strip().lower().startswith(("http://", "https://"))), None)
    for script in tree.xpath("//script|//style"):
        script.drop_tree()
    posted = POSTED_ANYWHERE.search(clean(tree.text_content()))
    return url, parse_posted(posted.group(0)) if posted else None
