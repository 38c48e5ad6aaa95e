"""axe-core in every state of the pages, at a desktop's and a phone's width, in a real Chromium (issue 30).

A violation of impact serious or critical fails the test; moderate and minor ones are printed (they are
judgement calls axe leaves to the reader: listed so that they are seen, not silently accepted). axe-core is the
npm package pinned in tests/serving/browser/axe/ (`make browser` installs it), loaded into each page as a same-origin
script: the pages keep the Content-Security-Policy they are served with.
"""

from __future__ import annotations

import json

import pytest

from .fixtures import AXE_JS, axe_violations
from .test_chat_page import FOLLOW_UP, OFF_TOPIC, QUESTION, SEED_ID, ask
from .test_overview_page import OVERVIEW_QUESTION

VIEWPORTS = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}
FAILING = ("serious", "critical")


@pytest.fixture(scope="module", autouse=True)
def _axe_installed():
    if not AXE_JS.exists():
        pytest.fail(f"axe-core not found at {AXE_JS}: run `make browser` (npm ci in tests/serving/browser/axe)",
                    pytrace=False)


class Scan:
    """axe's findings in each state of the pages, kept by state for one report."""

    def __init__(self) -> None:
        self.found: dict[str, list[dict]] = {}

    def __call__(self, page, state: str) -> None:
        self.found[state] = axe_violations(page)

    def failing(self) -> dict[str, list[dict]]:
        return {state: [v for v in found if v["impact"] in FAILING] for state, found in self.found.items()
                if any(v["impact"] in FAILING for v in found)}

    def report(self, width: str) -> str:
        lines = []
        for state, found in self.found.items():
            counts = {impact: sum(v["impact"] == impact for v in found) for impact in (*FAILING, "moderate", "minor")}
            lines.append(f"axe {width} {state}: " + ", ".join(f"{n} {impact}" for impact, n in counts.items()))
            lines += [f"    {v['impact']} {v['id']}: {v['help']} ({len(v['nodes'])}: {', '.join(v['nodes'][:3])})"
                      for v in found]
        return "\n".join(lines)


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("width", VIEWPORTS)
def test_every_page_state_is_free_of_serious_axe_violations(new_page, capsys, width, scheme):
    scan = Scan()
    page = new_page(viewport=VIEWPORTS[width], color_scheme=scheme)
    page.goto("/")
    page.locator("#suggestion-list button").first.wait_for()
    scan(page, "empty chat")
    ask(page, QUESTION)
    scan(page, "an answer")
    ask(page, FOLLOW_UP)
    scan(page, "a follow-up")
    ask(page, OVERVIEW_QUESTION)
    scan(page, "an overview question")
    page.locator(".turn").nth(1).locator(".overview-offer").click()
    page.locator(".turn").nth(3).locator(".reply.overview").wait_for()
    scan(page, "All editorials on this")
    ask(page, OFF_TOPIC)
    scan(page, "not found")
    page.problems.allow("500")
    page.route("**/api/ask", lambda route: route.fulfill(status=500, content_type="application/json", body=json.dumps(
        {"error": {"code": "internal_error", "message": "internal error"}})))
    ask(page, QUESTION)
    scan(page, "an error")

    page.goto("/articles")
    scan(page, "Browse")
    page.goto(f"/articles/{SEED_ID}#p2")
    scan(page, "an article")
    page.problems.allow("404")
    page.goto("/articles/no-such-article")
    scan(page, "no such article")

    report = scan.report(f"{width} {scheme}")
    with capsys.disabled():
        print(f"\n{report}")
    assert not scan.failing(), report
