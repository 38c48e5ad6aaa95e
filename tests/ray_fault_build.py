"""`qa-service index --ray auto` that prints `phase embedded N` as each batch comes back from the Ray actors.

    python -m tests.ray_fault_build CORPUS INDEX

The real command and encoder (a local Ray of 2 CPUs, the real model on its actors); only the progress
callback is replaced, so that the kill -9 test can tell when Ray is at work and kill the build then.
"""

from __future__ import annotations

import sys

from qa_service import cli
from qa_service.cli import building


def main(argv: list[str]) -> None:
    corpus, index = argv

    def progress(total: int, label: str):
        return lambda n: print(f"phase {label} {n}/{total}", flush=True)

    setattr(building, "progress_bar", progress)  # noqa: B010  (a module attribute, replaced for this one process)
    cli.main(["index", "--corpus", corpus, "--index", index, "--force", "--ray", "auto"])


if __name__ == "__main__":
    main(sys.argv[1:])
