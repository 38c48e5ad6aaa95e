"""Constants and helpers shared by the tests; the pytest fixtures themselves are in conftest.py.

The test corpus is the seed editorial in corpus/ and a few articles written for the project under
tests/data/articles/, so the suite needs nothing beside the clone. Only the tests about the shared data
sets (../shared/data, or QA_SHARED_DATA) skip without them.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from qa_service.config import PROJECT_ROOT

SHARED_DATA = Path(os.environ.get("QA_SHARED_DATA", PROJECT_ROOT.parent / "shared" / "data"))
SEED_CORPUS = PROJECT_ROOT / "corpus"
TEST_ARTICLES = Path(__file__).resolve().parent / "data" / "articles"

SEED_ID = "donga-2018-11-22-us-warning-against-seoul-speeding"  # the seed editorial, dated 2018-11-22
# The test articles (tests/data/articles/), on distinct subjects so that ranking means something:
WATER_ID = "valley-reservoir"  # plain text, undated: a water board's dam; its president in ¶4
TRAM_ID = "kessling-tram-derailment"  # plain text, undated: a tram derailment; the mayor's response in ¶5
FISHERY_ID = "skerry-banks-fishery"  # plain text, undated: two harbours share a fishing bank; ¶5 is long
MEASLES_ID = "measles-in-dunmore-schools"  # Markdown, front matter dated 2016-03-09; ¶2 is long
ARTICLE_COUNT = len(list(SEED_CORPUS.glob("*.txt"))) + len(list(TEST_ARTICLES.iterdir()))


def make_corpus(folder: Path) -> Path:
    """`folder` filled with the test corpus: the seed editorial and the test articles."""
    folder.mkdir(parents=True, exist_ok=True)
    for path in [*SEED_CORPUS.glob("*.txt"), *TEST_ARTICLES.iterdir()]:
        shutil.copy(path, folder / path.name)
    return folder


def needs_shared_data(*parts: str) -> pytest.MarkDecorator:
    """Skip a test about the shared data sets (evaluation, full corpora) when they are not beside the clone."""
    folder = SHARED_DATA.joinpath(*parts)
    default = "QA_SHARED_DATA" not in os.environ
    shown = Path("..", "shared", "data", *parts) if default else folder
    reason = f"needs the shared data sets: {shown} not found (set QA_SHARED_DATA to their folder)"
    return pytest.mark.skipif(not folder.is_dir(), reason=reason)
