"""The on-disk format of an index folder and its generations: names, format numbers, the schema, shared reads.

    CURRENT            name of the generation readers should use (replaced atomically)
    gen-000007/        one complete generation (see embeddings/README.md)
    gen-000008.partial a generation being written; never read, removed by the next build
    .build.lock        held by the one build (or publish) allowed at a time
    .admin-change.json the journal of an article change under way (corpus_change.py); a build that finds
                       it without the change's locks refuses, since the corpus is then half-changed

A generation holds MANIFEST, META (schema.sql), the two vector files, the FAISS index, the BM25
index (lexical.py) and the sentence terms (lexical.SentenceTerms.FILE). build.py writes them;
read.py and carryover.py read them, through the names and queries here. A finished generation is put in
place by the writes at the end, shared by build.py and publish.py so that a copied generation is switched in
exactly as a built one.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
from importlib import resources
from pathlib import Path

# 2: sentence term postings (sentence_terms.npz) beside the BM25 index; 3: sentence terms in meta.sqlite;
# 4: every file's size and CRC-32 in the manifest; 5: `clues` and `n_terms` on sentences; 6: sentence vectors
# pooled from their passage's encoding, kept under passages.sentence_key (older sentence vectors are not reused);
# 7: each sentence's named entities (entities.py), its voice (voice.py, SENTENCE_VOICE) and the key of its text
# (an answer sent back without its article)
FORMAT = 7
FORMAT_CHANGES = {7: "each sentence now carries its named entities and the words of its voice"}  # why rebuilt
FIRST_FORMAT_EXPLAINED = 7  # formats before it are rebuilt with a plain "written by an earlier version"
KEEP_OLD_GENERATIONS = 2  # besides the served one: what a reader falls back to when the served one is damaged
VECTOR_FORMATS = (1, 2, 3, 4, 5, 6, 7)  # generations whose stored vectors a new build may reuse
CURRENT = "CURRENT"
LOCK = ".build.lock"
CHANGE_JOURNAL = ".admin-change.json"
MANIFEST = "manifest.json"
META = "meta.sqlite"
PASSAGE_VECTORS = "passages.npy"
SENTENCE_VECTORS = "sentences.npy"
SENTENCE_VOICE = "sentence_voice.npy"  # voice.VOICE of each sentence row
DENSE = "dense.faiss"
LEXICAL = "lexical"

# The queries both readers of meta.sqlite (read.py's Snapshot and carryover.py) make of it.
PARAGRAPHS_IN_ORDER = "SELECT article_id, text FROM paragraphs ORDER BY article_id, number"


def schema() -> str:
    """meta.sqlite's tables (schema.sql, packaged with the code)."""
    return resources.files(__package__).joinpath("schema.sql").read_text(encoding="utf-8")


def generation_name(number: int) -> str:
    return f"gen-{number:06d}"


def read_current_name(index_dir: Path) -> str | None:
    try:
        return (Path(index_dir) / CURRENT).read_text().strip() or None
    except (OSError, UnicodeDecodeError):  # missing, unreadable or garbled: no generation is named
        return None


def read_manifest(generation_dir: Path) -> dict:
    return json.loads((Path(generation_dir) / MANIFEST).read_text())


def generations(index_dir: Path) -> list[Path]:
    """Complete generations, newest first."""
    found = [p for p in Path(index_dir).glob("gen-*") if p.is_dir() and not p.name.endswith(".partial")]
    return sorted(found, key=lambda p: p.name, reverse=True)


def open_meta(generation_dir: Path, immutable: bool = False) -> sqlite3.Connection:
    """meta.sqlite, read-only (`immutable` for a served generation: no locking, no change checks)."""
    suffix = "&immutable=1" if immutable else ""
    return sqlite3.connect(f"file:{Path(generation_dir) / META}?mode=ro{suffix}", uri=True)


def next_generation_number(index_dir: Path) -> int:
    """One past every generation of the folder, unfinished ones included, so a new one never takes a used name."""
    numbers = [int(p.name.split("-")[1].split(".")[0]) for p in Path(index_dir).glob("gen-*")
               if p.name.split("-")[1].split(".")[0].isdigit()]
    return max(numbers, default=0) + 1


# --- putting a finished generation in place -------------------------------------------------------------------

def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_tree(path: Path) -> None:
    """Every file of a generation on disk before it is renamed into place: a crash then leaves it whole or absent."""
    for file in path.rglob("*"):
        if file.is_file():
            with open(file, "rb") as handle:
                os.fsync(handle.fileno())
    fsync_dir(path)


def switch_current(index_dir: Path, name: str) -> None:
    """Name `name` the served generation: written beside CURRENT, then renamed over it, so a reader sees either."""
    tmp = Path(index_dir) / (CURRENT + ".tmp")
    with open(tmp, "w") as handle:
        handle.write(name + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, Path(index_dir) / CURRENT)
    fsync_dir(Path(index_dir))


def prune(index_dir: Path, keep: str) -> None:
    """Remove unfinished generations and all but KEEP_OLD_GENERATIONS of the older ones (what readers fall back to)."""
    for partial in Path(index_dir).glob("gen-*.partial"):
        shutil.rmtree(partial, ignore_errors=True)
    old = [g for g in generations(index_dir) if g.name != keep]
    for stale in old[KEEP_OLD_GENERATIONS:]:
        shutil.rmtree(stale, ignore_errors=True)


def older_format(index_dir: Path) -> str | None:
    """Why the served generation must be rebuilt for this version's format (None: it is of this format, or none)."""
    name = read_current_name(index_dir)
    try:
        written = read_manifest(Path(index_dir) / name).get("format") if name else None
    except (OSError, ValueError):
        return None
    if not isinstance(written, int) or written >= FORMAT:
        return None
    changes = [FORMAT_CHANGES[f] for f in range(max(written + 1, FIRST_FORMAT_EXPLAINED), FORMAT + 1)]
    return (f"the index in {index_dir} was written by an earlier version (format {written}, now {FORMAT}): "
            f"rebuilding it, since {'; '.join(changes) or 'its layout changed'} (its vectors are reused)")
