"""`GET /metrics` and the per-request counting behind it (see qa_service/metrics.py)."""

from __future__ import annotations

from flask import Blueprint, Response, request

from .. import metrics
from .context import current_service

monitoring = Blueprint("monitoring", __name__)

ADMIN_ACTIONS = {"POST": "add", "DELETE": "delete"}


@monitoring.get("/metrics")
def metrics_route():
    body, content_type = metrics.exposition(current_service().snapshot)
    return Response(body, content_type=content_type)


@monitoring.after_app_request
def count_request(response):
    """Every response counted by its route template (never the raw path: ids would make endless series)."""
    route = request.url_rule.rule if request.url_rule is not None else "unmatched"
    metrics.count_request(route, response.status_code)
    if request.blueprint == "admin" and request.method in ADMIN_ACTIONS:
        metrics.count_admin_change(ADMIN_ACTIONS[request.method], response.status_code)
    return response
