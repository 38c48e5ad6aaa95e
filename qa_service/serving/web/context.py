"""The app's service and settings, for a request's handler (create_app puts them on the app)."""

from __future__ import annotations

from flask import current_app

from ...config import Config
from ...service import QAService


def current_service() -> QAService:
    return current_app.extensions["qa_service"]


def current_config() -> Config:
    return current_app.config["QA"]
