"""What a build takes over from the generation it replaces, so that an update costs what changed.

Vectors are kept by text hash: only new or changed text is embedded again. An article whose file
bytes are unchanged is not parsed, cut into passages, split into sentences or tokenised again:
all of that is read back from the previous generation's meta.sqlite, which holds exactly what the
same code made of the same bytes. Adding one article to a few thousand therefore costs its own
embedding plus writing the new generation, not a rebuild.

Vectors missing from the previous generation are looked for in the older generations the folder keeps
(layout.prune): after `qa-service index --switch-corpus` the previous generation holds another corpus
folder's articles, and switching back then embeds nothing.

Anything unreadable or made differently (another model, encoder or index format) is simply not
taken over; the build then does the work itself.
"""

from __future__ import annotations

import sqlite3
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ...ingest.corpus import Article
from ..passages import CutArticle, Passage, Sentence
from .integrity import damaged_files
from .layout import META, PASSAGE_VECTORS, SENTENCE_VECTORS, SENTENCE_VOICE, open_meta, read_manifest


class VectorPool:
    """Vectors by text hash: the previous generation's rows, then whatever the build embeds."""

    def __init__(self, dimension: int):
        self.dimension = dimension
        self._row: dict[str, int] = {}
        self._blocks: list[np.ndarray] = []
        self._size = 0

    def __contains__(self, text_hash: str) -> bool:
        return text_hash in self._row

    def add(self, hashes: Sequence[str], vectors: np.ndarray) -> None:
        if len(hashes) != len(vectors):
            raise ValueError(f"{len(hashes)} hashes for {len(vectors)} vectors")
        for offset, text_hash in enumerate(hashes):
            self._row.setdefault(text_hash, self._size + offset)
        self._blocks.append(np.asarray(vectors, dtype=np.float32).reshape(-1, self.dimension))
        self._size += len(hashes)

    def take(self, hashes: Sequence[str]) -> np.ndarray:
        """The vectors of these texts as one float32 array, in order; every hash must be in the pool."""
        if not self._blocks:
            return np.zeros((0, self.dimension), dtype=np.float32)
        everything = np.concatenate(self._blocks) if len(self._blocks) > 1 else self._blocks[0]
        self._blocks = [everything]
        rows = np.fromiter(map(self._row.__getitem__, hashes), dtype=np.int64, count=len(hashes))
        return everything[rows]


CARRIED_FILES = (META, PASSAGE_VECTORS, SENTENCE_VECTORS)  # what vectors and counts are read from
CARRIED_CUT_FILES = (SENTENCE_VOICE,)  # and, from a generation of this very format, the cut articles


@dataclass
class Carryover:
    vectors: VectorPool
    article_hashes: dict[str, str] = field(default_factory=dict)  # article id -> content hash
    passage_keys: set[tuple[str, str]] = field(default_factory=set)  # (article id, passage hash)
    cut: dict[str, CutArticle] = field(default_factory=dict)  # by article id

    def known_files(self) -> dict[tuple[str, str], Article]:
        """(file name, content hash) -> article, for `corpus.load_corpus`.

        The file name is part of the key because its suffix decides how the bytes are read (a saved
        page as .txt is raw markup, as .html its article text).
        """
        return {(c.article.source, c.article.content_hash): c.article for c in self.cut.values()}

    def cut_article(self, article: Article) -> CutArticle | None:
        """The previous cut of this very article (same file name and bytes, so the same parse), if there is one."""
        cut = self.cut.get(article.id)
        same_file = cut is not None and (cut.article.source, cut.article.content_hash) == \
            (article.source, article.content_hash)
        return cut if same_file else None

    def forget_parses(self) -> None:
        """Parse, cut and tokenise every file again (`qa-service index --force`); vectors are still reused,
        being kept by the hash of the very text they encode."""
        self.cut = {}


def _same_vectors(manifest: dict, encoder: str, dimension: int) -> bool:
    """The generation's vectors are those this encoder gives (older manifests name the backend only)."""
    return manifest.get("encoder", manifest.get("backend")) == encoder and manifest.get("dimension") == dimension


def read_carryover(generation_dir: Path | None, *, model: str, encoder: str, dimension: int, index_format: int,
                   vector_formats: tuple[int, ...]) -> Carryover:
    """Everything reusable from `generation_dir` for a build with this model, encoder and format.

    Vectors are taken over only from the same model run by the same encoder (backend and export
    recipe): int8 and fp32 vectors of one text differ slightly, so do two int8 recipes, and a
    question is always compared with vectors of its own encoder.
    """
    if generation_dir is None:
        return Carryover(VectorPool(dimension))
    try:
        manifest = read_manifest(generation_dir)
        if manifest.get("model") != model or manifest.get("format") not in vector_formats:
            return Carryover(VectorPool(dimension))
        if "files" in manifest and damaged_files(generation_dir, manifest["files"], CARRIED_FILES):
            return Carryover(VectorPool(dimension))  # never carry damage into the next generation
        db = open_meta(generation_dir)
        try:
            carry = Carryover(VectorPool(dimension),
                              article_hashes=dict(db.execute("SELECT id, content_hash FROM articles")),
                              passage_keys=set(db.execute("SELECT article_id, hash FROM passages")))
            if _same_vectors(manifest, encoder, dimension):
                for table, file in (("passages", PASSAGE_VECTORS), ("sentences", SENTENCE_VECTORS)):
                    hashes = [h for (h,) in db.execute(f"SELECT hash FROM {table} ORDER BY row")]
                    carry.vectors.add(hashes, np.load(generation_dir / file))
            if manifest.get("format") == index_format \
                    and not damaged_files(generation_dir, manifest.get("files") or {}, CARRIED_CUT_FILES):
                carry.cut = _cut_articles(db, np.load(generation_dir / SENTENCE_VOICE))
        finally:
            db.close()
        return carry
    except (OSError, ValueError, sqlite3.Error, KeyError):
        return Carryover(VectorPool(dimension))


def take_older_vectors(pool: VectorPool, generation_dirs: Iterable[Path], wanted: set[str], *, model: str,
                       encoder: str, vector_formats: tuple[int, ...]) -> None:
    """Add to `pool` the vectors of the `wanted` text hashes that older generations hold, newest first.

    Only generations of this model and encoder whose files pass their checksums are read, and of their
    vector files only the rows wanted (memory-mapped): a build that adds one article reads the older
    generations' text hashes, not their vectors.
    """
    wanted = {h for h in wanted if h not in pool}
    for generation in generation_dirs:
        if not wanted:
            return
        try:
            manifest = read_manifest(generation)
            if manifest.get("model") != model or manifest.get("format") not in vector_formats \
                    or not _same_vectors(manifest, encoder, pool.dimension):
                continue
            if "files" in manifest and damaged_files(generation, manifest["files"], (META,)):
                continue
            db = open_meta(generation)
            try:
                found = {table: [(row, h) for row, h in db.execute(f"SELECT row, hash FROM {table}") if h in wanted]
                         for table in ("passages", "sentences")}
            finally:
                db.close()
            if not any(found.values()):
                continue
            vector_files = (("passages", PASSAGE_VECTORS), ("sentences", SENTENCE_VECTORS))
            if "files" in manifest and damaged_files(generation, manifest["files"], [f for _, f in vector_files]):
                continue  # never carry damage into the next generation
            for table, file in vector_files:
                rows = [(row, h) for row, h in found[table] if h in wanted]
                if rows:
                    vectors = np.load(generation / file, mmap_mode="r")
                    pool.add([h for _, h in rows], np.array(vectors[[row for row, _ in rows]]))
                    wanted -= {h for _, h in rows}
        except (OSError, ValueError, sqlite3.Error, IndexError):
            continue


def take_older_cuts(generation_dirs: Iterable[Path], articles: Sequence[Article],
                    index_format: int) -> dict[str, CutArticle]:
    """The cuts older generations of this very format hold of `articles` (same file name and bytes), newest first.

    A corpus folder switched back to, or an article put back, is then not read, cut, tagged and voiced again:
    only those articles' rows are read, so a build that adds a new article pays a few small queries.
    """
    wanted = {a.id: (a.source, a.content_hash) for a in articles}
    found: dict[str, CutArticle] = {}
    for generation in generation_dirs:
        if not wanted:
            break
        try:
            manifest = read_manifest(generation)
            if manifest.get("format") != index_format \
                    or damaged_files(generation, manifest.get("files") or {}, (META, *CARRIED_CUT_FILES)):
                continue
            db = open_meta(generation)
            try:
                cuts = _cut_articles(db, np.load(generation / SENTENCE_VOICE, mmap_mode="r"), only=list(wanted))
            finally:
                db.close()
        except (OSError, ValueError, sqlite3.Error, IndexError):
            continue
        for article_id, cut in cuts.items():
            if (cut.article.source, cut.article.content_hash) == wanted.get(article_id):
                found[article_id] = cut
                del wanted[article_id]
    return found


def _cut_articles(db: sqlite3.Connection, voices: np.ndarray, only: list[str] | None = None) -> dict[str, CutArticle]:
    """The cut articles a generation holds (all, or those of `only`), as the same code made them of the same bytes."""
    # One query shape for both: a table of the article ids wanted, or every article.
    db.execute("CREATE TEMP TABLE IF NOT EXISTS wanted (id TEXT PRIMARY KEY)")
    db.execute("DELETE FROM wanted")
    db.executemany("INSERT OR IGNORE INTO wanted VALUES (?)",
                   [(i,) for i in only] if only is not None else db.execute("SELECT id FROM articles").fetchall())
    paragraphs: dict[str, list[str]] = defaultdict(list)
    for article_id, text in db.execute("SELECT article_id, text FROM paragraphs WHERE article_id IN wanted "
                                       "ORDER BY article_id, number"):
        paragraphs[article_id].append(text)
    sentences: dict[int, list[Sentence]] = defaultdict(list)
    for row, passage_row, *sentence in db.execute(
            "SELECT s.row, s.passage_row, s.start, s.end, s.hash, s.terms, s.clues, s.entities, s.entity_labels "
            "FROM sentences s JOIN passages p ON p.row = s.passage_row WHERE p.article_id IN wanted ORDER BY s.row"):
        sentences[passage_row].append(Sentence._make([*sentence, tuple(voices[row].tolist())]))
    passages: dict[str, list] = defaultdict(list)
    for row, *passage in db.execute("SELECT row, article_id, paragraph, part, start, end, text, hash FROM passages "
                                    "WHERE article_id IN wanted ORDER BY row"):
        passages[passage[0]].append((Passage._make(passage), tuple(sentences[row])))
    cut = {}
    for article_id, title, date, url, author, source, content_hash in db.execute(
            "SELECT id, title, date, url, author, source, content_hash FROM articles WHERE id IN wanted"):
        article = Article(article_id, title, tuple(paragraphs[article_id]), date, url, author, source, content_hash)
        cut[article_id] = CutArticle(article, tuple(passages[article_id]))
    return cut
