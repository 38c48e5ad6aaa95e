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
# axe-core from npm, pinned by tests/serving/browser/axe/package-lock.json and installed by `make browser`
AXE_JS = PROJECT_ROOT / "tests" / "serving" / "browser" / "axe" / "node_modules" / "axe-core" / "axe.min.js"
# Where a page under test loads it from: its own origin, so the page's CSP (script-src 'self') stays as served.
# The test routes this address to AXE_JS; the app has no such route.
AXE_URL = "/__tests__/axe.min.js"
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


def axe_violations(page) -> list[dict]:
    """axe-core's violations on the page as it is now: [{id, impact, help, nodes: [selector, …]}].

    axe is loaded as a same-origin script (AXE_URL, routed to the npm package's file), so the page runs under
    the Content-Security-Policy it is served with; it is loaded again after each navigation.
    """
    if not page.evaluate("typeof window.axe === 'object'"):
        page.route(f"**{AXE_URL}", lambda route: route.fulfill(path=AXE_JS))
        page.add_script_tag(url=AXE_URL)
        page.unroute(f"**{AXE_URL}")
    return page.evaluate(
        """async () => (await window.axe.run(document, {resultTypes: ["violations"]})).violations.map(v => ({
             id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map(n => n.target.join(" "))}))""")
