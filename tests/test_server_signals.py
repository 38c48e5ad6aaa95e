"""A server's life under signals, against the real server (`qa-service serve`, gunicorn, the real model) on
127.0.0.1: shutdowns. Each test starts a server of its own (one worker), with its own TMPDIR, where the server
makes its metrics folder."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator

import pytest

from qa_service.config import PROJECT_ROOT
from qa_service.devserver import ServeProcess

from .fixtures import http, slow


@pytest.fixture
def served(built_index, tmp_path) -> Iterator[ServeProcess]:
    corpus, index = built_index  # only read: no admin token
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    env = {**os.environ, "QA_INDEX_DIR": str(index), "QA_CORPUS_DIR": str(corpus), "TMPDIR": str(scratch),
           "QA_CACHE_DIR": str(PROJECT_ROOT / "embeddings")}  # the session encoder's export
    env.pop("QA_ADMIN_TOKEN", None)
    server = ServeProcess(env, tmp_path / "server.log", workers=1, threads=2)
    server.scratch = scratch  # type: ignore[attr-defined]
    try:
        server.wait_ready(150)
        yield server
    except RuntimeError as exc:
        pytest.fail(str(exc))
    finally:
        server.stop()


@slow
@pytest.mark.parametrize(("signalled", "sig"), [("server", signal.SIGTERM), ("group", signal.SIGINT)])
def test_a_shutdown_exits_0_without_a_traceback_and_removes_its_metrics_folder(served, signalled, sig):
    """SIGTERM to the server (a service manager), or SIGINT to its process group (Ctrl-C in a terminal)."""
    assert http(served.base + "/api/ask", {"question": "What did Pompeo warn about?"})[0] == 200
    assert len(list(served.scratch.glob("qa-metrics-*"))) == 1
    if signalled == "server":
        os.kill(served.process.pid, sig)
    else:
        os.killpg(served.process.pid, sig)
    assert served.process.wait(60) == 0, served.log()[-3000:]
    assert "Traceback" not in served.log() and "Bad file descriptor" not in served.log(), served.log()[-3000:]
    assert not list(served.scratch.glob("qa-metrics-*"))
