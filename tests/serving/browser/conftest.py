"""Browser fixtures: the real service on a loopback port and Debian's Chromium driven by Playwright.

The Flask app of tests/conftest.py (real model, real index) is served by werkzeug in a thread.
Chromium must be installed (`make browser`); without it these tests fail, unless QA_SKIP_BROWSER=1.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from qa_service.config import Config
from qa_service.index.generation.build import build_index
from qa_service.reading.fitted import FOLLOW_UP, load_scorer
from qa_service.reading.sentence_features import FEATURES
from qa_service.service import QAService
from qa_service.serving.web import create_app

from ...fixtures import write_scorer
from .fixtures import CHROMIUM, CHROMIUM_ARGS, DESKTOP, XSS_ARTICLE, LiveServer


@pytest.fixture(scope="session")
def live_server(app) -> Iterator[str]:
    with LiveServer(app) as server:
        yield server.url


def scored_server(tmp_path: Path, service: QAService, **scorer) -> LiveServer:
    """The test index served with a follow-up scorer of these choices (tests/fixtures.write_scorer)."""
    chosen = load_scorer(write_scorer(tmp_path, **scorer), FOLLOW_UP, FEATURES)
    scored = QAService(service.config, embedder=service.embedder, follow_up_scorer=chosen)
    return LiveServer(create_app(scored.config, service=scored))


@pytest.fixture(scope="session")
def unsure_server(tmp_path_factory, service) -> Iterator[str]:
    """Every follow-up answered in its editorial comes with the next best sentences ("Also in this editorial")."""
    with scored_server(tmp_path_factory.mktemp("unsure"), service, alternatives_within=1e9) as server:
        yield server.url


@pytest.fixture(scope="session")
def declining_server(tmp_path_factory, service) -> Iterator[str]:
    """Every follow-up asked in its editorial is declined there ("I couldn't find this in that editorial")."""
    with scored_server(tmp_path_factory.mktemp("declining"), service, decline_below=1e9) as server:
        yield server.url


@pytest.fixture(scope="session")
def second_sentence_server(tmp_path_factory, service) -> Iterator[str]:
    """Every overview row shows a second position sentence (a position scorer unsure of every first one)."""
    unsure = replace(service.position_scorer, second_within=1e9)
    scored = QAService(service.config, embedder=service.embedder, follow_up_scorer=service.follow_up_scorer,
                       position_scorer=unsure)
    with LiveServer(create_app(scored.config, service=scored)) as server:
        yield server.url


@pytest.fixture(scope="session")
def xss_server(tmp_path_factory, embedder) -> Iterator[str]:
    """A separate tiny index whose one article holds markup that would run if inserted as HTML."""
    root = tmp_path_factory.mktemp("xss")
    corpus = root / "corpus"
    corpus.mkdir()
    (corpus / "flour-tax.md").write_text(XSS_ARTICLE, encoding="utf-8")
    build_index(corpus, root / "index", embedder)
    service = QAService(Config(corpus_dir=corpus, index_dir=root / "index"), embedder=embedder)
    with LiveServer(create_app(service.config, service=service)) as server:
        yield server.url


@pytest.fixture(scope="session")
def browser():
    if os.environ.get("QA_SKIP_BROWSER") == "1":
        pytest.skip("QA_SKIP_BROWSER=1: browser tests skipped on purpose")
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        pytest.fail(f"Chromium not found at {CHROMIUM}: run `make browser` (apt: chromium), "
                    "or set QA_SKIP_BROWSER=1 to skip the browser tests", pytrace=False)
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("the `playwright` Python package is missing: pip install -e '.[test]'", pytrace=False)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


class PageProblems:
    """JavaScript errors and console errors (CSP violations among them) seen by one page."""

    def __init__(self):
        self.errors: list[str] = []
        self.allowed: list[str] = []

    def allow(self, fragment: str) -> None:
        self.allowed.append(fragment)

    def console(self, message) -> None:
        if message.type == "error" and not any(a in message.text for a in self.allowed):
            self.errors.append(f"console: {message.text}")

    def page_error(self, error) -> None:
        self.errors.append(f"page error: {error}")


@pytest.fixture
def new_page(browser, live_server):
    """new_page(base_url=..., viewport=..., color_scheme=...) -> a fresh page in a fresh context.

    Every page must end the test without JavaScript errors or console errors (a CSP violation is one);
    a test that provokes an error on purpose calls `page.problems.allow(text)`.
    """
    contexts = []

    def make(base_url: str = live_server, viewport: dict = DESKTOP, color_scheme: str = "light", **options):
        context = browser.new_context(base_url=base_url, viewport=viewport, color_scheme=color_scheme, **options)
        context.set_default_timeout(10_000)
        contexts.append(context)
        page = context.new_page()
        page.problems = PageProblems()
        page.on("console", page.problems.console)
        page.on("pageerror", page.problems.page_error)
        return page

    yield make
    problems = [e for c in contexts for p in c.pages for e in p.problems.errors]
    for context in contexts:
        context.close()
    assert not problems, problems


@pytest.fixture
def page(new_page):
    return new_page()
