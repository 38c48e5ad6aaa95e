"""JSON routes: /api/ask, /api/overview, /api/articles, /api/articles/<id>, /healthz."""

from __future__ import annotations

from flask import Blueprint, jsonify, request

from ...index.generation.read import IndexUnavailable
from .. import metrics
from .context import current_config, current_service
from .errors import ApiError
from .validation import json_body, parse_overview, parse_question

api = Blueprint("api", __name__)


@api.post("/api/ask")
def ask():
    config = current_config()
    question = parse_question(json_body(request), config)
    result = current_service().ask(question)
    warnings = article_warnings(question.filters.articles)
    if warnings:
        result["warnings"] = warnings
    log_answer(result, config.log_questions)
    return jsonify(result)


@api.post("/api/overview")
def overview():
    """The editorials that discuss a topic, in date order, each with the sentence that states its position."""
    topic, limit, filters = parse_overview(json_body(request), current_config())
    result = current_service().overview(topic, limit, filters)
    metrics.log_event("overview", took_ms=result["took_ms"], editorials=len(result["editorials"]),
                      total=result["total"], index_version=result["index_version"])
    return jsonify(result)


def log_answer(result: dict, with_question: bool) -> None:
    """One JSON log line and the metrics for each question answered; its text only when QA_LOG_QUESTIONS=1."""
    metrics.count_answer(result["took_ms"] / 1000, result["found"])
    fields = {
        "took_ms": result["took_ms"], "found": result["found"],
        "top_score": result["passages"][0]["score"] if result["passages"] else None,
        "passages": len(result["passages"]), "mode": result["mode"], "index_version": result["index_version"],
    }
    if with_question:
        fields["question"] = result["question"]
    metrics.log_event("question", **fields)


def article_warnings(ids) -> list[str]:
    """Ids in `articles` that the index does not hold: the answer is still given (200), with a warning,
    since an id may be a typo or an article removed since the client listed them."""
    if not ids:
        return []
    known = current_service().snapshot().articles
    unknown = [article_id for article_id in dict.fromkeys(ids) if article_id not in known]
    return [f"articles: no article with id {article_id[:100]!r}; it was left out of the search"
            for article_id in unknown[:20]]


@api.get("/api/articles")
def list_articles():
    snapshot = current_service().snapshot()
    return jsonify({
        "index_version": snapshot.version,
        "articles": [
            {"id": a.id, "title": a.title, "date": a.date, "url": a.url, "paragraphs": a.n_paragraphs}
            for a in snapshot.articles.values()
        ],
    })


@api.get("/api/articles/<article_id>")
def get_article(article_id: str):
    snapshot = current_service().snapshot()
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
        return jsonify(current_service().health())
    except IndexUnavailable as exc:
        body = {"status": "unavailable", "error": {"code": "index_unavailable", "message": str(exc)}}
        return jsonify(body), 503
