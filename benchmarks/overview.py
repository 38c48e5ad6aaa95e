"""`make bench`'s overview section: /api/overview beside /api/ask, on one server over the 266 editorials.

Both routes are asked one request at a time over a keep-alive connection, in alternating chunks so
that the machine's drift favours neither, with no query cache (every request runs the encoder
once). The topics are the dev topics' questions and "What has the paper said about <title>?" for
the editorials' titles; the questions are /api/ask's usual ones.

    python -m benchmarks.overview --data ../shared/data --index DIR --corpus DIR   (this section alone)
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from . import load
from .load import editorial_questions
from .system import pct

TARGET_P50_MS = 30.0


def topics(data: Path, corpus: Path, n: int) -> list[str]:
    """Varied overview requests: the dev topics' questions, then one per editorial title."""
    found: list[str] = []
    with open(data / "editorial-topics" / "topics.jsonl", encoding="utf-8") as handle:
        found += [json.loads(line)["question"] for line in handle if line.strip()]
    for path in sorted(corpus.glob("*.txt")):
        title = path.read_text(encoding="utf-8", errors="replace").strip().splitlines()[0][:200]
        found.append(f"What has the paper said about {title}?")
    return [found[i % len(found)] for i in range(n)]


def overview_body(topic: str) -> str:
    return json.dumps({"topic": topic})


def bench_overview(index: Path, corpus: Path, questions: list[str], overview_topics: list[str], work: Path,
                   chunk: int = 50) -> dict:
    """p50/p95 of /api/ask and /api/overview (client side and the server's took_ms), measured in one run."""
    env = {"QA_QUERY_CACHE": "0", "QA_CACHE_DIR": str(work / "cache")}
    runs: dict[str, dict[str, list]] = {name: {"latencies": [], "server_ms": []} for name in ("ask", "overview")}
    errors = dict.fromkeys(runs, 0)
    with load.serving(index, corpus, workers=2, threads=4, env=env) as server:
        server.wait_ready()
        n = min(len(questions), len(overview_topics))
        for number, start in enumerate(range(0, n, chunk)):
            warm_up = 20 if number == 0 else 0
            order = ("ask", "overview") if number % 2 == 0 else ("overview", "ask")
            for name in order:
                if name == "ask":
                    part = load.sequential(server.port, questions[start:start + chunk], warm_up=warm_up)
                else:
                    part = load.sequential(server.port, overview_topics[start:start + chunk], warm_up=warm_up,
                                           path="/api/overview", make_body=overview_body)
                runs[name]["latencies"] += part["latencies"]
                runs[name]["server_ms"] += part["server_ms"]
                errors[name] += part["errors"]
    figures: dict = {name: {"n": len(r["latencies"]), "errors": errors[name], "p50": pct(r["latencies"], 50),
                            "p95": pct(r["latencies"], 95), "server_p50": pct(r["server_ms"], 50),
                            "server_p95": pct(r["server_ms"], 95)} for name, r in runs.items()}
    figures["articles"] = len(list(corpus.glob("*.txt")))
    return figures


def render_overview(figures: dict) -> str:
    ask, overview = figures["ask"], figures["overview"]
    verdict = "met" if overview["p50"] <= TARGET_P50_MS else "**not met**"
    rows = [f"| {name} | {f['n']} | {f['p50']:.2f} | {f['p95']:.2f} | {f['server_p50']:.2f} | "
            f"{f['server_p95']:.2f} | {f['errors']} |" for name, f in (("/api/ask", ask), ("/api/overview", overview))]
    return "\n".join([
        "",
        "## Overview of a topic (`/api/overview`)",
        "",
        f"One server (`qa-service serve`, 2 workers × 4 threads, no query cache) over {figures['articles']} "
        "editorials; requests one at a time over a keep-alive connection, `/api/ask` and `/api/overview` in "
        "alternating chunks of 50 in this one run. Times in ms; \"server\" is the response's `took_ms` (the "
        f"encoder's one call included). Target: p50 of `/api/overview` ≤ {TARGET_P50_MS:.0f} ms: {verdict}.",
        "",
        "| route | requests | p50 | p95 | server p50 | server p95 | errors |",
        "| --- | --- | --- | --- | --- | --- | --- |",
        *rows,
        "",
    ])


def main(argv: list[str] | None = None) -> None:

    parser = argparse.ArgumentParser(description="/api/overview beside /api/ask on a built index")
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--index", type=Path, required=True)
    parser.add_argument("--corpus", type=Path, required=True)
    parser.add_argument("-n", type=int, default=400, help="requests of each route")
    args = parser.parse_args(argv)
    questions = [q for q in editorial_questions(args.data / "editorials", args.data / "squad-dev", 6000)
                 if q.endswith("?") and not q.startswith("What does the editorial")]
    with tempfile.TemporaryDirectory(prefix="qa-bench-overview-") as work:
        figures = bench_overview(args.index, args.corpus, questions[:args.n], topics(args.data, args.corpus, args.n),
                                 Path(work))
    print(render_overview(figures))


if __name__ == "__main__":
    main()
