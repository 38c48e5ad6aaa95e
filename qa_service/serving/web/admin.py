"""Adding and removing articles over HTTP: `POST /api/articles`, `DELETE /api/articles/<id>`.

Both need `Authorization: Bearer <QA_ADMIN_TOKEN>` (403 when the server has no token, 401 when it is
wrong). An article is written into the corpus folder under a name made from its id (never from the
client's path), and the index is rebuilt incrementally, as one change that completes or leaves the
corpus as it was (corpus_change.py); this module reads the request and translates the outcome to HTTP.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
from contextlib import contextmanager
from pathlib import Path
from typing import Literal, overload

from flask import Blueprint, jsonify, request

from ...changes.corpus_change import ChangeBusy, change_and_rebuild, change_lock, files_by_article
from ...index.generation.build import EmptyCorpus, build_index
from ...index.generation.corpus_folder import OtherCorpus, check_corpus_folder
from ...ingest.article_fields import FieldError, article_file, check_read
from ...ingest.corpus import CORPUS_SUFFIXES, Article, CorpusError, article_id_for, parse_text
from .. import metrics
from .context import current_config, current_service
from .errors import ApiError, error_response
from .validation import json_body, reject_unknown_fields

log = logging.getLogger(__name__)

admin = Blueprint("admin", __name__)

LOCK_WAIT_SECONDS = 30.0  # for the admin lock, then again for the build lock: well inside gunicorn's 120 s
ARTICLE_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,119}$")  # every id that corpus.article_id_for can produce
TRUE_VALUES = ("1", "true", "yes")


@admin.before_request
def require_admin_token():
    """403 when no token is configured (the routes are off); 401 for a missing or wrong token."""
    if request.method == "OPTIONS":
        return None
    token = current_config().admin_token
    if not token:
        return error_response(403, "admin_disabled",
                              "adding and removing articles is turned off: start the server with QA_ADMIN_TOKEN set")
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    # WSGI hands headers over as latin-1 text: encoding back gives the bytes the client sent (UTF-8 for a
    # non-ASCII token). Hashing both sides first makes the comparison constant-time in the length too.
    given_digest = hashlib.sha256(given.strip().encode("latin-1", "replace")).digest()
    if scheme.lower() != "bearer" or not hmac.compare_digest(given_digest, hashlib.sha256(token.encode()).digest()):
        response = error_response(401, "unauthorized", "send the admin token as 'Authorization: Bearer <token>'")
        response.headers["WWW-Authenticate"] = 'Bearer realm="qa_service admin"'
        return response
    # An admin may upload a whole saved web page (often hundreds of KB); JSON bodies keep the small limit.
    if request.mimetype == "multipart/form-data":
        request.max_content_length = current_config().max_upload_bytes
    return None


@contextmanager
def corpus_change_lock(config):
    """corpus_change.change_lock, its refusals as 503s (the corpus is unchanged).

    An index built from another corpus folder than the server's (`serve --corpus`) is a 409 before the corpus
    is touched: the rebuild would replace that folder's articles with this one's.
    """
    try:
        with change_lock(config, LOCK_WAIT_SECONDS):
            check_corpus_folder(config.index_dir, config.corpus_dir)
            yield
    except ChangeBusy as exc:
        if exc.building:
            raise ApiError(503, "index_busy", f"{exc}; the corpus is unchanged, try again") from None
        raise ApiError(503, "index_busy", "another article is being added or removed; try again") from None
    except OtherCorpus as exc:
        raise ApiError(409, "other_corpus", f"{exc}, this server's corpus folder; the corpus is unchanged. Serve "
                                            f"{exc.built_from} (QA_CORPUS_DIR), or switch the index to this folder "
                                            "with `qa-service index --switch-corpus`") from None


def _bad(field: str, message: str) -> ApiError:
    return ApiError(400, "invalid_request", f"{field}: {message}")


@overload
def _text_field(payload: dict, field: str, *, required: Literal[True]) -> str: ...
@overload
def _text_field(payload: dict, field: str, *, required: Literal[False]) -> str | None: ...
@overload
def _text_field(payload: dict, field: str, *, required: bool) -> str | None: ...
def _text_field(payload: dict, field: str, *, required: bool) -> str | None:
    value = payload.get(field)
    if value is None:
        if required:
            raise _bad(field, "is required")
        return None
    if not isinstance(value, str):
        raise _bad(field, "must be a string")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise _bad(field, "must be valid Unicode text (no lone surrogates)") from None
    return value


ARTICLE_FIELDS = ("title", "text", "date", "url", "author")


def _article_from_json(payload: dict) -> tuple[str, str]:
    """(file name, Markdown file text) for a JSON article; every field checked, an unknown one refused."""
    reject_unknown_fields(payload, ARTICLE_FIELDS)
    fields = [_text_field(payload, name, required=name in ("title", "text")) for name in ARTICLE_FIELDS]
    try:
        title, file_text = article_file(*fields)
    except FieldError as exc:
        raise _bad(exc.field, exc.reason) from None
    return f"{article_id_for(title)}.md", file_text


def _article_from_upload() -> tuple[str, str]:
    """(file name, file text) for an uploaded file; the name is rebuilt from the id, never taken as a path."""
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        raise _bad("file", "send the article as a multipart form field named 'file' with a file name")
    client_name = Path(upload.filename.replace("\\", "/")).name  # only the last part of any path
    suffix = Path(client_name).suffix.lower()
    if suffix not in CORPUS_SUFFIXES:
        raise _bad("file", f"the file name must end in {', '.join(CORPUS_SUFFIXES)}")
    raw = upload.read()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _bad("file", f"not UTF-8 text (bad byte at offset {exc.start})") from None
    return f"{article_id_for(client_name)}{suffix}", text


def _change_corpus_and_rebuild(remove: list[Path], add: tuple[Path, str] | None):
    """corpus_change.change_and_rebuild with the service's encoder, its failures as 409 or 503."""
    service = current_service()
    config = current_config()

    def rebuild():
        report = build_index(config.corpus_dir, config.index_dir, service.embedder,
                             batch_size=config.batch_size, lock_held=True, limits=config.corpus_limits)
        metrics.observe_build(report.seconds)  # qa_build_seconds: the builds this server makes
        return report

    try:
        return change_and_rebuild(config, remove, [add] if add is not None else [], rebuild)
    except EmptyCorpus:
        raise ApiError(409, "last_article", "the corpus cannot be left empty; the article was kept") from None
    except Exception as exc:
        log.exception("index build after an article change failed")
        raise ApiError(503, "index_build_failed",
                       f"the index could not be rebuilt ({type(exc).__name__}); the corpus is unchanged") from None


@admin.post("/api/articles")
def add_article():
    """Add (or with ?replace=1, replace) one article: JSON {title, text, date?, url?, author?} or a file upload.

    An upload may be plain text, Markdown or a saved web page (.html/.htm, read with trafilatura).
    """
    replace = request.args.get("replace", "").lower() in TRUE_VALUES
    if request.mimetype == "multipart/form-data":
        name, text = _article_from_upload()
    elif request.mimetype == "application/json":
        name, text = _article_from_json(json_body(request))
    else:
        raise ApiError(415, "unsupported_media_type",
                       "send JSON {title, text, date?, url?, author?} or a multipart/form-data upload in field 'file'")
    try:
        article: Article = parse_text(text, name)
        check_read(article.title, article.author)  # a JSON article's fields are checked already
    except CorpusError as exc:
        raise ApiError(400, "invalid_article", f"the article cannot be read: {exc}") from None
    except FieldError as exc:
        raise _bad("file", f"its {exc.field} {exc.reason}") from None
    config = current_config()
    if len(text.encode("utf-8")) > config.max_file_bytes:  # the corpus reader would skip the file
        raise ApiError(413, "article_too_large",
                       f"the article file would exceed the corpus limit of {config.max_file_bytes:,} bytes")
    corpus_dir = Path(config.corpus_dir)
    corpus_dir.mkdir(parents=True, exist_ok=True)
    with corpus_change_lock(config):
        existing = files_by_article(corpus_dir).get(article.id, [])
        if existing and not replace:
            raise ApiError(409, "article_exists",
                           f"an article with id {article.id!r} exists; add ?replace=1 to replace it")
        report = _change_corpus_and_rebuild(existing, (corpus_dir / name, text))
    body = {
        "id": article.id, "title": article.title, "date": article.date, "url": article.url,
        "paragraphs": len(article.paragraphs), "file": name, "replaced": bool(existing),
        "index_version": report.version, "build": report.to_dict(),
    }
    return jsonify(body), 200 if existing else 201


@admin.delete("/api/articles/<article_id>")
def delete_article(article_id: str):
    """Remove an article's file(s) from the corpus and rebuild the index without it."""
    config = current_config()
    missing = ApiError(404, "not_found", f"no article with id {article_id[:100]!r} in the corpus")
    if not ARTICLE_ID.match(article_id):
        raise missing
    with corpus_change_lock(config):
        files = files_by_article(Path(config.corpus_dir)).get(article_id, [])
        if not files:
            raise missing
        report = _change_corpus_and_rebuild(files, None)
    return jsonify({
        "id": article_id, "removed_files": [p.name for p in files],
        "index_version": report.version, "build": report.to_dict(),
    })
