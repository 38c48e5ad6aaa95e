"""HTML pages: the chat (`/`), the list of articles (`/articles`) and the article view (`/articles/<id>#p<N>`).

Pages are rendered with Jinja's autoescaping; the only scripts are static files (the CSP allows no inline code).
"""

from __future__ import annotations

import re
from datetime import date
from functools import lru_cache
from typing import Any

from flask import Blueprint, current_app, render_template, request, url_for

from ...config import MAX_ARTICLE_ID_CHARS
from ...index.generation.read import IndexUnavailable
from ...ingest.formats.common import parse_iso_date
from ...text import tokenize
from .context import current_config, current_service
from .validation import HISTORY_ANSWER_CHARS, HISTORY_QUESTION_CHARS, MAX_HISTORY_TURNS

pages = Blueprint("pages", __name__, template_folder="templates", static_folder="static",
                  static_url_path="/static")

PAGE_SIZE = 30  # a phone screen shows ~8: thirty is a few flicks, and the page stays light
PUNCTUATION = re.compile(r"[^\w\s]+")
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December")


@pages.app_template_filter("long_date")
def long_date(value: str | None) -> str:
    """'2018-11-22' -> '22 November 2018' (the same wording as the chat page); '' when undated or unreadable."""
    if not value:
        return ""
    try:
        day = date.fromisoformat(value[:10])
    except ValueError:
        return ""
    return f"{day.day} {MONTHS[day.month - 1]} {day.year}"


@pages.app_template_filter("web_url")
def web_url(value: str | None) -> str | None:
    """An article's original URL if it is a plain http(s) link; anything else (javascript:, data:) is dropped."""
    if value and value.strip().lower().startswith(("http://", "https://")):
        return value.strip()
    return None


@pages.errorhandler(IndexUnavailable)
def index_unavailable(exc: IndexUnavailable):
    # A reader gets a page, not the JSON error the API gives; the detail stays in the server log.
    current_app.logger.warning("page without an index: %s", exc)
    return render_template("message.html", title="The editorials are not available right now",
                           message="The index is being built or could not be read. Please try again in a minute."), 503


@pages.get("/")
def chat():
    """The chat page, told the limits of what it sends: a body over max_body_bytes is refused (413), and of each
    history turn the server reads only the last MAX_HISTORY_TURNS and so many characters of each field."""
    config = current_config()
    limits = {"max-body-bytes": config.max_body_bytes, "history-turns": MAX_HISTORY_TURNS,
              "history-question-chars": HISTORY_QUESTION_CHARS, "history-answer-chars": HISTORY_ANSWER_CHARS,
              "article-id-chars": MAX_ARTICLE_ID_CHARS}
    return render_template("chat.html", page="chat", max_question_chars=config.max_question_chars, limits=limits)


def title_key(title: str) -> str:
    """A title as it is alphabetised: quote marks and other punctuation ignored, case folded."""
    return " ".join(PUNCTUATION.sub(" ", title).casefold().split())


def browse_order(articles) -> list:
    """Dated articles newest first (by title within a day), then the undated ones by title."""
    by_title = sorted(articles, key=lambda a: title_key(a.title))
    dated = sorted((a for a in by_title if a.date), key=lambda a: a.date, reverse=True)  # stable: titles stay
    return dated + [a for a in by_title if not a.date]


def _matches(article, words: list[tuple[str, frozenset[str]]]) -> bool:
    """Every word of the filter starts a word of the title or of the date (2018-11-22, 22 November 2018), or is
    another form of a title's word: (word, its stems) pairs, stemmed as the search stems (text.tokenize), so that
    `library` finds "Keep the libraries open" (both "librari"). A stop word has no stems: only its start counts."""
    tokens = f"{title_key(article.title)} {article.date or 'undated'} {long_date(article.date).casefold()}".split()
    return all(any(token.startswith(word) for token in tokens) or (stems and stems <= _title_stems(article.title))
               for word, stems in words)


@lru_cache(maxsize=65536)
def _title_stems(title: str) -> frozenset[str]:
    """A title's stems, kept: a filter looks at every title, and stemming them anew took 0.2 s for 10,000."""
    return frozenset(tokenize(title))


def _day(value: str) -> str | None:
    return parse_iso_date(value, whole=True) if value else None


def _page_number(value: str, last: int) -> int:
    """`?page=`, within 1..last: not a number (str.isdigit also takes "²", which int() does not) is page 1, and
    a number of more than 9 digits (int() refuses over 4,300) is past the last page anyway."""
    if not (value.isascii() and value.isdigit()):
        return 1
    return min(max(int(value[:9]), 1), last)


@pages.get("/articles")
def articles():
    """The list of articles: filtered by title/date words and a date range, in pages of PAGE_SIZE."""
    every = browse_order(current_service().snapshot().articles.values())
    query = request.args.get("q", "")[:200].strip()
    since, until = request.args.get("from", "").strip(), request.args.get("to", "").strip()
    errors = [f"“{value[:20]}” is not a date (YYYY-MM-DD)" for value in (since, until) if value and not _day(value)]
    words = query.casefold().replace("“", " ").replace("”", " ").split()
    words = [w.strip("'\"‘’.,;:!?()[]") for w in words if w.strip("'\"‘’.,;:!?()[]")]
    stemmed = [(word, frozenset(tokenize(word))) for word in words]
    listed = [a for a in every if _matches(a, stemmed)] if words else every
    if _day(since):
        listed = [a for a in listed if a.date and a.date >= _day(since)]
    if _day(until):
        listed = [a for a in listed if a.date and a.date <= _day(until)]
    pages_count = max(1, -(-len(listed) // PAGE_SIZE))
    number = _page_number(request.args.get("page", ""), pages_count)
    shown = listed[(number - 1) * PAGE_SIZE:number * PAGE_SIZE]
    base = {k: v for k, v in (("q", query), ("from", since), ("to", until)) if v}

    def page_url(n: int) -> str:
        values: dict[str, Any] = {**base, **({"page": n} if n > 1 else {})}
        return url_for("pages.articles", **values)

    return render_template(
        "articles.html", page="articles", articles=shown, total=len(every), matching=len(listed),
        filtered=bool(words or since or until), query=query, since=since, until=until, errors=errors,
        number=number, pages_count=pages_count, first=(number - 1) * PAGE_SIZE + 1,
        previous_url=page_url(number - 1) if number > 1 else None,
        next_url=page_url(number + 1) if number < pages_count else None,
    ), 400 if errors else 200


@pages.get("/articles/<article_id>")
def article(article_id: str):
    snapshot = current_service().snapshot()
    info = snapshot.articles.get(article_id)
    if info is None:
        return render_template("message.html", title="No such article",
                               message="This article is not in the collection (any more)."), 404
    return render_template("article.html", page="article", article=info, paragraphs=snapshot.paragraphs[article_id])
