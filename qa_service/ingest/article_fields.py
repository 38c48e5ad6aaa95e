"""An article given as fields (an admin JSON article, a row of a newsroom's export), checked and written once.

Both become one Markdown file with front matter (title, date, url, author) that the corpus reader parses
back (`corpus.parse_text`), so both take the same rules: a title and an author are one line of at most
`MAX_TITLE_CHARS`, a date is an ISO day, a url is http(s) without spaces or control characters. What still
differs is what each source sends, and stays with its caller: a JSON value must be a string, an export's
cell may be a number; an export's date may carry a time (`whole=False`), its text may hold one paragraph
a line.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from ..config import MAX_TITLE_CHARS, MAX_URL_CHARS
from .formats.common import parse_iso_date
from .formats.markdown import quote

CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class FieldError(ValueError):
    """A field that cannot go into an article file, with the reason ("title", "is missing")."""

    def __init__(self, field: str, reason: str):
        super().__init__(f"{field} {reason}")
        self.field = field
        self.reason = reason


def one_line(field: str, value: str) -> str:
    """`value` with its runs of white space made single spaces; refused when too long or holding control characters."""
    line = " ".join(value.split())
    if CONTROL.search(line) or len(line) > MAX_TITLE_CHARS:
        raise FieldError(field, f"must be one line of at most {MAX_TITLE_CHARS} characters")
    return line


def check_title(value: str | None) -> str:
    title = one_line("title", value or "")
    if not title.strip("'\" "):
        raise FieldError("title", "is missing")
    return title


def check_read(title: str, author: str | None) -> None:
    """The title and author an uploaded file was read with, held to the rules of fields given one by one: a
    `title:` of 5,000 characters in a Markdown upload made the article page 100,000 px wide."""
    check_title(title)
    if author:
        one_line("author", author)


def check_text(value: str | None) -> str:
    if value is None or not value.strip():
        raise FieldError("text", "is missing")
    if "\x00" in value:
        raise FieldError("text", "holds NUL characters")
    return value


def check_date(value: str, whole: bool = True) -> str:
    """The ISO day of `value`; `whole=False` also takes a date with a time after it, as exports write them."""
    day = parse_iso_date(value, whole=whole)
    if day is None:
        raise FieldError("date", f"{value.strip()[:40]!r} is not an ISO date (YYYY-MM-DD)")
    return day


def check_url(value: str) -> str:
    try:
        parts = urlsplit(value)
    except ValueError:
        parts = None
    if (parts is None or parts.scheme.lower() not in ("http", "https") or not parts.netloc
            or len(value) > MAX_URL_CHARS or any(c.isspace() for c in value) or CONTROL.search(value)):
        raise FieldError("url", f"must be an http(s) URL of at most {MAX_URL_CHARS} characters")
    return value


def article_file(title: str | None, text: str | None, date: str | None = None, url: str | None = None,
                 author: str | None = None, *, whole_date: bool = True,
                 paragraph_per_line: bool = False) -> tuple[str, str]:
    """(the title as written, the article's Markdown file) from its fields, each checked above (FieldError).

    Paragraphs are separated by blank lines; with `paragraph_per_line`, text without a blank line has a
    paragraph on each line (an export's cell).
    """
    title = check_title(title)
    body = check_text(text).replace("\r\n", "\n").replace("\r", "\n").strip("\n")
    front = [f"title: {quote(title)}"]
    front += [f"date: {check_date(date, whole=whole_date)}"] if date is not None else []
    front += [f"url: {check_url(url)}"] if url is not None else []
    author = one_line("author", author) if author is not None else None
    front += [f"author: {quote(author)}"] if author else []
    if paragraph_per_line and "\n\n" not in body:
        body = "\n\n".join(line for line in body.split("\n") if line.strip())
    return title, "---\n" + "\n".join(front) + "\n---\n\n" + body + "\n"
