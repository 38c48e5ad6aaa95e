"""The Makefile's user-facing targets, read with `make -n` (nothing is run)."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from qa_service.config import PROJECT_ROOT

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="needs make")


def planned(*args: str) -> list[str]:
    """The commands `make ARGS` would run (the Makefile's variables taken from ARGS only, not the environment)."""
    env = {k: v for k, v in os.environ.items() if k not in ("CORPUS", "SWITCH_CORPUS", "HOST", "PORT")}
    done = subprocess.run(["make", "-n", *args], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True,
                          check=True)
    return [line for line in done.stdout.splitlines() if "qa-service" in line]


# --- issue 26, item 14: serving another folder is `make run CORPUS=path` -----------------------------------------

def test_make_run_and_make_index_take_the_corpus_folder(tmp_path):
    folder = str(tmp_path / "shared data" / "editorials")
    index, serve = planned("run", f"CORPUS={folder}")
    assert index.split(" --corpus ", 1)[1].strip() == f"'{folder}'"
    assert f"serve --host 127.0.0.1 --port 8000 --corpus '{folder}'" in serve  # articles added over HTTP go there
    assert planned("index", f"CORPUS={folder}") == [index]
    assert planned("index", f"CORPUS={folder}", "SWITCH_CORPUS=1")[0].endswith(f"--corpus '{folder}' --switch-corpus")


def test_without_corpus_make_uses_the_configured_folder():
    index, serve = planned("run")
    assert "--corpus" not in index and "--corpus" not in serve  # QA_CORPUS_DIR, else corpus/
