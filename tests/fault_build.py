"""`qa-service index` with a fake encoder and random pauses between its steps, for the fault tests.

    python -m tests.fault_build CORPUS INDEX [--seed N] [--pause SECONDS] [--lock-wait SECONDS]
        [--die-at PHASE] [--hold-file PATH] [--switch-corpus] [--import EXPORT [--die-after-moves N]]

Runs the real CLI command (`qa_service.cli index --force`) in this process, with two changes: the encoder
is tests.fakes.HashingEmbedder (builds take milliseconds, not a model load), and every step of
build_index (lock, corpus, embedding batches, FAISS, SQLite, fsync, rename, switch, prune; its phase callback) prints
`phase NAME MONOTONIC-TIME` and then pauses a random time up to --pause seconds, so that a SIGKILL
sent after a random delay lands at varied points; --die-at NAME kills the process with SIGKILL at
that phase instead. --lock-wait bounds how long the build waits for another one; --hold-file makes
the build keep the lock until the test removes that file; --switch-corpus indexes a corpus folder other than
the index's. --import runs `qa-service import EXPORT --replace`
instead, and --die-after-moves N kills it with SIGKILL once it has moved N old files aside.
"""

from __future__ import annotations

import argparse
import functools
import os
import random
import signal
import sys
import time

import numpy as np

from qa_service import cli
from qa_service.index import embedder
from qa_service.index.generation import build

from .fakes import HashingEmbedder


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus")
    parser.add_argument("index")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--pause", type=float, default=0.1)
    parser.add_argument("--lock-wait", type=float, default=600.0)
    parser.add_argument("--die-at", help="SIGKILL this process when it reaches this phase (its first time)")
    parser.add_argument("--hold-file", help="once the lock is held, wait (at most 120 s) while this file exists")
    parser.add_argument("--switch-corpus", action="store_true", help="index with --switch-corpus")
    parser.add_argument("--import", dest="export", help="import this export with --replace instead of indexing")
    parser.add_argument("--die-after-moves", type=int, help="SIGKILL after moving this many corpus files aside")
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)

    def phase(name: str) -> None:
        print(f"phase {name} {time.monotonic():.6f}", flush=True)
        if name == args.die_at:
            os.kill(os.getpid(), signal.SIGKILL)
        time.sleep(rng.uniform(0, args.pause))

    class SlowEmbedder(HashingEmbedder):
        def encode(self, texts, batch_size=32, progress=None):
            vectors = [np.zeros((0, self.dimension), dtype=np.float32)]
            for start in range(0, len(texts), 8):
                phase("encode")
                vectors.append(super().encode(texts[start:start + 8]))
            return np.concatenate(vectors)

    def build_phase(name: str) -> None:
        phase(name)
        if name == "locked":
            deadline = time.monotonic() + 120
            while args.hold_file and os.path.exists(args.hold_file) and time.monotonic() < deadline:
                time.sleep(0.05)

    # The CLI's build, told of every step (build_index's phase callback) and with this lock wait.
    setattr(build, "build_index",  # noqa: B010  (a module attribute, replaced for this one process)
            functools.partial(build.build_index, phase=build_phase, lock_wait_seconds=args.lock_wait))
    setattr(embedder, "Embedder", lambda *a, **kw: SlowEmbedder())  # noqa: B010
    setattr(embedder, "model_name_for", lambda path: SlowEmbedder.name)  # noqa: B010
    if args.die_after_moves is not None:
        real_replace, moves = os.replace, [0]

        def replace(source, target):
            if str(target).endswith(".aside"):
                if moves[0] == args.die_after_moves:
                    os.kill(os.getpid(), signal.SIGKILL)
                moves[0] += 1
            real_replace(source, target)

        setattr(os, "replace", replace)  # noqa: B010
    phase("start")
    command = ["import", args.export, "--replace"] if args.export else ["index", "--force", "--quiet"]
    if args.switch_corpus:
        command.append("--switch-corpus")
    try:
        cli.main([*command, "--corpus", args.corpus, "--index", args.index], standalone_mode=False)
    except SystemExit as exc:
        sys.exit(exc.code)
    phase("end")


if __name__ == "__main__":
    main()
