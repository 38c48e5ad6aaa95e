"""HTML pages: the chat (`/`), the list of articles (`/articles`) and the article view (`/articles/<id>#p<N>`).

Pages are rendered with Jinja's autoescaping; the only scripts are static files (the CSP allows no inline code).
"""

from __future__ import annotations

from datetime import date

from flask import Blueprint, current_app, render_template

from ..index import IndexUnavailable

pages = Blueprint("pages", __name__, template_folder="templates", static_folder="static",
                  static_url_path="/static")

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


def _snapshot():
    return current_app.extensions["qa_service"].snapshot()


@pages.errorhandler(IndexUnavailable)
def index_unavailable(exc: IndexUnavailable):
    # A reader gets a page, not the JSON error the API gives; the detail stays in the server log.
    current_app.logger.warning("page without an index: %s", exc)
    return render_template("message.html", title="The editorials are not available right now",
                           message="The index is being built or could not be read. Please try again in a minute."), 503


@pages.get("/")
def chat():
    return render_template("chat.html", page="chat")


@pages.get("/articles")
def articles():
    listed = sorted(_snapshot().articles.values(), key=lambda a: a.title.lower())
    # Newest first; undated articles after the dated ones (sorted is stable, so titles stay in order within a day).
    listed.sort(key=lambda a: a.date or "", reverse=True)
    return render_template("articles.html", page="articles", articles=listed)


@pages.get("/articles/<article_id>")
def article(article_id: str):
    snapshot = _snapshot()
    info = snapshot.articles.get(article_id)
    if info is None:
        return render_template("message.html", title="No such article",
                               message="This article is not in the collection (any more)."), 404
    return render_template("article.html", page="article", article=info, paragraphs=snapshot.paragraphs[article_id])
