"""Turning a JSON request body into a Question, with a precise 4xx for each way it can be wrong."""

from __future__ import annotations

import difflib
import json

from flask import Request

from ...config import (
    DEFAULT_OVERVIEW_LIMIT,
    MAX_ARTICLE_ID_CHARS,
    MAX_FILTER_ARTICLES,
    MAX_OVERVIEW_LIMIT,
    MODES,
    Config,
)
from ...ingest.formats.common import parse_iso_date
from ...reading.followup import Turn
from ...reading.search import Filters
from ...service import Question
from .errors import ApiError

# What a history turn counts for: the last 10 turns, each question and answer cut to these lengths (characters,
# that is code points). The chat page sends no more than this (pages.chat hands it these numbers).
MAX_HISTORY_TURNS = 10
HISTORY_QUESTION_CHARS = 1000
HISTORY_ANSWER_CHARS = 2000
HISTORY_FIELDS = ("question", "answer", "article_id", "paragraph")
ASK_FIELDS = ("question", "top_k", "mode", "history", "date_from", "date_to", "articles")
OVERVIEW_FIELDS = ("topic", "limit", "date_from", "date_to")


def json_body(request: Request) -> dict:
    if request.mimetype != "application/json":
        raise ApiError(415, "unsupported_media_type", "send the body as JSON with Content-Type: application/json")
    raw = request.get_data(cache=True)
    limit = request.max_content_length
    if request.content_length is None and limit is not None and len(raw) >= limit:
        # A chunked body (no Content-Length) is cut at the limit by the server's stream: too large, not bad JSON.
        raise ApiError(413, "request_entity_too_large", "request body too large")
    try:
        payload = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ApiError(400, "invalid_encoding", "the body is not UTF-8") from None
    except (ValueError, RecursionError):
        raise ApiError(400, "invalid_json", "the body is not valid JSON") from None
    if not isinstance(payload, dict):
        raise ApiError(400, "invalid_json", "the body must be a JSON object")
    return payload


def _bad(field: str, message: str) -> ApiError:
    return ApiError(400, "invalid_request", f"{field}: {message}")


def _is_unicode(text: str) -> bool:
    """False for strings holding lone surrogates (JSON allows "\\ud800"); the tokenizer cannot take them."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _iso_date(payload: dict, field: str) -> str | None:
    value = payload.get(field)
    if value is None:
        return None
    if not isinstance(value, str):
        raise _bad(field, "must be an ISO date string (YYYY-MM-DD)")
    day = parse_iso_date(value, whole=True)
    if day is None:
        raise _bad(field, f"{value[:40]!r} is not an ISO date (YYYY-MM-DD)")
    return day


def reject_unknown_fields(payload: dict, known: tuple[str, ...]) -> None:
    """A misspelt field ("topk") is an error naming it: ignored, it would silently give another answer."""
    for name in payload:
        if name not in known:
            close = difflib.get_close_matches(str(name).lower(), known, n=1, cutoff=0.6)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise _bad(str(name)[:60], f"unknown field (known: {', '.join(known)}){hint}")


def _text(payload: dict, field: str, config: Config) -> str:
    """A required text field (a question, a topic): a string of 1 to max_question_chars once stripped."""
    text = payload.get(field)
    if text is None:
        raise _bad(field, "is required")
    if not isinstance(text, str):
        raise _bad(field, "must be a string")
    if not _is_unicode(text):
        raise _bad(field, "must be valid Unicode text (no lone surrogates)")
    text = text.strip()
    if not text:
        raise _bad(field, "must not be empty")
    if len(text) > config.max_question_chars:
        raise _bad(field, f"must be at most {config.max_question_chars} characters")
    return text


def _date_filters(payload: dict, articles: tuple[str, ...] | None = None) -> Filters:
    filters = Filters(date_from=_iso_date(payload, "date_from"), date_to=_iso_date(payload, "date_to"),
                      articles=articles)
    if filters.date_from and filters.date_to and filters.date_from > filters.date_to:
        raise _bad("date_from", f"{filters.date_from} is after date_to {filters.date_to}")
    return filters


def parse_overview(payload: dict, config: Config) -> tuple[str, int, Filters]:
    """/api/overview's body: the topic, how many editorials at most, and the date filter."""
    reject_unknown_fields(payload, OVERVIEW_FIELDS)
    topic = _text(payload, "topic", config)
    limit = payload.get("limit", DEFAULT_OVERVIEW_LIMIT)
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_OVERVIEW_LIMIT:
        raise _bad("limit", f"must be an integer from 1 to {MAX_OVERVIEW_LIMIT}")
    return topic, limit, _date_filters(payload)


def parse_question(payload: dict, config: Config) -> Question:
    reject_unknown_fields(payload, ASK_FIELDS)
    text = _text(payload, "question", config)
    top_k = payload.get("top_k", config.default_top_k)
    if isinstance(top_k, bool) or not isinstance(top_k, int) or not 1 <= top_k <= config.max_top_k:
        raise _bad("top_k", f"must be an integer from 1 to {config.max_top_k}")
    mode = payload.get("mode", MODES[0])
    if mode not in MODES:
        raise _bad("mode", f"must be one of {', '.join(MODES)}")
    articles = payload.get("articles")
    if articles is not None and (
        not isinstance(articles, list) or not all(isinstance(a, str) for a in articles)
        or len(articles) > MAX_FILTER_ARTICLES
    ):
        raise _bad("articles", "must be a list of article ids")
    filters = _date_filters(payload, tuple(articles) if articles is not None else None)
    return Question(text=text, top_k=top_k, mode=mode, filters=filters, history=parse_history(payload))


def parse_history(payload: dict) -> tuple[Turn, ...]:
    history = payload.get("history", [])
    if history is None:
        return ()
    if not isinstance(history, list):
        raise _bad("history", "must be a list of {question, answer, article_id, paragraph} objects")
    return tuple(_turn(turn) for turn in history[-MAX_HISTORY_TURNS:])


def _turn(turn: object) -> Turn:
    if not isinstance(turn, dict):
        raise _bad("history", "each turn must be an object with string question and answer")
    for name in turn:
        if name not in HISTORY_FIELDS:
            close = difflib.get_close_matches(str(name).lower(), HISTORY_FIELDS, n=1, cutoff=0.6)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise _bad(f"history: {str(name)[:60]}", f"unknown field (known: {', '.join(HISTORY_FIELDS)}){hint}")
    question, answer, article_id = turn.get("question", ""), turn.get("answer") or "", turn.get("article_id")
    if not isinstance(question, str) or not isinstance(answer, str):
        raise _bad("history", "each turn must be an object with string question and answer")
    if not _is_unicode(question) or not _is_unicode(answer):
        raise _bad("history", "must be valid Unicode text (no lone surrogates)")
    if article_id is not None and (not isinstance(article_id, str) or not _is_unicode(article_id)
                                   or len(article_id) > MAX_ARTICLE_ID_CHARS):
        raise _bad("history", f"article_id must be an article id (a string of at most {MAX_ARTICLE_ID_CHARS} "
                              "characters) or null")
    paragraph = turn.get("paragraph")
    if paragraph is not None and (isinstance(paragraph, bool) or not isinstance(paragraph, int) or paragraph < 1):
        raise _bad("history", "paragraph must be a positive integer or null")
    return Turn(question[:HISTORY_QUESTION_CHARS], answer[:HISTORY_ANSWER_CHARS], article_id or None, paragraph)
