"""Follow-ups against openers over HTTP: what reading a question against the conversation costs.

Each conversation of editorial-conversations/ is asked turn by turn through `/api/ask` of one
served `qa-service serve`, each turn with the earlier ones as history the way the chat page
sends them (question, answer shown, its article and paragraph). Openers and follow-ups are
interleaved as the conversations order them, so the machine's drift favours neither; the
figures are medians of several rounds.

    python -m benchmarks.conversations --data ../shared/data [--index DIR]
"""

from __future__ import annotations

import argparse
import http.client
import json
import statistics
import tempfile
import time
from pathlib import Path

from qa_service.config import Config
from qa_service.evaluation.conversations import load_conversations
from qa_service.index.embedder import load_embedder
from qa_service.index.generation.build import build_index, is_up_to_date
from qa_service.service import history_turn

from . import load
from .system import pct


def ask_conversations(port: int, conversations, rounds: int) -> dict:
    """Client-side and server-side (took_ms) times of openers and follow-ups, in ms, over `rounds` rounds."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Content-Type": "application/json"}
    times: dict[str, dict[str, list[float]]] = {kind: {"client": [], "server": []} for kind in ("opener", "follow-up")}
    for number in range(rounds + 1):  # the first round warms up and is not counted
        for conversation in conversations:
            history: list[dict] = []
            for turn in conversation.turns:
                body = json.dumps({"question": turn.question, "history": history})
                started = time.perf_counter()
                connection.request("POST", "/api/ask", body, headers)
                response = connection.getresponse()
                payload = json.loads(response.read())
                elapsed = (time.perf_counter() - started) * 1000
                if response.status != 200:
                    raise RuntimeError(f"/api/ask answered {response.status}: {payload}")
                if number:
                    kind = times["follow-up" if history else "opener"]
                    kind["client"].append(elapsed)
                    kind["server"].append(payload["took_ms"])
                shown = history_turn(turn.question, payload)
                sent: dict[str, object] = {"question": shown.question, "answer": shown.answer}
                if shown.article_id:
                    sent.update(article_id=shown.article_id, paragraph=shown.paragraph)
                history.append(sent)
    connection.close()
    return {kind: {"n": len(values["client"]), "p50": pct(values["client"], 50), "p95": pct(values["client"], 95),
                   "server_p50": statistics.median(values["server"])}
            for kind, values in times.items()}


def bench_conversations(index: Path, corpus: Path, conversations_file: Path, work: Path, rounds: int = 5) -> dict:
    conversations = load_conversations(conversations_file)
    env = {"QA_QUERY_CACHE": "0", "QA_CACHE_DIR": str(work / "cache")}
    with load.serving(index, corpus, workers=1, threads=1, env=env) as server:
        server.wait_ready()
        result = ask_conversations(server.port, conversations, rounds)
    result["conversations"] = len(conversations)
    result["rounds"] = rounds
    return result


def render_conversations(info: dict) -> str:
    opener, follow_up = info["opener"], info["follow-up"]
    return "\n".join([
        "## Follow-up questions",
        "",
        f"The {info['conversations']} conversations of `editorial-conversations/`, each turn through `/api/ask` of one "
        "`qa-service serve` (1 worker, 1 thread, no query cache) over the editorials, with the earlier turns as "
        "history as the chat page sends them; openers and follow-ups interleaved as the conversations order them, "
        f"{info['rounds']} rounds after one to warm up (`python -m benchmarks.conversations`).",
        "",
        "| turns | n | client p50 ms | client p95 ms | server p50 ms (`took_ms`) |",
        "| --- | --- | --- | --- | --- |",
        *(f"| {name} | {row['n']} | {row['p50']:.2f} | {row['p95']:.2f} | {row['server_p50']:.2f} |"
          for name, row in (("openers", opener), ("follow-ups", follow_up))),
        "",
        f"A follow-up's p50 is {follow_up['p50'] - opener['p50']:+.2f} ms from an opener's (target: within +1.5 ms); "
        "each turn is one encoder call either way.",
        "",
    ])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--index", type=Path, help="index of the editorials (built there if missing or stale)")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    corpus = args.data / "editorials"
    with tempfile.TemporaryDirectory(prefix="qa-bench-conv-") as scratch:
        work = Path(scratch)
        index = args.index or work / "index"
        embedder = load_embedder(Config())
        if not is_up_to_date(index, corpus, embedder.name, embedder.encoder, Config().corpus_limits):
            build_index(corpus, index, embedder)
        info = bench_conversations(index, corpus, args.data / "editorial-conversations" / "conversations.jsonl",
                                   work, args.rounds)
    print(render_conversations(info))


if __name__ == "__main__":
    main()
