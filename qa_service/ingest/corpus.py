"""Reading editorial files into Articles.

Four layouts are understood, each read in a module of formats/: the Dong-A Ilbo page layout (the
seed; donga.py), plain text (title line, an optional date line, blank line, paragraphs; plain.py),
Markdown with an optional front-matter block (markdown.py), and saved web pages (.html/.htm), whose
article is found by trafilatura among the navigation, share buttons and footers of any newspaper
site (html.py). A file that cannot be read is reported, never fatal: one bad file must not stop an
index build; nor is any file left out without a word (`unread_files`).
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from anyascii import anyascii

from ..config import CorpusLimits
from .formats.common import CorpusError
from .formats.donga import is_donga_layout, parse_donga
from .formats.markdown import parse_markdown
from .formats.plain import parse_plain

HTML_SUFFIXES = (".html", ".htm")
CORPUS_SUFFIXES = (".txt", ".md", ".markdown", *HTML_SUFFIXES)

ID_UNSAFE = re.compile(r"[^a-z0-9_-]+")


@dataclass(frozen=True)
class Article:
    id: str
    title: str
    paragraphs: tuple[str, ...]
    date: str | None = None
    url: str | None = None
    author: str | None = None
    source: str = ""
    content_hash: str = field(default="", compare=False)


@dataclass(frozen=True)
class Problem:
    path: str
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


def article_id_for(name: str) -> str:
    """A stable, URL- and file-safe id derived from a file name (or a title).

    Any script is transliterated to ASCII first ("한국 경제의 미래" -> "hangug-gyeongjeui-milae"), so
    ids stay readable and distinct; a name with nothing to transliterate ("...", zero-width spaces)
    gets "article-" and a hash of the name, so two such titles never share an id.
    """
    stem = Path(name).stem if Path(name).suffix.lower() in CORPUS_SUFFIXES else name
    slug = ID_UNSAFE.sub("-", anyascii(stem).lower()).strip("-_")[:120].strip("-_")
    return slug or "article-" + hashlib.sha256(stem.encode("utf-8", "surrogateescape")).hexdigest()[:10]


def parse_text(text: str, name: str) -> Article:
    """Parse one article's text; `name` (a file name) chooses the id and hints the layout.

    The article's content hash is the SHA-256 of the text as UTF-8, i.e. of the file's bytes.
    """
    if "\x00" in text:
        raise CorpusError("binary file (contains NUL bytes)")
    content_hash = hashlib.sha256(text.encode("utf-8")).hexdigest()
    text = text.replace("\r\n", "\n").replace("\r", "\n").lstrip("\ufeff")
    if not text.strip():
        raise CorpusError("empty file")
    lines = text.split("\n")
    if Path(name).suffix.lower() in HTML_SUFFIXES:
        from .formats.html import parse_html

        fields = parse_html(text)
    elif Path(name).suffix.lower() in (".md", ".markdown") or lines[0].strip() == "---":
        fields = parse_markdown(lines)
    elif is_donga_layout(lines):
        fields = parse_donga(lines)
    else:
        fields = parse_plain(lines)
    if not fields.get("paragraphs"):
        raise CorpusError("no paragraphs found (expected: title line, blank line, paragraphs)")
    return Article(
        id=article_id_for(name),
        title=fields["title"] or article_id_for(name),
        paragraphs=tuple(fields["paragraphs"]),
        date=fields.get("date"),
        url=fields.get("url"),
        author=fields.get("author"),
        source=name,
        content_hash=content_hash,
    )


def parse_file(path: Path) -> Article:
    return parse_bytes(_read(path), path.name)


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise CorpusError(f"cannot read file ({exc.strerror})") from exc


def parse_bytes(raw: bytes, name: str) -> Article:
    if b"\x00" in raw:
        raise CorpusError("binary file (contains NUL bytes)")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CorpusError(f"not UTF-8 text (bad byte at offset {exc.start})") from exc
    return parse_text(text, name)


def corpus_files(corpus_dir: Path) -> list[Path]:
    return sorted(
        p for p in Path(corpus_dir).iterdir()
        if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in CORPUS_SUFFIXES
    )


def display_name(name: str) -> str:
    """A file name as it can be printed and stored: bytes that are not UTF-8 shown as \\xNN."""
    return os.fsencode(name).decode("utf-8", "backslashreplace")


def _screen(corpus_dir: Path, path: Path, limits: CorpusLimits) -> bytes:
    """The bytes of one corpus file, or CorpusError when the file must be skipped (and why).

    A name that is not UTF-8 cannot be stored, shown or served, so it is refused with a hint rather
    than breaking the build; a symbolic link out of the corpus folder would publish whatever it
    points at; and a very large file would take the build hours and gigabytes (one 20 MB paragraph
    took 40 minutes), so each is refused and reported.
    """
    if display_name(path.name) != path.name:
        raise CorpusError("the file name is not UTF-8; rename the file")
    if path.is_symlink() and not limits.allow_outside_links:
        target = path.resolve()
        if not target.is_relative_to(Path(corpus_dir).resolve()):
            raise CorpusError("symbolic link to a file outside the corpus folder; refused "
                              "(QA_CORPUS_ALLOW_OUTSIDE_LINKS=1 allows it)")
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise CorpusError(f"cannot read file ({exc.strerror})") from exc
    if size > limits.max_file_bytes:
        raise CorpusError(f"{size:,} bytes, over the limit of {limits.max_file_bytes:,} per file "
                          "(QA_MAX_FILE_BYTES); split it or raise the limit")
    raw = _read(path)
    if len(raw) > limits.max_file_bytes:  # grew after the stat
        raise CorpusError(f"over the limit of {limits.max_file_bytes:,} bytes per file (QA_MAX_FILE_BYTES)")
    return raw


def _corpus_entries(corpus_dir: Path, limits: CorpusLimits):
    """(path, the file's bytes or None, the problem or None) for every corpus file, in name order."""
    for path in corpus_files(corpus_dir):
        try:
            yield path, _screen(corpus_dir, path, limits), None
        except CorpusError as exc:
            yield path, None, Problem(display_name(path.name), str(exc))


def _fingerprint_entry(digest, path: Path, raw: bytes | None, problem: Problem | None) -> None:
    digest.update(os.fsencode(path.name) + b"\0")
    reason = problem.reason if problem is not None else ""
    digest.update(hashlib.sha256(raw).digest() if raw is not None else b"skipped: " + reason.encode())


@dataclass
class CorpusRead:
    """One reading of a corpus folder: its articles, the skipped files, and the fingerprint of what was read."""

    articles: list[Article]
    problems: list[Problem]
    fingerprint: str


def read_corpus(
    corpus_dir: Path, known: Mapping[tuple[str, str], Article] | None = None, limits: CorpusLimits | None = None,
) -> CorpusRead:
    """All readable articles of a folder, the files that were skipped with the reason, and the fingerprint.

    The fingerprint is made from the very bytes the articles were parsed from (a file that changes
    meanwhile cannot make an index look up to date with a corpus it was not built from).
    `known` maps (file name, SHA-256 of the file's bytes) to the article parsed from exactly that
    file before; such files are not parsed again (an index update reads most files unchanged).
    """
    corpus_dir = Path(corpus_dir)
    if not corpus_dir.is_dir():
        raise CorpusError(f"corpus folder not found: {corpus_dir}")
    articles: list[Article] = []
    problems: list[Problem] = []
    seen: dict[str, str] = {}
    digest = hashlib.sha256()
    for path, raw, problem in _corpus_entries(corpus_dir, limits or CorpusLimits()):
        _fingerprint_entry(digest, path, raw, problem)
        if problem is not None:
            problems.append(problem)
            continue
        try:
            article = (known or {}).get((path.name, hashlib.sha256(raw).hexdigest()))
            if article is None or article.id != article_id_for(path.name):  # ids made by an older rule: parse again
                article = parse_bytes(raw, path.name)
        except CorpusError as exc:
            problems.append(Problem(path.name, str(exc)))
            continue
        if article.id in seen:
            problems.append(Problem(path.name, f"same article id as {seen[article.id]}"))
            continue
        seen[article.id] = path.name
        articles.append(article)
    problems.extend(unread_files(corpus_dir))
    return CorpusRead(articles, problems, digest.hexdigest())


UNREAD_HINTS = {
    ".csv": "a CSV export: bring its rows in with `qa-service import`",
    ".jsonl": "a JSON Lines export: bring its rows in with `qa-service import`",
    ".json": "JSON is not an article format (JSON Lines exports: `qa-service import`)",
}


def unread_files(corpus_dir: Path) -> list[Problem]:
    """The corpus folder's entries that are not read as articles, each with the reason.

    Dot-files are left out of this list: they are hidden on purpose (editor backups, the files an
    article change moves aside while the index is rebuilt). So are entries with an article suffix
    that `corpus_files` leaves out: why it does so is for the listing itself to report.
    """
    listed = {p.name for p in corpus_files(corpus_dir)}
    problems = []
    for path in sorted(Path(corpus_dir).iterdir()):
        if path.name in listed or path.name.startswith("."):
            continue
        if path.suffix.lower() in CORPUS_SUFFIXES and not path.is_dir():
            continue
        if path.is_dir():
            reason = "a folder: only files directly in the corpus folder are read"
        elif not path.is_file():
            reason = "not a regular file"
        else:
            suffix = path.suffix.lower()
            reason = UNREAD_HINTS.get(suffix) or (
                f"not an article file ({suffix or 'no extension'}; read are {', '.join(CORPUS_SUFFIXES)})")
        problems.append(Problem(display_name(path.name), reason))
    return problems


def load_corpus(
    corpus_dir: Path, known: Mapping[tuple[str, str], Article] | None = None, limits: CorpusLimits | None = None,
) -> tuple[list[Article], list[Problem]]:
    """All readable articles of a folder, and the files that were skipped with the reason (see read_corpus)."""
    read = read_corpus(corpus_dir, known, limits)
    return read.articles, read.problems


def corpus_fingerprint(corpus_dir: Path, limits: CorpusLimits | None = None) -> str:
    """A hash of every corpus file's name and bytes (or why it is skipped): equal fingerprints mean nothing to rebuild.

    Equal to read_corpus's fingerprint of the same files, without parsing them.
    """
    digest = hashlib.sha256()
    for entry in _corpus_entries(Path(corpus_dir), limits or CorpusLimits()):
        _fingerprint_entry(digest, *entry)
    return digest.hexdigest()
