"""Serving under load: start `qa-service serve` on loopback, one-at-a-time latency, concurrent load.

Concurrent load comes from wrk (Debian's `wrk`, installed with `apt-get install wrk`) with a Lua
script that POSTs a different question each request. Without wrk, a bounded Python client with
threads is used instead; being Python on the same cores, it takes CPU from the server, so its
figure is a lower bound. The report names which one ran.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from qa_service.ingest.corpus import load_corpus
from qa_service.serving.devserver import ServeProcess

from .system import children, cpu_seconds, memory_mib, pct

WRK_SCRIPT = r"""
local bodies, n, counter = {}, 0, 0
local made = 0
function setup(thread)
  thread:set("id", made)
  made = made + 1
end
function init(args)
  for line in io.lines(args[1]) do
    n = n + 1
    bodies[n] = line
  end
  -- each wrk thread starts at its own place in the list, so no question repeats early
  counter = (id or 0) * math.floor(n / 2)
end
function request()
  counter = counter % n + 1
  return wrk.format("POST", "/api/ask", {["Content-Type"] = "application/json"}, bodies[counter])
end
"""


class Server(ServeProcess):
    """A running `qa-service serve` (gunicorn) on 127.0.0.1, with its CPU time and memory; stopped on exit."""

    def __init__(self, index_dir: Path, corpus_dir: Path, workers: int, threads: int, env: dict):
        self.settings = env  # the QA_* settings of this setup, for the report
        self._scratch = Path(tempfile.mkdtemp(prefix="qa-bench-server-"))
        super().__init__({**os.environ, "QA_INDEX_DIR": str(index_dir), "QA_CORPUS_DIR": str(corpus_dir), **env},
                         self._scratch / "server.log", workers=workers, threads=threads)

    def workers(self) -> list[int]:
        return children(self.process.pid)

    def cpu(self) -> float:
        return cpu_seconds([self.process.pid, *self.workers()])

    def memory(self) -> dict:
        return {pid: memory_mib(pid) for pid in self.workers()}

    def stop(self) -> None:
        super().stop()
        shutil.rmtree(self._scratch, ignore_errors=True)


@contextmanager
def serving(index_dir: Path, corpus_dir: Path, workers: int = 2, threads: int = 4, env: dict | None = None):
    server = Server(index_dir, corpus_dir, workers, threads, env or {})
    try:
        yield server
    finally:
        server.stop()


def body(question: str) -> str:
    return json.dumps({"question": question, "mode": "hybrid", "top_k": 5})


def sequential(port: int, questions: list[str], warm_up: int = 30, new_connection: bool = False,
               path: str = "/api/ask", make_body=body) -> dict:
    """One request at a time, client-side latency of each (ms): over one keep-alive connection, or over a
    new connection per request, as curl, urllib and `requests.post` ask. `path` and `make_body` name
    another route and its body (benchmarks/overview.py: /api/overview)."""
    connection = None if new_connection else http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Content-Type": "application/json"}
    latencies, server_ms, errors = [], [], 0
    for i, question in enumerate(questions[:warm_up] + questions):
        started = time.perf_counter()
        if new_connection:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        assert connection is not None
        connection.request("POST", path, make_body(question), headers)
        response = connection.getresponse()
        payload = response.read()
        if new_connection:
            connection.close()
        elapsed = (time.perf_counter() - started) * 1000
        if i < warm_up:
            continue
        if response.status != 200:
            errors += 1
            continue
        latencies.append(elapsed)
        server_ms.append(json.loads(payload)["took_ms"])
    if connection is not None:
        connection.close()
    return {"latencies": latencies, "server_ms": server_ms, "errors": errors}


def _wrk_ms(value: str) -> float:
    found = re.fullmatch(r"([\d.]+)(us|ms|s|m)", value)
    if found is None:
        raise ValueError(f"not a wrk duration: {value!r}")
    number, unit = found.groups()
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def concurrent_wrk(port: int, questions: list[str], connections: int, seconds: int, work: Path) -> dict:
    bodies = work / "bodies.jsonl"
    bodies.write_text("\n".join(body(q) for q in questions) + "\n")
    script = work / "ask.lua"
    script.write_text(WRK_SCRIPT)
    threads = min(2, connections)
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency", "--timeout", "10s",
               "-s", str(script), f"http://127.0.0.1:{port}", "--", str(bodies)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    out = process.stdout.read() if process.stdout else ""
    _, _, usage = os.wait4(process.pid, 0)
    process.returncode = 0
    result = {"tool": f"wrk {threads} threads, {connections} connections, {seconds} s", "raw": out,
              "command": " ".join(command[:-1]) + " bodies.jsonl",
              "client_cpu_s": usage.ru_utime + usage.ru_stime}
    match = re.search(r"Requests/sec:\s+([\d.]+)", out)
    result["rps"] = float(match.group(1)) if match else float("nan")
    match = re.search(r"(\d+) requests in", out)
    result["requests"] = int(match.group(1)) if match else 0
    for q in ("50", "75", "90", "99"):
        match = re.search(rf"^\s+{q}%\s+(\S+)", out, re.M)
        result[f"p{q}"] = _wrk_ms(match.group(1)) if match else float("nan")
    match = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    result["errors"] = int(match.group(1)) if match else 0
    match = re.search(r"Socket errors: (.*)", out)
    result["socket_errors"] = match.group(1) if match else ""
    return result


def concurrent_python(port: int, questions: list[str], connections: int, seconds: int) -> dict:
    """Fallback load generator: `connections` threads, each with a keep-alive connection, for `seconds`."""
    deadline = time.perf_counter() + seconds
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()

    def client(offset: int) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        headers = {"Content-Type": "application/json"}
        mine, i = [], offset
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            connection.request("POST", "/api/ask", body(questions[i % len(questions)]), headers)
            response = connection.getresponse()
            response.read()
            mine.append((time.perf_counter() - started) * 1000)
            if response.status != 200:
                with lock:
                    errors[0] += 1
            i += connections
        with lock:
            latencies.extend(mine)

    started = time.perf_counter()
    pool = [threading.Thread(target=client, args=(n,)) for n in range(connections)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    elapsed = time.perf_counter() - started
    return {"tool": f"Python client, {connections} threads, {seconds} s (shares the CPU with the server)",
            "rps": len(latencies) / elapsed, "requests": len(latencies), "errors": errors[0],
            **{f"p{q}": pct(latencies, q) for q in (50, 75, 90, 99)}, "command": "benchmarks.load.concurrent_python",
            "client_cpu_s": float("nan")}


def concurrent(port: int, questions: list[str], connections: int, seconds: int, work: Path) -> dict:
    if shutil.which("wrk"):
        return concurrent_wrk(port, questions, connections, seconds, work)
    return concurrent_python(port, questions, connections, seconds)


def editorial_questions(editorials: Path, squad: Path, limit: int) -> list[str]:
    """Varied questions: one per editorial title, then SQuAD dev questions; no question repeats."""
    articles, _ = load_corpus(editorials)
    questions = [f"What does the editorial say about {a.title.rstrip('.?!')}?" for a in articles]
    if (squad / "questions.jsonl").exists():
        with open(squad / "questions.jsonl") as handle:
            questions += [json.loads(line)["question"] for line in handle]
    seen, unique = set(), []
    for q in questions:
        if q not in seen and len(q) <= 1000:
            seen.add(q)
            unique.append(q)
    rng = np.random.default_rng(7)
    order = rng.permutation(len(unique))
    return [unique[i] for i in order[:limit]]
