"""Markdown articles: an optional front-matter block (title, date, url, author), headings, quoted lines."""

from __future__ import annotations

import re

from .common import CorpusError, blocks, clean, http_url, parse_iso_date

FRONT_MATTER_LINE = re.compile(r"^([A-Za-z_][\w-]*)\s*:\s*(.*)$")


def unquote(value: str) -> str:
    """A front-matter value without one pair of surrounding quotes: 'A' -> A, but 'Budget' day stays whole."""
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    return value


def quote(value: str) -> str:
    """A front-matter value that `unquote` gives back unchanged (quoted when it starts or ends with a quote)."""
    return f'"{value}"' if value[:1] in "'\"" or value[-1:] in "'\"" else value


def parse_markdown(lines: list[str]) -> dict:
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
                title = clean(heading.group(1))
            body.append("")
            continue
        body.append(re.sub(r"^>\s?", "", line))
    paragraphs = blocks(body)
    if not title and paragraphs:
        title, paragraphs = paragraphs[0], paragraphs[1:]
    return {
        "title": title,
        "date": parse_iso_date(meta.get("date", "")),
        "url": http_url(meta.get("url")),
        "author": meta.get("author") or None,
        "paragraphs": paragraphs,
    }
