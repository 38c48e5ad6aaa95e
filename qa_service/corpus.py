"""Reading editorial files into Articles.

Four layouts are understood: the Dong-A Ilbo page layout (the seed), plain text (title line,
an optional date line, blank line, paragraphs), Markdown with an optional front-matter block, and
saved web pages (.html/.htm), whose article is found by trafilatura among the navigation, share
buttons and footers of any newspaper site. A file that cannot be read is reported, never fatal:
one bad file must not stop an index build; nor is any file left out without a word (`unread_files`).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

HTML_SUFFIXES = (".html", ".htm")
CORPUS_SUFFIXES = (".txt", ".md", ".markdown", *HTML_SUFFIXES)

MONTHS = {m: i for i, m in enumerate(
    ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"], start=1)}
POSTED_LINE = re.compile(r"^Posted\s+([A-Za-z]+)\.?\s+(\d{1,2}),?\s+(\d{4})")
POSTED_ANYWHERE = re.compile(POSTED_LINE.pattern.lstrip("^"))
FRONT_MATTER_LINE = re.compile(r"^([A-Za-z_][\w-]*)\s*:\s*(.*)$")
ID_UNSAFE = re.compile(r"[^a-z0-9_-]+")
DATE_LINE = re.compile(r"^Date\s*:\s*(\S.*)$", re.IGNORECASE)


class CorpusError(ValueError):
    """A file that is not a readable article; the message says why."""


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
    """A stable, URL- and file-safe id derived from a file name (or a title)."""
    stem = Path(name).stem if Path(name).suffix.lower() in CORPUS_SUFFIXES else name
    slug = ID_UNSAFE.sub("-", stem.lower()).strip("-_")
    return slug[:120] or "article"


def _clean(text: str) -> str:
    """Non-breaking and odd spaces become plain spaces; runs of spaces collapse."""
    text = text.replace("\xa0", " ").replace("\u200b", "").replace("\ufeff", "")
    return re.sub(r"[ \t\f\v]+", " ", text).strip()


def _blocks(lines: list[str]) -> list[str]:
    """Blank-line separated blocks, each joined into one line of text."""
    blocks, current = [], []
    for line in lines:
        if line.strip():
            current.append(line.strip())
        elif current:
            blocks.append(" ".join(current))
            current = []
    if current:
        blocks.append(" ".join(current))
    return [b for b in (_clean(b) for b in blocks) if b]


def parse_iso_date(value: str) -> str | None:
    """An ISO date string, or None when the value is empty or not a real date."""
    value = value.strip().strip("'\"")
    match = re.match(r"^(\d{4})-(\d{2})-(\d{2})", value)
    if not match:
        return None
    try:
        return date(*map(int, match.groups())).isoformat()
    except ValueError:
        return None


def _parse_posted(line: str) -> str | None:
    match = POSTED_LINE.match(_clean(line))
    if not match:
        return None
    month = MONTHS.get(match.group(1)[:3].lower())
    if month is None:
        return None
    try:
        return date(int(match.group(3)), month, int(match.group(2))).isoformat()
    except ValueError:
        return None


def _parse_donga(lines: list[str]) -> dict:
    body = [line for line in lines if _clean(line) != "Go to contents"]
    nonblank = [i for i, line in enumerate(body) if line.strip()]
    title = _clean(body[nonblank[0]])
    published = None
    rest_start = nonblank[0] + 1
    for i in nonblank[1:6]:
        text = _clean(body[i])
        if text == title:
            rest_start = i + 1
        elif text.startswith("Posted"):
            published = _parse_posted(text)
            rest_start = i + 1
        elif text.startswith("Updated"):
            rest_start = i + 1
        else:
            break
    return {"title": title, "date": published, "paragraphs": _blocks(body[rest_start:])}


def unquote(value: str) -> str:
    """A front-matter value without one pair of surrounding quotes: 'A' -> A, but 'Budget' day stays whole."""
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    return value


def quote(value: str) -> str:
    """A front-matter value that `unquote` gives back unchanged (quoted when it starts or ends with a quote)."""
    return f'"{value}"' if value[:1] in "'\"" or value[-1:] in "'\"" else value


def _parse_markdown(lines: list[str]) -> dict:
    meta: dict[str, str] = {}
    if lines and lines[0].strip() == "---":
        try:
            end = next(i for i in range(1, len(lines)) if lines[i].strip() in ("---", "..."))
        except StopIteration as exc:
            raise CorpusError("front matter starts with '---' but never ends") from exc
        for line in lines[1:end]:
            match = FRONT_MATTER_LINE.match(line.strip())
            if match:
                meta[match.group(1).lower()] = unquote(match.group(2))
        lines = lines[end + 1:]
    title = meta.get("title") or ""
    body: list[str] = []
    for line in lines:
        heading = re.match(r"^#{1,6}\s+(.*)$", line.strip())
        if heading:
            if not title:
                title = _clean(heading.group(1))
            body.append("")
            continue
        body.append(re.sub(r"^>\s?", "", line))
    paragraphs = _blocks(body)
    if not title and paragraphs:
        title, paragraphs = paragraphs[0], paragraphs[1:]
    return {
        "title": title,
        "date": parse_iso_date(meta.get("date", "")),
        "url": meta.get("url") or None,
        "author": meta.get("author") or None,
        "paragraphs": paragraphs,
    }


def _parse_plain(lines: list[str]) -> dict:
    """Title line, then optionally a date line (`Date: 2015-03-02`), then paragraphs.

    The date line may follow the title directly or after a blank line. One that does not hold a real
    date makes the file unreadable, with the reason: a typo must not leave the article silently undated.
    """
    nonblank = [i for i, line in enumerate(lines) if line.strip()]
    published = None
    if len(nonblank) > 1:
        match = DATE_LINE.match(_clean(lines[nonblank[1]]))
        if match:
            published = parse_iso_date(match.group(1))
            if not published:
                raise CorpusError(f"the date line {_clean(lines[nonblank[1]])[:60]!r} holds no date (YYYY-MM-DD)")
            lines = lines[:nonblank[1]] + [""] + lines[nonblank[1] + 1:]
    blocks = _blocks(lines)
    if not blocks:
        return {"title": "", "paragraphs": []}
    return {"title": blocks[0], "date": published, "paragraphs": blocks[1:]}


def _page_facts(html: str) -> tuple[str | None, str | None]:
    """(canonical url, date of a 'Posted …' line) of a page, where it has them.

    The canonical <link> is the address without tracking parameters (og:url often has them); the
    'Posted March. 04, 2019 07:31' line is how the seed's site dates its pages, with no date meta tag.
    """
    from lxml import html as lxml_html

    try:
        tree = lxml_html.fromstring(html)
    except (ValueError, lxml_html.etree.ParserError):
        return None, None
    url = next((href.strip() for href in
                tree.xpath('//link[contains(concat(" ", normalize-space(@rel), " "), " canonical ")]/@href')
                if href.strip().lower().startswith(("http://", "https://"))), None)
    for script in tree.xpath("//script|//style"):
        script.drop_tree()
    posted = POSTED_ANYWHERE.search(_clean(tree.text_content()))
    return url, _parse_posted(posted.group(0)) if posted else None


def _parse_html(text: str) -> dict:
    """The article of a saved web page: main text (one paragraph per block), title, date, url, author.

    trafilatura tells the article from what surrounds it on any site (menus, share buttons, related
    links, comments, footers) and reads the metadata from the page's meta tags and JSON-LD.
    """
    import trafilatura

    # Dates only from where a page states them (meta tags, JSON-LD, <time>, the URL, a 'Posted' line):
    # trafilatura's extensive search would guess one from any year in the text (2019 -> 2019-01-01).
    document = trafilatura.bare_extraction(text, with_metadata=True, include_comments=False, include_tables=False,
                                           favor_precision=True,
                                           date_extraction_params={"extensive_search": False, "original_date": True})
    if document is None or not (document.text or "").strip():
        raise CorpusError("no article text found in the HTML page")
    canonical, posted = _page_facts(text)
    url = canonical or document.url
    return {
        "title": _clean(document.title or ""),
        "date": parse_iso_date(document.date or "") or posted,
        "url": url if url and url.lower().startswith(("http://", "https://")) else None,
        "author": _clean(document.author or "") or None,
        "paragraphs": [p for p in (_clean(line) for line in document.text.split("\n")) if p],
    }


def is_donga_layout(lines: list[str]) -> bool:
    head = [_clean(line) for line in lines[:12] if line.strip()]
    return bool(head) and (head[0] == "Go to contents" or any(POSTED_LINE.match(h) for h in head[:5]))


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
        fields = _parse_html(text)
    elif Path(name).suffix.lower() in (".md", ".markdown") or lines[0].strip() == "---":
        fields = _parse_markdown(lines)
    elif is_donga_layout(lines):
        fields = _parse_donga(lines)
    else:
        fields = _parse_plain(lines)
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


def load_corpus(
    corpus_dir: Path, known: Mapping[tuple[str, str], Article] | None = None
) -> tuple[list[Article], list[Problem]]:
    """All readable articles of a folder, and the files that were skipped with the reason.

    `known` maps (file name, SHA-256 of the file's bytes) to the article parsed from exactly that
    file before; such files are not parsed again (an index update reads most files unchanged).
    """
    corpus_dir = Path(corpus_dir)
    if not corpus_dir.is_dir():
        raise CorpusError(f"corpus folder not found: {corpus_dir}")
    articles: list[Article] = []
    problems: list[Problem] = []
    seen: dict[str, str] = {}
    for path in corpus_files(corpus_dir):
        try:
            raw = _read(path)
            article = (known or {}).get((path.name, hashlib.sha256(raw).hexdigest())) or parse_bytes(raw, path.name)
        except CorpusError as exc:
            problems.append(Problem(path.name, str(exc)))
            continue
        if article.id in seen:
            problems.append(Problem(path.name, f"same article id as {seen[article.id]}"))
            continue
        seen[article.id] = path.name
        articles.append(article)
    problems.extend(unread_files(corpus_dir))
    return articles, problems


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
        problems.append(Problem(path.name, reason))
    return problems


def corpus_fingerprint(corpus_dir: Path) -> str:
    """A hash of every corpus file's name and bytes: equal fingerprints mean nothing to rebuild."""
    digest = hashlib.sha256()
    for path in corpus_files(Path(corpus_dir)):
        digest.update(path.name.encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()
