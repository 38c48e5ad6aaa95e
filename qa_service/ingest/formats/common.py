"""What every article layout shares: the error a file that is no article raises, text cleaned of odd spaces,
paragraphs as blank-line separated blocks, the one date parser and the check of an article's url."""

from __future__ import annotations

import re
from datetime import date
from urllib.parse import urlsplit


class CorpusError(ValueError):
    """A file that is not a readable article; the message says why."""


def clean(text: str) -> str:
    """Non-breaking and odd spaces become plain spaces; runs of spaces collapse."""
    text = text.replace("\xa0", " ").replace("\u200b", "").replace("\ufeff", "")
    return re.sub(r"[ \t\f\v]+", " ", text).strip()


def blocks(lines: list[str]) -> list[str]:
    """Blank-line separated blocks, each joined into one line of text."""
    found, current = [], []
    for line in lines:
        if line.strip():
            current.append(line.strip())
        elif current:
            found.append(" ".join(current))
            current = []
    if current:
        found.append(" ".join(current))
    return [b for b in (clean(b) for b in found) if b]


def parse_iso_date(value: str, *, whole: bool = False) -> str | None:
    """The YYYY-MM-DD date a value gives, or None when it gives no real date: the project's one date parser.

    Front matter and exports may quote a date or follow it with a time ("2015-03-02T10:00"); with `whole`
    the value must be the date alone, as in API fields and form inputs.
    """
    if whole:
        match = re.fullmatch(r"(\d{4})-(\d{2})-(\d{2})", value)
    else:
        match = re.match(r"(\d{4})-(\d{2})-(\d{2})", value.strip().strip("'\""))
    if not match:
        return None
    try:
        return date(*map(int, match.groups())).isoformat()
    except ValueError:
        return None


def http_url(value: str | None) -> str | None:
    """`value` when it is an absolute http(s) URL, else None.

    An article's url becomes a link in the page and in API answers: `javascript:` or `data:` from a
    file's front matter (or an index built before this check) must never reach a reader.
    """
    value = (value or "").strip()
    try:
        parts = urlsplit(value)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc \
            or any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in value):
        return None
    return value
