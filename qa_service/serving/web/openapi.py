"""The OpenAPI 3.0 description of the JSON API, served at `GET /api/openapi.json`.

A static document, kept beside the code it describes: the request schemas say what
`web/validation.py` and `web/admin.py` accept, and the test suite fuzzes the API from it.
"""

from __future__ import annotations

from flask import Blueprint, jsonify

from ...config import (
    DEFAULT_OVERVIEW_LIMIT,
    DEFAULT_TOP_K,
    MAX_ARTICLE_ID_CHARS,
    MAX_FILTER_ARTICLES,
    MAX_OVERVIEW_LIMIT,
    MAX_QUESTION_CHARS,
    MAX_TITLE_CHARS,
    MAX_TOP_K,
    MAX_URL_CHARS,
    MODES,
)
from ...reading.overview import ORDERS

openapi = Blueprint("openapi", __name__)


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict, description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _error(description: str) -> dict:
    return _json(_ref("Error"), description)


NULLABLE_STRING = {"type": "string", "nullable": True}
# How an answer's citation and an overview's editorial name their article.
ARTICLE_PROPERTIES = {"article_id": {"type": "string"}, "title": {"type": "string"}, "date": NULLABLE_STRING,
                      "url": NULLABLE_STRING}
ERROR_BODY = {
    "type": "object",
    "required": ["code", "message"],
    "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
}

SCHEMAS = {
    "Error": {"type": "object", "required": ["error"], "properties": {"error": ERROR_BODY}},
    "AskRequest": {
        "type": "object",
        "required": ["question"],
        "additionalProperties": False,
        "description": "any other field (a misspelt one, such as topk) is a 400 naming it",
        "properties": {
            "question": {"type": "string", "minLength": 1, "maxLength": MAX_QUESTION_CHARS, "pattern": r"\S",
                         "description": "1-1,000 characters once surrounding spaces are removed"},
            "top_k": {"type": "integer", "minimum": 1, "maximum": MAX_TOP_K, "default": DEFAULT_TOP_K},
            "mode": {"type": "string", "enum": list(MODES), "default": MODES[0]},
            "history": {
                "type": "array",
                "nullable": True,
                "description": "earlier turns, oldest first; the last 10 are used. A follow-up is searched in the "
                               "editorial of the previous turn's answer (article_id, paragraph) first",
                "items": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {
                        "question": {"type": "string"},
                        "answer": NULLABLE_STRING,
                        "article_id": {**NULLABLE_STRING, "maxLength": MAX_ARTICLE_ID_CHARS,
                                       "description": "the article of the answer shown for that turn"},
                        "paragraph": {"type": "integer", "minimum": 1, "nullable": True,
                                      "description": "and its paragraph"},
                    },
                },
            },
            "date_from": {"type": "string", "format": "date", "nullable": True},
            "date_to": {"type": "string", "format": "date", "nullable": True},
            "articles": {"type": "array", "nullable": True, "maxItems": MAX_FILTER_ARTICLES,
                         "items": {"type": "string"},
                         "description": "article ids to search within; ids the index does not hold are left out "
                                        "and named in the answer's warnings"},
        },
    },
    "OverviewRequest": {
        "type": "object",
        "required": ["topic"],
        "additionalProperties": False,
        "description": "any other field is a 400 naming it",
        "properties": {
            "topic": {"type": "string", "minLength": 1, "maxLength": MAX_QUESTION_CHARS, "pattern": r"\S",
                      "description": "a topic (\"the Charlie Hebdo killings\") or a question about one (\"What has "
                                     "the paper said about …?\"); 1-1,000 characters once spaces are removed"},
            "limit": {"type": "integer", "minimum": 1, "maximum": MAX_OVERVIEW_LIMIT,
                      "default": DEFAULT_OVERVIEW_LIMIT},
            "date_from": {"type": "string", "format": "date", "nullable": True},
            "date_to": {"type": "string", "format": "date", "nullable": True},
        },
    },
    "OverviewResponse": {
        "type": "object",
        "required": ["topic", "editorials", "total", "order", "took_ms", "index_version"],
        "properties": {
            "topic": {"type": "string"},
            "editorials": {
                "type": "array",
                "description": "the best `limit` of the editorials that discuss the topic, ordered as `order` "
                               "says; empty when none does",
                "items": {
                    "type": "object",
                    "required": ["article_id", "title", "date", "url", "score", "sentence", "paragraphs"],
                    "properties": {
                        **ARTICLE_PROPERTIES,
                        "score": {"type": "number"},
                        "sentence": {"allOf": [_ref("ShownSentence")],
                                     "description": "the sentence that states the editorial's position on the topic"},
                        "second_sentence": {"allOf": [_ref("ShownSentence")],
                                            "description": "present when the first is unsure: the next best one"},
                        "paragraphs": {"type": "array", "items": {"type": "integer", "minimum": 1},
                                       "description": "the paragraphs that discuss the topic, in order"},
                    },
                },
            },
            "total": {"type": "integer", "minimum": 0, "description": "how many editorials discuss the topic"},
            "order": {"type": "string", "enum": list(ORDERS),
                      "description": "date: every row is dated, oldest first; relevance: none is, most relevant "
                                     "first; date, then relevance: the dated rows oldest first, then the others"},
            "took_ms": {"type": "number"},
            "index_version": {"type": "string"},
        },
    },
    "ShownSentence": {
        "type": "object",
        "required": ["text", "paragraph"],
        "properties": {"text": {"type": "string"}, "paragraph": {"type": "integer", "minimum": 1}},
    },
    "Citation": {
        "type": "object",
        "required": ["article_id", "title", "date", "paragraph", "url"],
        "properties": {**ARTICLE_PROPERTIES, "paragraph": {"type": "integer", "minimum": 1}},
    },
    "AnswerSentence": {
        "type": "object",
        "description": "a sentence of one of the passages: its rank and its character offsets in that passage's text",
        "required": ["text", "passage", "start", "end"],
        "properties": {
            "text": {"type": "string"},
            "passage": {"type": "integer", "minimum": 1},
            "start": {"type": "integer", "minimum": 0},
            "end": {"type": "integer", "minimum": 0},
        },
    },
    "AskResponse": {
        "type": "object",
        "required": ["question", "found", "answer", "passages", "mode", "index_version", "took_ms"],
        "properties": {
            "question": {"type": "string"},
            "resolved_question": {"type": "string"},
            "context": {
                "type": "object",
                "description": "how a question with a history was read: where it was searched first and why",
                "required": ["article_id", "reason"],
                "properties": {
                    "article_id": {**NULLABLE_STRING, "description": "the editorial under discussion, searched "
                                                                     "first (null: all editorials)"},
                    "title": NULLABLE_STRING,
                    "reason": {"type": "string"},
                    "pronouns": {"type": "array", "items": {
                        "type": "object", "required": ["word", "as"],
                        "properties": {"word": {"type": "string"}, "as": {"type": "string"}}}},
                },
            },
            "found": {"type": "boolean"},
            "answer": {"allOf": [_ref("AnswerSentence")], "nullable": True},  # 3.0: no siblings beside a $ref
            "alternatives": {"type": "array", "maxItems": 2, "items": _ref("AnswerSentence"),
                             "description": "present when the answer is unsure: the next best sentences of the same "
                                            "editorial, each in one of `passages`"},
            "passages": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["rank", "score", "text", "citation"],
                    "properties": {
                        "rank": {"type": "integer", "minimum": 1},
                        "score": {"type": "number"},
                        "text": {"type": "string"},
                        "citation": _ref("Citation"),
                    },
                },
            },
            "mode": {"type": "string", "enum": list(MODES)},
            "index_version": {"type": "string"},
            "took_ms": {"type": "number"},
            "warnings": {"type": "array", "items": {"type": "string"},
                         "description": "present when some of the request was not used, e.g. unknown article ids"},
        },
    },
    "ArticleList": {
        "type": "object",
        "required": ["index_version", "articles"],
        "properties": {
            "index_version": {"type": "string"},
            "articles": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["id", "title", "date", "url", "paragraphs"],
                    "properties": {
                        "id": {"type": "string"},
                        "title": {"type": "string"},
                        "date": NULLABLE_STRING,
                        "url": NULLABLE_STRING,
                        "paragraphs": {"type": "integer", "minimum": 0},
                    },
                },
            },
        },
    },
    "Article": {
        "type": "object",
        "required": ["id", "title", "date", "url", "author", "paragraphs"],
        "properties": {
            "id": {"type": "string"},
            "title": {"type": "string"},
            "date": NULLABLE_STRING,
            "url": NULLABLE_STRING,
            "author": NULLABLE_STRING,
            "paragraphs": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["number", "text"],
                    "properties": {"number": {"type": "integer", "minimum": 1}, "text": {"type": "string"}},
                },
            },
        },
    },
    "NewArticle": {
        "type": "object",
        "required": ["title", "text"],
        "properties": {
            "title": {"type": "string", "minLength": 1, "maxLength": MAX_TITLE_CHARS, "pattern": r"\w"},
            "text": {"type": "string", "minLength": 1, "pattern": r"\w",
                     "description": "the article's paragraphs, separated by blank lines (read as Markdown)"},
            "date": {"type": "string", "format": "date", "nullable": True},
            "url": {"type": "string", "pattern": r"^https?://[A-Za-z0-9.-]+(/[!-~]*)?$", "maxLength": MAX_URL_CHARS,
                    "nullable": True},
            "author": {"type": "string", "maxLength": MAX_TITLE_CHARS, "nullable": True},
        },
        "additionalProperties": False,
    },
    "ArticleUpload": {
        "type": "object",
        "required": ["file"],
        "properties": {
            "file": {"type": "string", "format": "binary",
                     "description": "a .txt, .md or .markdown file in one of the corpus layouts, or a saved "
                                    "web page (.html, .htm: its article is extracted); UTF-8; at most 5 MiB"},
        },
    },
    "ArticleChange": {
        "type": "object",
        "required": ["id", "index_version", "build"],
        "properties": {
            "id": {"type": "string"},
            "title": {"type": "string"},
            "date": NULLABLE_STRING,
            "url": NULLABLE_STRING,
            "paragraphs": {"type": "integer", "minimum": 1},
            "file": {"type": "string"},
            "replaced": {"type": "boolean"},
            "removed_files": {"type": "array", "items": {"type": "string"}},
            "index_version": {"type": "string"},
            "build": {"type": "object", "description": "the index build report (counts, seconds, skipped files)"},
        },
    },
    "Health": {
        "type": "object",
        "required": ["status", "articles", "passages", "model", "index_version"],
        "properties": {
            "status": {"type": "string", "enum": ["ok"]},
            "articles": {"type": "integer", "minimum": 0},
            "passages": {"type": "integer", "minimum": 0},
            "model": {"type": "string"},
            "index_version": {"type": "string"},
        },
    },
    "HealthUnavailable": {
        "type": "object",
        "required": ["status", "error"],
        "properties": {
            "status": {"type": "string", "enum": ["unavailable"]},
            "error": ERROR_BODY,
        },
    },
}

ARTICLE_ID = {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}
ADMIN: list[dict[str, list[str]]] = [{"adminToken": []}]
NO_INDEX = _error("no index can be served (missing, damaged, or built with another model)")
UNAUTHORIZED = _error("missing or wrong admin token")
ADMIN_OFF = _error("the server has no QA_ADMIN_TOKEN: adding and removing articles is turned off")
BUSY = _error("another change or index build is running, or the index could not be rebuilt; the corpus is unchanged")

SPEC = {
    "openapi": "3.0.3",
    "info": {
        "title": "qa_service",
        "version": "1",
        "description": "Questions answered from a newspaper's editorials, with cited passages. Every error is JSON "
                       '{"error": {"code", "message"}}; request bodies are limited to 64 KiB '
                       "(an admin's file upload: 5 MiB).",
    },
    "paths": {
        "/api/ask": {
            "post": {
                "operationId": "ask",
                "summary": "Answer a question from the editorials",
                "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("AskRequest")}}},
                "responses": {
                    "200": _json(_ref("AskResponse"), "the answer (or null) and the cited passages"),
                    "400": _error("the body is not JSON, not UTF-8, or a field is invalid"),
                    "413": _error("the body is over 64 KiB"),
                    "415": _error("the body is not sent as application/json"),
                    "503": NO_INDEX,
                },
            },
        },
        "/api/overview": {
            "post": {
                "operationId": "overview",
                "summary": "The editorials that discuss a topic, each with the sentence that states its position",
                "requestBody": {"required": True,
                                "content": {"application/json": {"schema": _ref("OverviewRequest")}}},
                "responses": {
                    "200": _json(_ref("OverviewResponse"), "the editorials on the topic (possibly none)"),
                    "400": _error("the body is not JSON, not UTF-8, or a field is invalid"),
                    "413": _error("the body is over 64 KiB"),
                    "415": _error("the body is not sent as application/json"),
                    "503": NO_INDEX,
                },
            },
        },
        "/api/articles": {
            "get": {
                "operationId": "listArticles",
                "summary": "The indexed articles",
                "responses": {"200": _json(_ref("ArticleList"), "id, title, date and paragraph count of each"),
                              "503": NO_INDEX},
            },
            "post": {
                "operationId": "addArticle",
                "summary": "Add an article to the corpus and index it (admin)",
                "security": ADMIN,
                "parameters": [{"name": "replace", "in": "query", "required": False, "schema": {"type": "boolean"},
                                "description": "replace an existing article with the same id instead of 409"}],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {"schema": _ref("NewArticle")},
                        "multipart/form-data": {"schema": _ref("ArticleUpload")},
                    },
                },
                "responses": {
                    "200": _json(_ref("ArticleChange"), "an existing article was replaced (?replace=1)"),
                    "201": _json(_ref("ArticleChange"), "added and indexed"),
                    "400": _error("a field is invalid, or the file cannot be read as an article"),
                    "401": UNAUTHORIZED,
                    "403": ADMIN_OFF,
                    "409": _error("an article with this id exists (use ?replace=1), or the index was built from "
                                   "another corpus folder than the server's"),
                    "413": _error("the body is over 64 KiB (JSON) or 5 MiB (an upload)"),
                    "415": _error("the body is neither JSON nor a multipart upload"),
                    "503": BUSY,
                },
            },
        },
        "/api/articles/{id}": {
            "parameters": [ARTICLE_ID],
            "get": {
                "operationId": "getArticle",
                "summary": "One article with its paragraphs",
                "responses": {"200": _json(_ref("Article"), "the article"), "404": _error("no such article"),
                              "503": NO_INDEX},
            },
            "delete": {
                "operationId": "deleteArticle",
                "summary": "Remove an article from the corpus and the index (admin)",
                "security": ADMIN,
                "responses": {
                    "200": _json(_ref("ArticleChange"), "removed; the new index version"),
                    "401": UNAUTHORIZED,
                    "403": ADMIN_OFF,
                    "404": _error("no article with this id in the corpus"),
                    "409": _error("the last article cannot be removed, or the index was built from another "
                                   "corpus folder than the server's"),
                    "503": BUSY,
                },
            },
        },
        "/metrics": {
            "get": {
                "operationId": "metrics",
                "summary": "Prometheus metrics of the server (all workers): requests, answers, index, builds",
                "responses": {"200": {"description": "Prometheus text exposition format",
                                      "content": {"text/plain": {"schema": {"type": "string"}}}}},
            },
        },
        "/healthz": {
            "get": {
                "operationId": "health",
                "summary": "Is an index being served, and which",
                "responses": {"200": _json(_ref("Health"), "serving"),
                              "503": _json(_ref("HealthUnavailable"), "no index can be served; the reason")},
            },
        },
    },
    "components": {
        "schemas": SCHEMAS,
        "securitySchemes": {"adminToken": {"type": "http", "scheme": "bearer",
                                           "description": "the server's QA_ADMIN_TOKEN"}},
    },
}


@openapi.get("/api/openapi.json")
def openapi_json():
    return jsonify(SPEC)
