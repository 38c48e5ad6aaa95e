"""Read-only snapshots of the served index generation, reloaded when CURRENT changes.

A request takes one snapshot and uses it to the end, so a rebuild that switches generations
mid-request cannot mix two versions. Checking for a new version costs one stat() call.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from ...ingest.formats.common import http_url
from .. import heap
from ..acronyms import Definitions
from ..dense import exact_vectors, read_dense_index, scan_copy
from ..lexical import LexicalIndex, SentenceTerms
from ..passages import text_key
from .integrity import damaged_files
from .layout import (
    CURRENT,
    DENSE,
    FORMAT,
    LEXICAL,
    MANIFEST,
    PARAGRAPHS_IN_ORDER,
    PASSAGE_VECTORS,
    SENTENCE_VECTORS,
    SENTENCE_VOICE,
    generations,
    open_meta,
    read_current_name,
    read_manifest,
)

log = logging.getLogger(__name__)


class IndexUnavailable(RuntimeError):
    """No usable index: missing, corrupt, or built with another model. The message says why."""


class ModelMismatch(IndexUnavailable):
    """The index holds vectors of another model; its scores would be meaningless."""


@dataclass(frozen=True)
class ArticleInfo:
    id: str
    title: str
    date: str | None
    url: str | None
    author: str | None
    n_paragraphs: int


# Sentence vectors larger than this are memory-mapped rather than read in: an archive's (several per passage,
# 1.5 KiB each) would otherwise be copied into every worker; the page cache holds one copy for all of them.
# Below it they are read in, so that a small index's first questions find them in memory.
MAP_SENTENCE_VECTORS_BYTES = 256 * 2**20


def load_sentence_vectors(path: Path) -> np.ndarray:
    mapped = path.stat().st_size > MAP_SENTENCE_VECTORS_BYTES
    return np.load(path, mmap_mode="r" if mapped else None)


class Snapshot:
    """Everything one generation holds, in memory, immutable once loaded."""

    def __init__(self, generation_dir: Path, model_name: str | None = None):
        self.path = Path(generation_dir)
        try:
            self.manifest = read_manifest(self.path)
        except (OSError, ValueError) as exc:
            raise IndexUnavailable(f"{self.path.name}: unreadable manifest ({exc})") from exc
        if self.manifest.get("format") != FORMAT:
            raise IndexUnavailable(f"{self.path.name}: index format {self.manifest.get('format')} "
                                   f"is not {FORMAT}; rebuild with `qa-service index`")
        if model_name and self.manifest.get("model") != model_name:
            raise ModelMismatch(
                f"the index was built with model {self.manifest.get('model')!r} but the service uses "
                f"{model_name!r}; rebuild it with `qa-service index`"
            )
        self.file_stamps = self._file_stamps()  # before the check: a change after it is seen by changed_on_disk
        damaged = damaged_files(self.path, self.manifest.get("files") or {})
        if damaged:
            raise IndexUnavailable(f"{self.path.name}: damaged index files ({'; '.join(damaged)})")
        try:
            self._load()
        except IndexUnavailable:
            raise
        except Exception as exc:  # any damaged file: report it, never crash the server
            raise IndexUnavailable(f"{self.path.name}: damaged index files ({type(exc).__name__}: {exc})") from exc

    def _load(self) -> None:
        self.version: str = self.manifest["version"]
        self.model: str = self.manifest["model"]
        self.dense = read_dense_index(self.path / DENSE)
        self.dense_scan = scan_copy(self.dense)
        # The float32 passage vectors exact scores come from: the flat or HNSW index's own, or, for an
        # IVF-PQ index (codes only), the stored passage vectors memory-mapped (dense.exact_vectors).
        self.dense_vectors = exact_vectors(self.dense, self.path / PASSAGE_VECTORS)
        self.sentence_vectors = load_sentence_vectors(self.path / SENTENCE_VECTORS)
        self.sentence_voice = np.load(self.path / SENTENCE_VOICE)  # voice.VOICE of each sentence row
        self.lexical = LexicalIndex.load(self.path / LEXICAL)
        self.sentence_terms = SentenceTerms.load(self.path)
        db = open_meta(self.path, immutable=True)
        try:
            articles = db.execute(
                "SELECT id, title, date, url, author, n_paragraphs FROM articles ORDER BY date DESC, title"
            )
            # http(s) only, also from generations built before corpus.http_url checked it
            self.articles = {row[0]: ArticleInfo(row[0], row[1], row[2], http_url(row[3]), row[4], row[5])
                             for row in articles}
            self.paragraphs: dict[str, list[str]] = {}
            paragraphs = db.execute(PARAGRAPHS_IN_ORDER)
            for article_id, text in paragraphs:
                self.paragraphs.setdefault(article_id, []).append(text)
            rows = db.execute("SELECT article_id, paragraph, text FROM passages ORDER BY row").fetchall()
            self.passage_article = [r[0] for r in rows]
            self.passage_paragraph = np.array([r[1] for r in rows], dtype=np.int32)
            self.passage_text = [r[2] for r in rows]
            sentence_rows = db.execute(
                "SELECT passage_row, start, end, clues, n_terms, entity_labels, entities, text_key FROM sentences "
                "ORDER BY row").fetchall()
        finally:
            db.close()
        self.sentence_passage = np.array([r[0] for r in sentence_rows], dtype=np.int64)
        self.sentence_span = np.array([(r[1], r[2]) for r in sentence_rows], dtype=np.int64).reshape(-1, 2)
        self.sentence_clues = np.array([r[3] for r in sentence_rows], dtype=np.int64)
        self.sentence_n_terms = np.array([r[4] for r in sentence_rows], dtype=np.int64)  # distinct, title's excluded
        self.sentence_entity_labels = np.array([r[5] for r in sentence_rows], dtype=np.int64)  # entities.LABELS bits
        self.sentence_entities = [r[6] for r in sentence_rows]  # entities.encode: decoded for the few ranked
        self.sentence_text_key = np.array([r[7] for r in sentence_rows], dtype=np.int64)  # passages.text_key
        self._key_order = np.argsort(self.sentence_text_key, kind="stable")
        self._sorted_keys = self.sentence_text_key[self._key_order]
        first = np.searchsorted(self.sentence_passage, np.arange(len(rows) + 1))
        self.sentence_first = first  # passage row r owns sentence rows sentence_first[r]:sentence_first[r + 1]
        self.passage_date = [self.articles[a].date for a in self.passage_article]
        # For filters: each passage's date as YYYYMMDD (-1 when undated) and its article's number.
        self.passage_day = np.array([int(d.replace("-", "")) if d else -1 for d in self.passage_date], dtype=np.int64)
        self.article_number = {a: i for i, a in enumerate(sorted(self.articles))}
        self.passage_article_number = np.array([self.article_number[a] for a in self.passage_article], dtype=np.int64)
        self.sentence_article_number = self.passage_article_number[self.sentence_passage]
        checks = {
            "FAISS vectors": self.dense.ntotal,
            "sentence rows": len(self.sentence_vectors),
            "sentence voice rows": len(self.sentence_voice),
            "sentence term rows": self.sentence_terms.n_sentences,
            "BM25 rows": self.lexical.n_docs,
        }
        if checks["FAISS vectors"] != len(rows) or checks["BM25 rows"] != len(rows) \
                or any(checks[k] != len(sentence_rows) for k in ("sentence rows", "sentence voice rows",
                                                                  "sentence term rows")):
            raise IndexUnavailable(f"{self.path.name}: files disagree ({checks}, {len(rows)} passages)")

    @cached_property
    def acronyms(self) -> Definitions:
        """The acronyms the articles define (acronyms.py), read on first use: only an overview needs them, and
        reading every paragraph at each load would slow every worker's start on a large archive."""
        return Definitions(text for texts in self.paragraphs.values() for text in texts)

    def sentences_with_text(self, text: str) -> np.ndarray:
        """The sentence rows whose text is `text` (whitespace runs made one space), by a binary search of their keys."""
        key = text_key(text)
        first = int(np.searchsorted(self._sorted_keys, key, side="left"))
        last = int(np.searchsorted(self._sorted_keys, key, side="right"))
        return self._key_order[first:last]

    @property
    def n_passages(self) -> int:
        return len(self.passage_text)

    def _file_stamps(self) -> dict[str, tuple | None]:
        stamps: dict[str, tuple | None] = {}
        for name in [MANIFEST, *(self.manifest.get("files") or {})]:
            try:
                st = (self.path / name).stat()
                stamps[name] = (st.st_ino, st.st_size, st.st_mtime_ns)
            except OSError:
                stamps[name] = None
        return stamps

    def changed_on_disk(self) -> bool:
        """True when a file of this generation was written, replaced or removed since it was loaded."""
        return self._file_stamps() != self.file_stamps

    def damage(self) -> list[str]:
        """The generation's files that fail their size or checksum check now (see integrity.py)."""
        self.file_stamps = self._file_stamps()
        return damaged_files(self.path, self.manifest.get("files") or {})


class IndexReader:
    """Hands out the current Snapshot, loading a new one when CURRENT names another generation.

    If the named generation is damaged, the newest older generation that loads is served and
    `error` says what went wrong, so a bad build never takes the service down.
    """

    # How often the served generation's files are stat()ed for changes. A worker that loaded a generation
    # before its files were damaged would otherwise serve it on, while a worker started after the damage
    # serves an older one: /healthz alternated between versions.
    VERIFY_SECONDS = 2.0

    def __init__(self, index_dir: Path, model_name: str | None = None):
        self.index_dir = Path(index_dir)
        self.model_name = model_name
        self.error: str | None = None
        self._snapshot: Snapshot | None = None
        self._seen: tuple | None = None
        self._lock = threading.Lock()
        self._next_verify = 0.0
        self._failed: tuple | None = None  # _generation_stamp of the generation CURRENT names, if it failed to load

    def _stamp(self) -> tuple | None:
        try:
            st = (self.index_dir / CURRENT).stat()
        except FileNotFoundError:
            return None
        return (st.st_ino, st.st_mtime_ns, st.st_size)

    def snapshot(self) -> Snapshot:
        """The snapshot to answer one request with; raises IndexUnavailable when there is none."""
        stamp = self._stamp()
        if stamp != self._seen or time.monotonic() >= self._next_verify:
            served = self._snapshot
            with self._lock:
                if stamp != self._seen:
                    self._reload()
                    # Only now: a thread that sees the new stamp while another loads waits on the lock for the
                    # new generation, rather than answering from the old one (a client that was told 201
                    # must find its article on every thread).
                    self._seen = stamp
                elif time.monotonic() >= self._next_verify:
                    self._verify()
                self._next_verify = time.monotonic() + self.VERIFY_SECONDS
                if self._snapshot is not served:
                    heap.release_free_memory()  # the previous generation's arrays are freed (see heap.py)
        if self._snapshot is None:
            raise IndexUnavailable(self.error or f"no index in {self.index_dir}; run `qa-service index`")
        return self._snapshot

    def _verify(self) -> None:
        """Serve what a newly started worker would, when files changed on disk but CURRENT did not.

        The served generation damaged meanwhile: serve the newest older one that loads. The generation
        CURRENT names, which failed to load, repaired meanwhile: serve it (and drop the warning).
        """
        snapshot = self._snapshot
        if self._failed is not None and self._failed != self._generation_stamp(self._failed[0]):
            self._failed = None
            self._reload()
        elif snapshot is not None and snapshot.changed_on_disk():
            damaged = snapshot.damage()
            if damaged:
                log.error("index generation %s damaged while served (%s)", snapshot.path.name, "; ".join(damaged))
                self._snapshot = None
                self._reload()

    def _generation_stamp(self, name: str) -> tuple:
        """(name, the inode, size and mtime of every file of that generation): changes when any file is written."""
        folder = self.index_dir / name
        try:
            files = sorted(p for p in folder.rglob("*") if p.is_file())
            return name, tuple((str(p.relative_to(folder)), *self._stat(p)) for p in files)
        except OSError:
            return name, ()

    @staticmethod
    def _stat(path: Path) -> tuple:
        st = path.stat()
        return st.st_ino, st.st_size, st.st_mtime_ns

    def _reload(self) -> None:
        self._failed = None
        name = read_current_name(self.index_dir)
        if name is None and not (self.index_dir / CURRENT).exists():
            self.error = f"no index in {self.index_dir}; run `qa-service index`"
            return
        if self._snapshot is not None and self._snapshot.path.name == name:
            self.error = None  # CURRENT names the generation served (again): no older generation is served
            return
        try:
            if name is None:
                raise IndexUnavailable(f"{self.index_dir / CURRENT} is empty or unreadable")
            self._snapshot = Snapshot(self.index_dir / name, self.model_name)
            self.error = None
            return
        except ModelMismatch as exc:
            self.error, self._snapshot = str(exc), None
            log.error("index not served: %s", exc)
            return
        except IndexUnavailable as exc:
            self.error = str(exc)
            self._failed = self._generation_stamp(name) if name else None
            log.error("index generation not served: %s", exc)
        if self._snapshot is not None:
            log.warning("still serving %s (version %s)", self._snapshot.path.name, self._snapshot.version)
            return
        for older in generations(self.index_dir):
            if older.name == name:
                continue
            try:
                self._snapshot = Snapshot(older, self.model_name)
                log.warning("serving the older generation %s (version %s)", older.name, self._snapshot.version)
                return
            except IndexUnavailable:
                continue
