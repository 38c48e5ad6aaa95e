"""HTML pages: the chat (`/`) and the article view (`/articles/<id>#p<N>`)."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, render_template

pages = Blueprint("pages", __name__, template_folder="templates", static_folder="static",
                  static_url_path="/static")


@pages.get("/")
def chat():
    return render_template("chat.html")


@pages.get("/articles/<article_id>")
def article(article_id: str):
    snapshot = current_app.extensions["qa_service"].snapshot()
    info = snapshot.articles.get(article_id)
    if info is None:
        abort(404)
    return render_template("article.html", article=info, paragraphs=snapshot.paragraphs[article_id])
