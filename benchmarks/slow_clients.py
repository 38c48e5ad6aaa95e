"""/healthz and /api/ask beside connections that send nothing and connections that trickle their headers.

One server (the defaults: two workers of four threads) on a built index. Each round opens 150 connections that
send nothing and 150 that send a request line and then a header byte every 0.5 s, waits 0.5 s, then asks /healthz
and a question in turn, one at a time, each on a new connection, and closes them all; the same requests with no
such connections around give the baseline. Latencies are client-side, in ms; the first request of a round is
shown apart, as a server that makes requests wait behind such connections makes the first one wait longest.

    python -m benchmarks.slow_clients --index DIR --corpus DIR [--rounds 5] [--pairs 5]
"""

from __future__ import annotations

import argparse
import http.client
import json
import socket
import threading
import time
from contextlib import ExitStack, suppress
from pathlib import Path

from . import load
from .system import pct

SILENT = TRICKLING = 150
QUESTION = json.dumps({"question": "What did Pompeo warn about?"})


def ask(port: int, route: str) -> float:
    """Seconds until the answer of one request on a new connection (AssertionError unless 200)."""
    started = time.perf_counter()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    if route == "/api/ask":
        connection.request("POST", route, QUESTION, {"Content-Type": "application/json"})
    else:
        connection.request("GET", route)
    response = connection.getresponse()
    response.read()
    connection.close()
    assert response.status == 200, (route, response.status)
    return time.perf_counter() - started


def round_of(port: int, pairs: int, beside_clients: bool) -> dict[str, list[float]]:
    took: dict[str, list[float]] = {"/healthz": [], "/api/ask": []}
    with ExitStack() as held:
        trickling = []
        if beside_clients:
            for _ in range(SILENT):
                held.enter_context(socket.create_connection(("127.0.0.1", port), timeout=30))
            for _ in range(TRICKLING):
                sock = held.enter_context(socket.create_connection(("127.0.0.1", port), timeout=30))
                sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\nX-Slow: ")
                trickling.append(sock)
        stop = threading.Event()

        def trickle() -> None:
            while not stop.wait(0.5):
                for sock in trickling:
                    with suppress(OSError):  # closed by the server
                        sock.send(b"a")

        trickler = threading.Thread(target=trickle, daemon=True)
        trickler.start()
        try:
            time.sleep(0.5)
            for _ in range(pairs):
                for route in took:
                    took[route].append(ask(port, route))
        finally:
            stop.set()
            trickler.join(10)
    return took


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="/healthz and /api/ask beside silent and trickling connections")
    parser.add_argument("--index", type=Path, required=True)
    parser.add_argument("--corpus", type=Path, required=True)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--pairs", type=int, default=5, help="requests of each route per round")
    args = parser.parse_args(argv)
    rounds: dict[str, list[dict[str, list[float]]]] = {"alone": [], "beside": []}
    with load.serving(args.index, args.corpus) as server:
        server.wait_ready()
        for route in ("/healthz", "/api/ask"):  # warm: the first requests of a worker are not the point
            ask(server.port, route)
        for _ in range(args.rounds):
            for setting, taken in rounds.items():
                taken.append(round_of(server.port, args.pairs, beside_clients=setting == "beside"))
    print(f"| route | alone: median, max (ms) | beside {SILENT} silent + {TRICKLING} trickling: median, p95, max | "
          "the first request of each round beside them |")
    print("| --- | --- | --- | --- |")
    for route in ("/healthz", "/api/ask"):
        alone = [s * 1000 for taken in rounds["alone"] for s in taken[route]]
        beside = [s * 1000 for taken in rounds["beside"] for s in taken[route]]
        first = ", ".join(f"{taken[route][0] * 1000:.1f}" for taken in rounds["beside"])
        print(f"| {route} | {pct(alone, 50):.1f}, {max(alone):.1f} | "
              f"{pct(beside, 50):.1f}, {pct(beside, 95):.1f}, {max(beside):.1f} (n={len(beside)}) | {first} |")

if __name__ == "__main__":
    main()
