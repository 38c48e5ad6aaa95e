"""Bringing a newsroom's export (JSON Lines or CSV, one article per row) into the corpus, then the index.

Each good row becomes one Markdown article file (front matter: title, date, url, author), named from
its id (or its title) made file-safe. A row is refused, with its number and the reason, when a field
is missing or wrong, when its file would be over the corpus's size limit (the build would skip it), or
when its id is already in the corpus (unless `replace`) or earlier in the file. The corpus limits are
the caller's (config.corpus_limits), for the row check and the build alike.
The good rows are written and the index updated as one corpus change (corpus_change.py, as the admin
routes do): if the update fails, the corpus is put back as it was, so the corpus and the served index
never disagree, and one import or admin change runs at a time.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ..config import Config, CorpusLimits
from ..index.generation.build import BuildReport, IndexBusy, build_index
from ..index.generation.corpus_folder import check_corpus_folder
from ..ingest.article_fields import article_file
from ..ingest.corpus import CorpusError, article_id_for, parse_text
from .corpus_change import ChangeBusy, change_and_rebuild, change_lock, files_by_article

FIELDS = ("id", "title", "text", "date", "url", "author")


class ExportUnreadable(ValueError):
    """The export as a whole cannot be read (not CSV/JSON Lines, no title/text columns, unreadable)."""


@dataclass
class Refused:
    row: int
    reason: str

    def __str__(self) -> str:
        return f"row {self.row}: {self.reason}"


@dataclass
class Imported:
    row: int
    id: str
    file: str
    replaced: bool = False


@dataclass
class ImportReport:
    imported: list[Imported] = field(default_factory=list)
    refused: list[Refused] = field(default_factory=list)
    build: BuildReport | None = None

    def to_dict(self) -> dict:
        return {
            "imported": [vars(i) for i in self.imported],
            "refused": [vars(r) for r in self.refused],
            "build": self.build.to_dict() if self.build else None,
        }


def export_format(path: Path) -> str:
    """'jsonl' or 'csv', from the file name."""
    suffix = Path(path).suffix.lower()
    if suffix in (".jsonl", ".ndjson", ".json"):
        return "jsonl"
    if suffix in (".csv", ".tsv"):
        return "csv"
    raise ExportUnreadable(f"{Path(path).name}: give a .jsonl (JSON Lines) or .csv file")


def read_rows(path: Path) -> Iterator[tuple[int, dict | None, str | None]]:
    """(row number, fields, None) per row, or (row number, None, reason) for a row that is not readable.

    Rows are numbered as a person counts them: JSON Lines by line, CSV by record after the header
    (a record's quoted text may span several lines).
    """
    path = Path(path)
    kind = export_format(path)
    try:
        handle = open(path, encoding="utf-8-sig", newline="")  # noqa: SIM115 (closed by the `with` below)
    except OSError as exc:
        raise ExportUnreadable(f"cannot read {path}: {exc.strerror}") from None
    with handle:
        try:
            if kind == "jsonl":
                yield from _jsonl_rows(handle)
            else:
                yield from _csv_rows(handle, delimiter="\t" if path.suffix.lower() == ".tsv" else ",")
        except UnicodeDecodeError as exc:
            raise ExportUnreadable(f"{path.name} is not UTF-8 text (bad byte at offset {exc.start})") from None


def _jsonl_rows(handle) -> Iterator[tuple[int, dict | None, str | None]]:
    for number, line in enumerate(handle, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            yield number, None, f"not valid JSON ({exc.msg} column {exc.colno})"
            continue
        except RecursionError:
            yield number, None, "not valid JSON (nested too deeply)"
            continue
        if not isinstance(row, dict):
            yield number, None, "not a JSON object"
            continue
        yield number, row, None


def _csv_rows(handle, delimiter: str) -> Iterator[tuple[int, dict | None, str | None]]:
    csv.field_size_limit(16 * 1024 * 1024)
    reader = csv.DictReader(handle, delimiter=delimiter)
    try:
        header = [name.strip().lower() for name in (reader.fieldnames or [])]
    except csv.Error as exc:
        raise ExportUnreadable(f"not a readable CSV file ({exc})") from None
    missing = [name for name in ("title", "text") if name not in header]
    if missing:
        raise ExportUnreadable(f"the CSV header has no {' or '.join(missing)} column (it has: {', '.join(header)})")
    unknown = [name for name in header if name not in FIELDS]
    if unknown:
        raise ExportUnreadable(f"unknown CSV column(s) {', '.join(unknown)} (known: {', '.join(FIELDS)})")
    reader.fieldnames = header
    number = 0
    while True:
        number += 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield number, None, f"not readable CSV ({exc})"
            continue
        if None in row:
            yield number, None, f"{len(row[None])} more value(s) than the header has columns"
            continue
        yield number, row, None


def _text(row: dict, name: str) -> str | None:
    value = row.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if not isinstance(value, str):
        if name == "id" and isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        raise ValueError(f"{name} must be text")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(f"{name} must be valid Unicode text") from None
    return value


def article_markdown(row: dict) -> tuple[str, str]:
    """(article id, Markdown file text) for one row; ValueError with the reason when the row is wrong."""
    unknown = sorted(str(k) for k in row if k not in FIELDS)
    if unknown:
        raise ValueError(f"unknown field(s) {', '.join(unknown)} (known: {', '.join(FIELDS)})")
    url = _text(row, "url")
    title, file_text = article_file(
        _text(row, "title"), _text(row, "text"), _text(row, "date"), url.strip() if url is not None else None,
        _text(row, "author"), whole_date=False, paragraph_per_line=True,
    )
    given_id = _text(row, "id")
    return article_id_for(given_id.strip() if given_id else title), file_text


def import_export(path: Path, corpus_dir: Path, index_dir: Path | None, load_embedder: Callable | None = None, *,
                  replace: bool = False, batch_size: int = 32, progress=None,
                  lock_wait_seconds: float = 60.0, limits: CorpusLimits | None = None) -> ImportReport:
    """Write every good row of the export into the corpus, then update the index (when `index_dir` is given).

    `load_embedder()` is called only when there is something to index: a refused file costs no model load.

    Nothing is written when no row is good, nor when the index was built from another corpus folder
    (corpus_folder.OtherCorpus). If the index update fails, every file written is removed and every
    replaced file put back before the error is raised.
    """
    corpus_dir = Path(corpus_dir)
    limits = limits or CorpusLimits()
    report = ImportReport()
    planned: dict[str, tuple[int, str]] = {}
    for number, row, problem in read_rows(path):
        if problem is None and row is not None:
            try:
                article_id, text = article_markdown(row)
                parse_text(text, f"{article_id}.md")  # the file must read back as an article
                size = len(text.encode("utf-8"))
                if size > limits.max_file_bytes:  # the build would skip the file: corpus and index would differ
                    problem = (f"the article file would be {size:,} bytes, over the limit of "
                               f"{limits.max_file_bytes:,} per file (QA_MAX_FILE_BYTES)")
            except (ValueError, CorpusError) as exc:
                problem = str(exc)
        if problem is None and article_id in planned:
            problem = f"id {article_id!r} is also on row {planned[article_id][0]}"
        if problem is not None:
            report.refused.append(Refused(number, problem))
            continue
        planned[article_id] = (number, text)
    if not planned:
        return report
    corpus_dir.mkdir(parents=True, exist_ok=True)
    # Without an index, the change's lock and journal are kept in the corpus folder (as dot-files, never read).
    config = Config(corpus_dir=corpus_dir, index_dir=Path(index_dir) if index_dir is not None else corpus_dir,
                    max_file_bytes=limits.max_file_bytes, allow_outside_links=limits.allow_outside_links)

    def rebuild() -> BuildReport | None:
        if index_dir is None:
            return None
        if load_embedder is None:
            raise TypeError("updating the index needs load_embedder")
        return build_index(corpus_dir, index_dir, load_embedder(), batch_size=batch_size, progress=progress,
                           lock_held=True, limits=config.corpus_limits)

    try:
        with change_lock(config, lock_wait_seconds, "another import or article change is running",
                         build=index_dir is not None):
            if index_dir is not None:  # before the corpus is touched: its build would replace another folder's index
                check_corpus_folder(index_dir, corpus_dir)
            existing = files_by_article(corpus_dir)
            remove: list[Path] = []
            add: list[tuple[Path, str]] = []
            for article_id, (number, text) in planned.items():
                if article_id in existing and not replace:
                    names = ", ".join(p.name for p in existing[article_id])
                    report.refused.append(Refused(number, f"id {article_id!r} is in the corpus already ({names}); "
                                                          "use --replace to replace it"))
                    continue
                remove.extend(existing.get(article_id, []))
                target = corpus_dir / f"{article_id}.md"
                add.append((target, text))
                report.imported.append(Imported(number, article_id, target.name, replaced=article_id in existing))
            if report.imported:
                report.build = change_and_rebuild(config, remove, add, rebuild)
    except ChangeBusy as exc:
        raise IndexBusy(str(exc)) from None
    report.refused.sort(key=lambda r: r.row)
    return report
