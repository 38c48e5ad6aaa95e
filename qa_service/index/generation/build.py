"""Writing index generations: FAISS + SQLite + BM25 + manifest, switched in atomically.

The folder's layout and the generation's files are named in layout.py. A generation is written in
full under a `.partial` name, fsynced, renamed, and only then is CURRENT replaced. A build that dies
at any point leaves the previous generation serving. Vectors are reused by text hash, so only new or
changed text is ever embedded again, and unchanged articles are taken over as they were cut and
tokenised (see carryover.py). An index folder holds one corpus folder's articles: a build from another
one is refused unless asked for (corpus_folder.py).
"""

from __future__ import annotations

import gc
import json
import os
import shutil
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import numpy as np
from filelock import FileLock, Timeout

from ...config import CorpusLimits
from ...ingest.corpus import Article, Problem, corpus_fingerprint, read_corpus, unread_files
from ...text import tokenize
from .. import heap
from ..dense import make_dense_index, write_dense_index
from ..entities import tag as tag_entities
from ..lexical import build_lexical
from ..passages import Passage, Sentence, cut_article, text_key
from ..voice import voice_matrix, with_voice
from .carryover import read_carryover, take_older_cuts, take_older_vectors
from .corpus_folder import MANIFEST_KEY, check_corpus_folder, folder_name
from .integrity import damaged_files, file_checksums
from .layout import (
    CHANGE_JOURNAL,
    DENSE,
    FORMAT,
    LEXICAL,
    LOCK,
    MANIFEST,
    META,
    PASSAGE_VECTORS,
    SENTENCE_VECTORS,
    SENTENCE_VOICE,
    VECTOR_FORMATS,
    generation_name,
    generations,
    read_current_name,
    read_manifest,
    schema,
)

# Shared with publish.py (layout.py); under their old names here, which the fault tests patch (build._prune).
from .layout import fsync_dir as _fsync_dir
from .layout import fsync_tree as _fsync_tree
from .layout import next_generation_number as _next_generation_number
from .layout import prune as _prune
from .layout import switch_current as _switch_current

if TYPE_CHECKING:  # embedder.py loads the model libraries; a build is handed an encoder
    from ..embedder import Encoder

ProgressFactory = Callable[[int, str], Callable[[int], None]]
Phase = Callable[[str], None]
Result = TypeVar("Result")


class IndexBusy(RuntimeError):
    """Another build holds the index lock."""


class ChangePending(IndexBusy):
    """An article change that a dead process left half-done: the corpus must be recovered before any build."""


class EmptyCorpus(ValueError):
    """Nothing readable to index: refusing beats replacing a good index with an empty one."""


@dataclass
class BuildReport:
    version: str = ""
    up_to_date: bool = False
    articles_added: int = 0
    articles_updated: int = 0
    articles_removed: int = 0
    articles_unchanged: int = 0
    passages_added: int = 0
    passages_removed: int = 0
    passages_total: int = 0
    texts_embedded: int = 0
    paragraphs_tagged: int = 0  # read by the named-entity tagger (entities.py)
    skipped: list[Problem] = field(default_factory=list)
    seconds: float = 0.0

    def to_dict(self) -> dict:
        data = asdict(self)
        data["skipped"] = [{"path": p.path, "reason": p.reason} for p in self.skipped]
        return data


def is_up_to_date(index_dir: Path, corpus_dir: Path, model_name: str, encoder: str,
                  limits: CorpusLimits | None = None) -> bool:
    """True when the serving generation was built from exactly these corpus files, in this corpus folder, with
    this model and encoder, and its files pass their size and checksum check.

    A damaged generation is not up to date: `qa-service index` (and so `make run`) builds a good one,
    rather than leaving a server that answers 503 for ever. Nor is one that names no corpus folder (built
    before folders were named, corpus_folder.py): the next build names it, embedding nothing.
    """
    name = read_current_name(index_dir)
    if not name:
        return False
    generation = Path(index_dir) / name
    try:
        manifest = read_manifest(generation)
    except (OSError, ValueError):
        return False
    return (
        manifest.get("format") == FORMAT
        and manifest.get("model") == model_name
        and manifest.get("encoder") == encoder
        and manifest.get(MANIFEST_KEY) == folder_name(corpus_dir)
        and manifest.get("corpus_fingerprint") == corpus_fingerprint(corpus_dir, limits)
        and isinstance(manifest.get("files"), dict)
        and not damaged_files(generation, manifest["files"])
    )


@contextmanager
def file_lock(path: Path, wait_seconds: float, busy_message: str) -> Iterator[None]:
    """An exclusive lock (flock, through filelock) across threads and processes; waits up to `wait_seconds`,
    then IndexBusy."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(path, timeout=wait_seconds)
    try:
        lock.acquire()
    except Timeout:
        raise IndexBusy(busy_message) from None
    try:
        yield
    finally:
        lock.release()


def build_lock(index_dir: Path, wait_seconds: float = 600.0):
    """One build at a time: a second one waits up to `wait_seconds`, then fails clearly."""
    return file_lock(Path(index_dir) / LOCK, wait_seconds, f"another index build is running in {index_dir}")


fsync_dir = _fsync_dir  # for the admin routes, which rename files in the corpus folder


def _write_sqlite(path: Path, articles: list[Article], passages: list[Passage],
                  sentences: list[tuple[int, Sentence]]) -> None:
    db = sqlite3.connect(path)
    try:
        db.executescript(schema())
        db.executemany(
            "INSERT INTO articles VALUES (?,?,?,?,?,?,?,?)",
            [(a.id, a.title, a.date, a.url, a.author, a.source, a.content_hash, len(a.paragraphs)) for a in articles],
        )
        db.executemany(
            "INSERT INTO paragraphs VALUES (?,?,?)",
            [(a.id, n, text) for a in articles for n, text in enumerate(a.paragraphs, start=1)],
        )
        db.executemany(
            "INSERT INTO passages VALUES (?,?,?,?,?,?,?,?)",
            [(i, p.article_id, p.paragraph, p.part, p.start, p.end, p.text, p.hash) for i, p in enumerate(passages)],
        )
        db.executemany(
            "INSERT INTO sentences VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            [(i, row, s.start, s.end, s.hash, s.terms, s.clues, s.entities, s.entity_labels,
              len(set(s.terms.split())), text_key(passages[row].text[s.start:s.end]))
             for i, (row, s) in enumerate(sentences)],
        )
        db.commit()
    finally:
        db.close()


@contextmanager
def _without_cyclic_gc():
    """No cyclic garbage collection during a build.

    A build makes tens of thousands of small objects (passages, sentences, rows), which set off full
    collections over everything the process holds: in a server worker about half the cost of adding one
    article (BENCHMARKS.md, "Adding one article"). They hold no cycles; reference counting frees them anyway,
    and once they are freed, turning collection back on does not set one off.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def build_index(
    corpus_dir: Path,
    index_dir: Path,
    embedder: Encoder,
    *,
    batch_size: int = 32,
    progress: ProgressFactory | None = None,
    lock_wait_seconds: float = 600.0,
    lock_held: bool = False,
    limits: CorpusLimits | None = None,
    phase: Phase | None = None,
    reparse: bool = False,
    switch_corpus: bool = False,
    unless_up_to_date: bool = False,
) -> BuildReport:
    """Build (incrementally) a new generation from `corpus_dir` and make it the served one.

    With `lock_held`, the caller already holds build_lock(index_dir): it changed the corpus under that
    lock, so that no other build can read the corpus half-changed (the admin routes do this).
    With `reparse`, no file's earlier parse is taken over (carryover.py), only vectors.
    An index built from another corpus folder is refused (corpus_folder.OtherCorpus) unless `switch_corpus`.
    With `unless_up_to_date`, nothing is written when, once the lock is taken, the served generation is up to
    date (the report says so): a `qa-service index` that waited for another build of the same files would
    otherwise write the same generation again and push the oldest fallback out.
    `phase` is told the name of each step as it starts and NAME-done as it ends ("wait-lock", "locked",
    "read_corpus", "write_dense_index", "write_sqlite", "fsync_tree", "rename", "fsync_dir",
    "switch_current", "prune"): the kill -9 tests stop a build at each of them.
    """
    with _without_cyclic_gc():  # around the call: its objects are freed before collection is back on
        report = _build_index(corpus_dir, index_dir, embedder, batch_size=batch_size, progress=progress,
                              lock_wait_seconds=lock_wait_seconds, lock_held=lock_held, limits=limits,
                              step=_Steps(phase), reparse=reparse, switch_corpus=switch_corpus,
                              unless_up_to_date=unless_up_to_date)
    heap.release_free_memory()  # else a server worker grows with every admin build (see heap.py)
    return report


class _Steps:
    """Runs a build's steps, telling `phase` (build_index) when each starts and ends."""

    def __init__(self, phase: Phase | None):
        self.phase = phase

    def __call__(self, name: str, func: Callable[..., Result], *args, **kwargs) -> Result:
        self.tell(name)
        result = func(*args, **kwargs)
        self.tell(f"{name}-done")
        return result

    def tell(self, name: str) -> None:
        if self.phase is not None:
            self.phase(name)

    @contextmanager
    def locked(self, index_dir: Path, lock_held: bool, wait_seconds: float) -> Iterator[None]:
        if lock_held:
            yield
            return
        self.tell("wait-lock")
        with build_lock(index_dir, wait_seconds):
            self.tell("locked")
            yield


def _build_index(corpus_dir: Path, index_dir: Path, embedder: Encoder, *, batch_size: int,
                 progress: ProgressFactory | None, lock_wait_seconds: float, lock_held: bool,
                 limits: CorpusLimits | None, step: _Steps, reparse: bool, switch_corpus: bool,
                 unless_up_to_date: bool) -> BuildReport:
    started = time.perf_counter()
    index_dir = Path(index_dir)
    with step.locked(index_dir, lock_held, lock_wait_seconds):
        if not lock_held and (index_dir / CHANGE_JOURNAL).exists():
            # A live change holds the build lock until its journal is gone, so this one's process died with
            # files moved aside: indexing the corpus so would make the change look complete (and them deletable).
            raise ChangePending(f"an interrupted article change is pending in {index_dir}; run `qa-service index "
                                f"--corpus {corpus_dir} --index {index_dir}` to put the corpus back first "
                                "(nothing was built)")
        if not switch_corpus:
            check_corpus_folder(index_dir, corpus_dir)
        if unless_up_to_date and is_up_to_date(index_dir, corpus_dir, embedder.name, embedder.encoder, limits):
            served = read_manifest(index_dir / str(read_current_name(index_dir)))
            return BuildReport(version=served["version"], up_to_date=True, skipped=unread_files(corpus_dir))
        for partial in index_dir.glob("gen-*.partial"):
            shutil.rmtree(partial, ignore_errors=True)
        current = read_current_name(index_dir)
        previous = read_carryover(index_dir / current if current else None, model=embedder.name,
                                  encoder=embedder.encoder, dimension=embedder.dimension, index_format=FORMAT,
                                  vector_formats=VECTOR_FORMATS)
        if reparse:
            previous.forget_parses()
        # The corpus is listed, read and fingerprinted in one pass, under the lock: the manifest's
        # fingerprint is that of the files this generation holds, never of a listing taken earlier.
        corpus = step("read_corpus", read_corpus, corpus_dir, previous.known_files(), limits)
        articles, problems, fingerprint = corpus.articles, corpus.problems, corpus.fingerprint
        if not articles:
            raise EmptyCorpus(f"no readable articles in {corpus_dir}; the current index is unchanged")

        report = BuildReport(skipped=problems)
        for article in articles:
            if article.id not in previous.article_hashes:
                report.articles_added += 1
            elif previous.article_hashes[article.id] != article.content_hash:
                report.articles_updated += 1
            else:
                report.articles_unchanged += 1
        report.articles_removed = len(set(previous.article_hashes) - {a.id for a in articles})

        carried = [previous.cut_article(a) for a in articles]
        if not reparse and None in carried:  # perhaps in an older generation: a corpus folder switched back to
            older = take_older_cuts([g for g in generations(index_dir) if g.name != current],
                                    [a for a, cut in zip(articles, carried, strict=True) if cut is None], FORMAT)
            carried = [cut or older.get(a.id) for a, cut in zip(articles, carried, strict=True)]
        fresh = [cut_article(a, embedder.max_tokens, embedder.count_tokens)
                 for a, cut in zip(articles, carried, strict=True) if cut is None]
        # Only the articles not carried over are tagged: an added article costs its own paragraphs.
        report.paragraphs_tagged = sum(len(cut.article.paragraphs) for cut in fresh)
        tick = progress(report.paragraphs_tagged, "finding named entities") if progress and fresh else None
        tagged = iter(with_voice(tag_entities(fresh, tick)))
        cuts = [cut if cut is not None else next(tagged) for cut in carried]
        passages = [passage for cut in cuts for passage, _ in cut.passages]
        sentences = [(row, sentence) for row, (_, passage_sentences) in
                     enumerate(p for cut in cuts for p in cut.passages) for sentence in passage_sentences]
        # One encoder pass per passage not in the pool gives its vector and its sentences' (pooling.py).
        pool = previous.vectors

        def not_in_pool() -> dict[str, tuple[str, tuple[Sentence, ...]]]:
            return {p.hash: (p.text, ss) for cut in cuts for p, ss in cut.passages
                    if p.hash not in pool or any(s.hash not in pool for s in ss)}

        missing = not_in_pool()
        if missing:  # perhaps in an older generation: an article put back, a corpus folder switched back to
            take_older_vectors(pool, [g for g in generations(index_dir) if g.name != current],
                               {h for p, (_, ss) in missing.items() for h in (p, *(s.hash for s in ss))},
                               model=embedder.name, encoder=embedder.encoder, vector_formats=VECTOR_FORMATS)
            missing = not_in_pool()
        tick = progress(len(missing), "embedding") if progress and missing else None
        texts = [text for text, _ in missing.values()]
        spans = [[(s.start, s.end) for s in ss] for _, ss in missing.values()]
        passage_new, sentence_new = embedder.encode_passages(texts, spans, batch_size=batch_size, progress=tick)
        pool.add(list(missing), passage_new)
        pool.add([s.hash for _, ss in missing.values() for s in ss], sentence_new)
        report.texts_embedded = len(missing)

        passage_vectors = pool.take([p.hash for p in passages])
        sentence_vectors = pool.take([s.hash for _, s in sentences])
        new_keys = {(p.article_id, p.hash) for p in passages}
        report.passages_added = len(new_keys - previous.passage_keys)
        report.passages_removed = len(previous.passage_keys - new_keys)
        report.passages_total = len(passages)

        number = _next_generation_number(index_dir)
        name = generation_name(number)
        staging = index_dir / f"{name}.partial"
        staging.mkdir(parents=True)
        try:
            np.save(staging / PASSAGE_VECTORS, passage_vectors)
            np.save(staging / SENTENCE_VECTORS, sentence_vectors)
            np.save(staging / SENTENCE_VOICE, voice_matrix([s.voice for _, s in sentences]))
            dense = make_dense_index(passage_vectors)
            step("write_dense_index", write_dense_index, dense, staging / DENSE)
            step("write_sqlite", _write_sqlite, staging / META, articles, passages, sentences)
            title_number = {a.id: i for i, a in enumerate(articles)}
            lexical, sentence_terms = build_lexical(
                [" ".join(tokenize(a.title)) for a in articles],
                np.array([title_number[p.article_id] for p in passages], dtype=np.int64),
                [s.terms for _, s in sentences],
                np.array([row for row, _ in sentences], dtype=np.int64),
            )
            lexical.save(staging / LEXICAL)
            sentence_terms.save(staging)
            report.version = f"{number:06d}-{fingerprint[:8]}"
            manifest = {
                "format": FORMAT,
                "version": report.version,
                "generation": name,
                "model": embedder.name,
                "backend": embedder.backend,
                "encoder": embedder.encoder,
                "dimension": embedder.dimension,
                "corpus_fingerprint": fingerprint,
                MANIFEST_KEY: folder_name(corpus_dir),
                "dense_index": type(dense).__name__,
                "articles": len(articles),
                "passages": len(passages),
                "sentences": len(sentences),
                "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "files": file_checksums(staging),
            }
            (staging / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
            step("fsync_tree", _fsync_tree, staging)
            step("rename", os.replace, staging, index_dir / name)
            step("fsync_dir", _fsync_dir, index_dir)
            step("switch_current", _switch_current, index_dir, name)
        except BaseException:
            # A full disk or a permission error half-way: the served generation is untouched, and the
            # half-written one is removed now rather than holding the space until the next build.
            shutil.rmtree(staging, ignore_errors=True)
            raise
        step("prune", _prune, index_dir, keep=name)
    report.seconds = round(time.perf_counter() - started, 3)
    return report

