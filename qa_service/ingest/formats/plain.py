"""Plain text articles: a title line, an optional date line (`Date: 2015-03-02`), then paragraphs."""

from __future__ import annotations

import re

from .common import CorpusError, blocks, clean, parse_iso_date

DATE_LINE = re.compile(r"^Date\s*:\s*(\S.*)$", re.IGNORECASE)


def parse_plain(lines: list[str]) -> dict:
    """Title line, then optionally a date line, then paragraphs.

    The date line may follow the title directly or after a blank line. One that does not hold a real
    date makes the file unreadable, with the reason: a typo must not leave the article silently undated.
    """
    nonblank = [i for i, line in enumerate(lines) if line.strip()]
    published = None
    if len(nonblank) > 1:
        match = DATE_LINE.match(clean(lines[nonblank[1]]))
        if match:
            published = parse_iso_date(match.group(1))
            if not published:
                raise CorpusError(f"the date line {clean(lines[nonblank[1]])[:60]!r} holds no date (YYYY-MM-DD)")
            lines = lines[:nonblank[1]] + [""] + lines[nonblank[1] + 1:]
    found = blocks(lines)
    if not found:
        return {"title": "", "paragraphs": []}
    return {"title": found[0], "date": published, "paragraphs": found[1:]}
