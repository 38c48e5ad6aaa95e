"""The Dong-A Ilbo page layout (the seed editorial): "Go to contents", the title, "Posted Nov. 22, 2018 …"."""

from __future__ import annotations

import re
from datetime import date

from .common import blocks, clean

MONTHS = {m: i for i, m in enumerate(
    ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"], start=1)}
POSTED_LINE = re.compile(r"^Posted\s+([A-Za-z]+)\.?\s+(\d{1,2}),?\s+(\d{4})")
POSTED_ANYWHERE = re.compile(POSTED_LINE.pattern.lstrip("^"))


def parse_posted(line: str) -> str | None:
    """The date of a 'Posted March. 04, 2019 07:31' line, or None."""
    match = POSTED_LINE.match(clean(line))
    if not match:
        return None
    month = MONTHS.get(match.group(1)[:3].lower())
    if month is None:
        return None
    try:
        return date(int(match.group(3)), month, int(match.group(2))).isoformat()
    except ValueError:
        return None


def is_donga_layout(lines: list[str]) -> bool:
    head = [clean(line) for line in lines[:12] if line.strip()]
    return bool(head) and (head[0] == "Go to contents" or any(POSTED_LINE.match(h) for h in head[:5]))


def parse_donga(lines: list[str]) -> dict:
    body = [line for line in lines if clean(line) != "Go to contents"]
    nonblank = [i for i, line in enumerate(body) if line.strip()]
    title = clean(body[nonblank[0]])
    published = None
    rest_start = nonblank[0] + 1
    for i in nonblank[1:6]:
        text = clean(body[i])
        if text == title:
            rest_start = i + 1
        elif text.startswith("Posted"):
            published = parse_posted(text)
            rest_start = i + 1
        elif text.startswith("Updated"):
            rest_start = i + 1
        else:
            break
    return {"title": title, "date": published, "paragraphs": blocks(body[rest_start:])}
