"""The Flask application factory: a thin HTTP layer over QAService."""

from __future__ import annotations

from flask import Flask, request

from ...config import Config
from ...service import QAService
from .admin import admin
from .api import api
from .errors import register_error_handlers
from .monitoring import monitoring
from .openapi import openapi
from .pages import pages

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}


def create_app(config: Config | None = None, service: QAService | None = None) -> Flask:
    config = config or Config.from_env()
    app = Flask(__name__)
    app.config["QA"] = config
    app.config["MAX_CONTENT_LENGTH"] = config.max_body_bytes
    app.json.sort_keys = False  # type: ignore[attr-defined]  # the default provider has it
    app.extensions["qa_service"] = service or QAService(config)
    app.register_blueprint(api)
    app.register_blueprint(admin)
    app.register_blueprint(openapi)
    app.register_blueprint(pages)
    app.register_blueprint(monitoring)
    register_error_handlers(app)

    @app.after_request
    def add_security_headers(response):
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        if request.path.startswith(("/api/", "/healthz")):
            # Answers change with every index version and admin change: no cache (or proxy) may keep one.
            response.headers.setdefault("Cache-Control", "no-store")
        return response

    return app
