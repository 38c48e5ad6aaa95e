"""JSON routes: /api/ask, /api/articles, /api/articles/<id>, /healthz."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, request

from ..index import IndexUnavailable
from .errors import ApiError
from .validation import json_body, parse_question

api = Blueprint("api", __name__)


def service():
    return current_app.extensions["qa_service"]


@api.post("/api/ask")
def ask():
    question = parse_question(json_body(request), current_app.config["QA"])
    return jsonify(service().ask(question))


@api.get("/api/articles")
def list_articles():
    snapshot = service().snapshot()
    return jsonify({
        "index_version": snapshot.version,
        "articles": [
            {"id": a.id, "title": a.title, "date": a.date, "url": a.url, "paragraphs": a.n_paragraphs}
            for a in snapshot.articles.values()
        ],
    })


@api.get("/api/articles/<article_id>")
def get_article(article_id: str):
    snapshot = service().snapshot()
    article = snapshot.articles.get(article_id)
    if article is None:
        raise ApiError(404, "not_found", f"no article with id {article_id[:100]!r}")
    return jsonify({
        "id": article.id, "title": article.title, "date": article.date, "url": article.url,
        "author": article.author,
        "paragraphs": [{"number": n, "text": t} for n, t in enumerate(snapshot.paragraphs[article.id], start=1)],
    })


@api.get("/healthz")
def healthz():
    try:
        return jsonify(service().health())
    except IndexUnavailable as exc:
        body = {"status": "unavailable", "error": {"code": "index_unavailable", "message": str(exc)}}
        return jsonify(body), 503
