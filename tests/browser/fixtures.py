"""Constants and helpers the browser tests share (conftest.py holds their fixtures)."""

from __future__ import annotations

import os
import threading
from pathlib import Path

from werkzeug.serving import make_server

from qa_service.config import PROJECT_ROOT

CHROMIUM = os.environ.get("QA_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
SCREENSHOTS = PROJECT_ROOT / "test-output" / "screenshots"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 360, "height": 780}

XSS_SCRIPT = "<script>window.__xss=1</script>"
XSS_IMG = '<img src=x onerror="window.__xss=1">'
XSS_ARTICLE = f"""---
title: Flour tax {XSS_IMG}
date: 2020-03-15
url: javascript:window.__xss=1
---

The village bakers complain bitterly about the new flour tax. {XSS_SCRIPT} They say bread will cost twice as much.

Ovens were inspected by the council last winter. {XSS_IMG} The inspectors found nothing wrong with the ovens.
"""


class LiveServer:
    """A real HTTP server for `app` on 127.0.0.1 and a free port, in a daemon thread."""

    def __init__(self, app):
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, name="live-server", daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.thread.join(timeout=10)


def screenshot(page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=False)
    return path


def overflowing(page) -> list[str]:
    """The elements that stick out past the right edge of the viewport (what would scroll sideways)."""
    return page.evaluate(
        "[...document.querySelectorAll('body *')].filter(e => e.getClientRects().length"
        " && e.getBoundingClientRect().right > document.documentElement.clientWidth + 1)"
        ".map(e => e.className || e.tagName)")
