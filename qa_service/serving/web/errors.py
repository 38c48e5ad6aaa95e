"""Every API error is JSON `{"error": {"code", "message"}}`, never a traceback.

The one HTML error is for readers: a page address that does not exist (outside /api/ and /healthz)
gets a "page not found" page in the site's layout.
"""

from __future__ import annotations

import logging

from flask import Flask, jsonify, render_template, request
from werkzeug.exceptions import HTTPException

from ...index.generation.read import IndexUnavailable

log = logging.getLogger(__name__)


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def error_response(status: int, code: str, message: str):
    response = jsonify({"error": {"code": code, "message": message}})
    response.status_code = status
    return response


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def api_error(exc: ApiError):
        return error_response(exc.status, exc.code, exc.message)

    @app.errorhandler(IndexUnavailable)
    def index_unavailable(exc: IndexUnavailable):
        return error_response(503, "index_unavailable", str(exc))

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        if exc.code == 404 and not request.path.startswith(("/api/", "/healthz")):
            return render_template("message.html", title="Page not found",
                                   message="There is no page at this address."), 404
        code = (exc.name or "error").lower().replace(" ", "_")
        messages = {
            404: "no such resource",
            405: "method not allowed for this resource",
            413: "request body too large",
        }
        response = error_response(exc.code or 500, code, messages.get(exc.code or 500, exc.description or exc.name))
        if exc.code == 405 and hasattr(exc, "valid_methods") and exc.valid_methods:
            response.headers["Allow"] = ", ".join(exc.valid_methods)
        return response

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):
        log.exception("unhandled error")
        return error_response(500, "internal_error", "internal error; the server log has the details")
