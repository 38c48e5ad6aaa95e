"""Prometheus metrics and the JSON event log: what operations need to watch a running service.

Counters and histograms are made on first use, so that prometheus-client is imported only after the
server has chosen its mode: under gunicorn `enable_multiprocess` points PROMETHEUS_MULTIPROC_DIR at a
fresh folder before any worker starts, every worker writes its values there, and a scrape of any
worker adds up all of them. The index gauges are not stored at all: they are read from the served
index at scrape time (the same in every worker, so nothing to add up).

Names (the README lists them): qa_requests_total{route,status}, qa_ask_seconds, qa_answers_total{found},
qa_admin_changes_total{action,status}, qa_build_seconds, qa_index_passages, qa_index_articles,
qa_index_age_seconds.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"  # read by prometheus-client itself
ASK_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
BUILD_BUCKETS = (0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0)
EVENTS = "qa_service.events"

_lock = threading.Lock()
_metrics: dict | None = None


def enable_multiprocess() -> Path:
    """A fresh folder for the workers' metric files, named in the environment the workers inherit.

    Call in the server's master before any worker is forked and before prometheus-client is imported.
    """
    folder = Path(tempfile.mkdtemp(prefix="qa-metrics-"))
    os.environ[MULTIPROC_ENV] = str(folder)
    return folder


def remove_multiprocess_folder(folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)


def worker_exited(pid: int) -> None:
    """Called by the server's master when a worker ends: its live gauges no longer count."""
    if os.environ.get(MULTIPROC_ENV):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid)


def _get() -> dict:
    global _metrics
    if _metrics is None:
        with _lock:
            if _metrics is None:
                from prometheus_client import CollectorRegistry, Counter, Histogram

                registry = CollectorRegistry(auto_describe=True)
                _metrics = {
                    "registry": registry,
                    "requests": Counter("qa_requests_total", "HTTP requests by route template and status code",
                                        ["route", "status"], registry=registry),
                    "ask": Histogram("qa_ask_seconds", "Time to answer one question (/api/ask), in seconds",
                                     buckets=ASK_BUCKETS, registry=registry),
                    "answers": Counter("qa_answers_total", "Questions answered, by whether an answer was found",
                                       ["found"], registry=registry),
                    "admin": Counter("qa_admin_changes_total", "Article changes over HTTP by action and status code",
                                     ["action", "status"], registry=registry),
                    "build": Histogram("qa_build_seconds", "Index builds of this server's admin changes, in seconds",
                                       buckets=BUILD_BUCKETS, registry=registry),
                }
    return _metrics


def count_request(route: str, status: int) -> None:
    _get()["requests"].labels(route=route, status=str(status)).inc()


def count_answer(seconds: float, found: bool) -> None:
    metrics = _get()
    metrics["ask"].observe(seconds)
    metrics["answers"].labels(found=str(bool(found)).lower()).inc()


def count_admin_change(action: str, status: int) -> None:
    _get()["admin"].labels(action=action, status=str(status)).inc()


def observe_build(seconds: float) -> None:
    _get()["build"].observe(seconds)


class _IndexCollector:
    """qa_index_* read from the served index when scraped; nothing when no index can be served."""

    def __init__(self, snapshot_reader):
        self.snapshot_reader = snapshot_reader

    def collect(self):
        from prometheus_client.core import GaugeMetricFamily

        try:
            snapshot = self.snapshot_reader()
        except Exception:  # no index: /healthz says why; the scrape itself must still work
            return
        yield GaugeMetricFamily("qa_index_passages", "Passages in the served index", value=snapshot.n_passages)
        yield GaugeMetricFamily("qa_index_articles", "Articles in the served index", value=len(snapshot.articles))
        created = snapshot.manifest.get("created_at")
        if created:
            age = time.time() - datetime.fromisoformat(created).timestamp()
            yield GaugeMetricFamily("qa_index_age_seconds", "Seconds since the served index was built",
                                    value=max(0.0, age))


def exposition(snapshot_reader) -> tuple[bytes, str]:
    """(body, content type) of a scrape: this process's metrics, or every worker's under gunicorn."""
    from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

    metrics = _get()
    registry = CollectorRegistry()
    if os.environ.get(MULTIPROC_ENV):
        from prometheus_client import multiprocess

        multiprocess.MultiProcessCollector(registry)
    else:
        registry.register(_Forward(metrics["registry"]))
    registry.register(_IndexCollector(snapshot_reader))
    return generate_latest(registry), CONTENT_TYPE_LATEST


class _Forward:
    """This process's own registry, inside the registry of one scrape."""

    def __init__(self, registry):
        self.registry = registry

    def collect(self):
        yield from self.registry.collect()


# --- the event log: one JSON object a line ---------------------------------------------------------------------

def event_log() -> logging.Logger:
    return logging.getLogger(EVENTS)


def configure_event_log(stream=None) -> None:
    """JSON lines on stderr (beside gunicorn's own log), once per process."""
    logger = event_log()
    if any(getattr(h, "qa_events", False) for h in logger.handlers):
        return
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    handler.qa_events = True  # type: ignore[attr-defined]  # marks ours among the logger's handlers
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False


def log_event(event: str, **fields) -> None:
    record = {"time": datetime.now().astimezone().isoformat(timespec="milliseconds"), "event": event, **fields}
    event_log().info(json.dumps(record, ensure_ascii=False))
