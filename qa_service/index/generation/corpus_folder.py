"""The corpus folder an index folder was built from: named in each generation's manifest, checked before a build.

An index folder holds the articles of one corpus folder. A build from another folder replaces them all
(a user who served the 266 editorials and then ran `make index` on corpus/ got one article, and the running
server switched to it without a word), so it is refused unless asked for (`qa-service index --switch-corpus`).
The folder is named by its absolute path with symbolic links resolved, so `corpus` and `./corpus/` are one.
An index built before folders were named belongs to the folder it is next built from.
"""

from __future__ import annotations

from pathlib import Path

from .layout import generations, read_current_name, read_manifest

MANIFEST_KEY = "corpus_dir"


class OtherCorpus(ValueError):
    """The index was built from another corpus folder: building from this one would replace its articles."""

    def __init__(self, index_dir: Path, built_from: str, corpus_dir: Path):
        super().__init__(f"the index in {index_dir} was built from {built_from}, not {folder_name(corpus_dir)}")
        self.built_from = built_from


def folder_name(corpus_dir: Path) -> str:
    """How a manifest names a corpus folder: its absolute path, symbolic links resolved."""
    return str(Path(corpus_dir).resolve())


def built_from(index_dir: Path) -> str | None:
    """The corpus folder the index folder's newest readable generation (the served one, unless its manifest
    is damaged) was built from; None when there is no index or it was built before folders were named."""
    served = read_current_name(index_dir)
    candidates = [Path(index_dir) / served] if served else []
    for generation in [*candidates, *generations(index_dir)]:
        try:
            manifest = read_manifest(generation)
        except (OSError, ValueError):
            continue
        folder = manifest.get(MANIFEST_KEY) if isinstance(manifest, dict) else None
        return folder if isinstance(folder, str) else None
    return None


def check_corpus_folder(index_dir: Path, corpus_dir: Path) -> None:
    """OtherCorpus when the index in `index_dir` was built from a corpus folder other than `corpus_dir`."""
    folder = built_from(index_dir)
    if folder is not None and folder != folder_name(corpus_dir):
        raise OtherCorpus(index_dir, folder, corpus_dir)
