"""Changing the corpus and rebuilding the index as one step, which either completes or leaves both as they were.

Used by the admin routes (web/admin.py translates its outcomes to HTTP) and by `qa-service import`
(importer.py). One change at a time across threads and processes: the change lock in the index
folder, then the build lock, are both taken before the corpus is read or changed, so no build lists
the corpus while a file is moved aside or half-added. Files leave the corpus by being renamed to a
hidden name beside them (the corpus reader skips dot-files) and are deleted only once the new index
is served; if the build fails they are put back. A journal in the index folder records the change
until it is complete or undone, so that a change whose process died half-way (kill -9, OOM, a
timeout) is finished or undone by whatever writes next: the next change, the next server start or
`qa-service index` (recover_pending); any other build refuses while the journal is there
(build.ChangePending). A file moved aside is deleted only once the change is known to be complete.
"""

from __future__ import annotations

import json
import logging
import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import TypeVar

from ..config import Config
from ..index.generation.build import IndexBusy, build_lock, file_lock, fsync_dir
from ..index.generation.corpus_folder import folder_name
from ..index.generation.layout import CHANGE_JOURNAL, read_current_name, read_manifest
from ..ingest.corpus import article_id_for, corpus_files, corpus_fingerprint

log = logging.getLogger(__name__)
Result = TypeVar("Result")

CHANGE_LOCK = ".admin.lock"
JOURNAL = CHANGE_JOURNAL  # in the index folder while a change is under way


class ChangeBusy(RuntimeError):
    """Another corpus change (or, with `building`, an index build) holds its lock: nothing was changed."""

    def __init__(self, message: str, building: bool):
        super().__init__(message)
        self.building = building


def aside(path: Path) -> Path:
    """A hidden name beside `path`: the corpus reader skips dot-files, so the file is out of the corpus."""
    return path.with_name(f".{path.name}.{uuid.uuid4().hex}.aside")


def write_atomically(path: Path, text: str, tmp: Path | None = None) -> None:
    """`text` into `path` whole or not at all: written to `tmp` (a hidden name beside it), fsynced, renamed."""
    tmp = tmp or aside(path)
    try:
        with open(tmp, "x", encoding="utf-8", newline="") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def files_by_article(corpus_dir: Path) -> dict[str, list[Path]]:
    """The corpus files of each article id (normally one each)."""
    found: dict[str, list[Path]] = {}
    if Path(corpus_dir).is_dir():
        for file in corpus_files(Path(corpus_dir)):
            found.setdefault(article_id_for(file.name), []).append(file)
    return found


@contextmanager
def change_lock(config: Config, wait_seconds: float, busy_message: str = "another article change is running",
                build: bool = True) -> Iterator[str | None]:
    """The change lock, then (with `build`) the build lock, each waited for up to `wait_seconds`; ChangeBusy after.

    Under both locks, a change a dead process left half-done is finished or undone first; the context
    gives what was done with it ("completed", "undone", or None when there was none).
    """
    index_dir = Path(config.index_dir)
    with ExitStack() as stack:
        try:
            stack.enter_context(file_lock(index_dir / CHANGE_LOCK, wait_seconds, busy_message))
        except IndexBusy as exc:
            raise ChangeBusy(str(exc), building=False) from None
        recovered = None
        if build:
            try:
                stack.enter_context(build_lock(index_dir, wait_seconds))
            except IndexBusy as exc:
                raise ChangeBusy(str(exc), building=True) from None
            recovered = recover_interrupted_change(config)
        yield recovered


def _write_journal(index_dir: Path, entry: dict) -> None:
    """The change about to be made, so that a process killed half-way can be undone (or finished) later."""
    journal = Path(index_dir) / JOURNAL
    tmp = journal.with_name(JOURNAL + ".tmp")
    with open(tmp, "w", encoding="utf-8") as handle:
        json.dump(entry, handle)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, journal)


def _names(value) -> list[str]:
    """A journal's "added" or "temp": a list of names, or one name (or null) as older journals hold it."""
    if not value:
        return []
    return [value] if isinstance(value, str) else list(value)


def recover_interrupted_change(config: Config) -> str | None:
    """Finish or undo a change whose process died half-way; what was done ("completed", "undone"), or None.

    The caller holds change_lock (a live change holds it throughout, so a journal found under the
    lock belongs to a dead process). The change is complete when it had made all its moves and writes
    (the journal says "applied") and the served index was built from the corpus as it left it: the files it
    moved aside are then deleted. Otherwise the corpus is put back as it was, which is what the served index
    holds. A corpus with files moved aside can never pass for a complete change, even if some build
    indexed it meanwhile: a change that died moving files aside is always undone. The journal names the
    corpus folder it changed, where it is recovered even by `qa-service index --switch-corpus` of another
    folder (an older journal names none, and a folder moved since is gone: the configured folder then).
    """
    journal = Path(config.index_dir) / JOURNAL
    try:
        entry = json.loads(journal.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        log.error("cannot read %s (%s); the corpus is left as it is", journal, exc)
        return None
    named = entry.get("corpus")
    corpus_dir = Path(named) if isinstance(named, str) and Path(named).is_dir() else Path(config.corpus_dir)
    moved = [(corpus_dir / hidden, corpus_dir / original) for hidden, original in entry.get("moved", [])]
    added = [corpus_dir / name for name in _names(entry.get("added"))]
    for name in _names(entry.get("temp")):
        (corpus_dir / name).unlink(missing_ok=True)
    current = read_current_name(config.index_dir)
    try:
        served = read_manifest(Path(config.index_dir) / current).get("corpus_fingerprint") if current else None
    except (OSError, ValueError):
        served = None
    aside_now = [(hidden, original) for hidden, original in moved if hidden.exists()]
    if entry.get("applied") and served is not None \
            and served == corpus_fingerprint(corpus_dir, config.corpus_limits):
        for hidden, _ in aside_now:
            hidden.unlink()
        outcome = "completed"
    else:
        # Moves come before the writes: an added file exists only once every planned move is done, and when
        # it has the name of a moved file, that file is then aside.
        if len(aside_now) == len(moved):
            for file in added:
                file.unlink(missing_ok=True)
        for hidden, original in reversed(aside_now):
            os.replace(hidden, original)
        outcome = "undone"
    journal.unlink()
    fsync_dir(corpus_dir)
    log.warning("an interrupted article change was %s: %d files it had moved aside were %s", outcome,
                len(aside_now), "deleted" if outcome == "completed" else "put back")
    return outcome


def recover_pending(config: Config, wait_seconds: float) -> str | None:
    """Before a build of the corpus: recover a change that a dead process left half-done (see above).

    What was done with it, or None when there was none; ChangeBusy when a live change holds the lock.
    """
    if not (Path(config.index_dir) / JOURNAL).exists():
        return None
    with change_lock(config, wait_seconds) as recovered:  # the lock recovers
        return recovered


def recover_at_start(config: Config, wait_seconds: float) -> None:
    """At a server worker's start: recover a change that a dead process left half-done (see above)."""
    try:
        recover_pending(config, wait_seconds)
    except ChangeBusy as exc:
        log.warning("an interrupted article change is left for the next change to recover: %s", exc)


def change_and_rebuild(config: Config, remove: list[Path], add: list[tuple[Path, str]],
                       rebuild: Callable[[], Result]) -> Result:
    """Move `remove` out of the corpus, write `add` (path, text), then `rebuild()`; on any failure put the
    corpus back as it was and re-raise.

    The caller holds change_lock, so `rebuild` builds with the build lock held (build_index(lock_held=True)).
    """
    corpus_dir = Path(config.corpus_dir)
    plan = [(aside(path), path) for path in remove]
    writes = [(path, text, aside(path)) for path, text in add]
    entry = {
        "corpus": folder_name(corpus_dir),
        "moved": [[hidden.name, original.name] for hidden, original in plan],
        "added": [path.name for path, _, _ in writes],
        "temp": [temp.name for _, _, temp in writes],
    }
    _write_journal(config.index_dir, entry)
    moved: list[tuple[Path, Path]] = []
    written: list[Path] = []
    done = False
    try:
        for hidden, path in plan:
            os.replace(path, hidden)
            moved.append((hidden, path))
        for path, text, temp in writes:
            written.append(path)
            write_atomically(path, text, temp)
        fsync_dir(corpus_dir)
        _write_journal(config.index_dir, {**entry, "applied": True})  # only now can a build make it complete
        report = rebuild()
        done = True
    finally:
        if done:
            for hidden, _ in moved:
                hidden.unlink(missing_ok=True)
        else:
            for file in written:
                file.unlink(missing_ok=True)
            for hidden, original in reversed(moved):
                os.replace(hidden, original)
        (Path(config.index_dir) / JOURNAL).unlink(missing_ok=True)
        fsync_dir(corpus_dir)
    return report
