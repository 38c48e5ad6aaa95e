"""`qa-service serve` as a subprocess on a free loopback port: the one harness of the tests and the benchmarks.

The server runs in a session of its own, so that stopping it stops gunicorn's workers too; its standard error
(gunicorn's and the service's log) goes to a file the caller can read.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import IO


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServeProcess:
    """`qa-service serve --port <free> --workers N --threads M` with the given environment (QA_* settings)."""

    def __init__(self, env: Mapping[str, str], log: Path, *, workers: int = 1, threads: int = 4,
                 cwd: Path | None = None, stdout: IO | int = subprocess.DEVNULL):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.env = dict(env)
        self.log_path = Path(log)
        self._log = open(self.log_path, "w+")  # noqa: SIM115 (closed in stop())
        command = [sys.executable, "-m", "qa_service.cli", "serve", "--port", str(self.port),
                   "--workers", str(workers), "--threads", str(threads)]
        self.command = " ".join(["python", *command[1:]])
        self.started = time.perf_counter()
        self.process = subprocess.Popen(command, env=self.env, cwd=cwd, stdout=stdout, stderr=self._log,
                                        start_new_session=True)

    def log(self) -> str:
        self._log.flush()
        return self.log_path.read_text()

    def wait_ready(self, timeout: float = 300.0) -> float:
        """Seconds from the start until /healthz answers (any status: a server without an index answers 503)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("server exited: " + self.log()[-3000:])
            try:
                with urllib.request.urlopen(self.base + "/healthz", timeout=5):
                    return time.perf_counter() - self.started
            except urllib.error.HTTPError:
                return time.perf_counter() - self.started
            except OSError:
                time.sleep(0.3)
        raise RuntimeError("server did not answer: " + self.log()[-3000:])

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=30)
        self._log.close()
