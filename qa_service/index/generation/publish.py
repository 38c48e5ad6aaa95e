"""Copying the served generation of an index folder into another folder, switched in there last.

The target is what replicas on another machine serve (`qa-service serve --index TARGET`); they look at its
CURRENT on every request. So the generation is copied under a `.partial` name, checked against its
manifest's sizes and CRC-32s, fsynced and renamed, and only then does CURRENT name it, exactly as a build
switches one in (layout.py): a replica sees the old generation or the new one, never half a copy.

The copy takes the target's next generation number rather than the source's name: a source folder that was
deleted and rebuilt starts again at gen-000001, which the target may hold with other contents, and the
target's newest-first order must stay the order in which generations were published (a replica whose served
generation is damaged falls back to the newest older one). The index version, which replicas report, is
the source's. The shared model export (`models/`) and the admin change files are not part of a generation
and are not copied.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from .build import file_lock
from .integrity import damaged_files
from .layout import (
    LOCK,
    MANIFEST,
    fsync_dir,
    fsync_tree,
    generation_name,
    next_generation_number,
    prune,
    read_current_name,
    read_manifest,
    switch_current,
)


class PublishRefused(ValueError):
    """Nothing was copied: the source has no generation that can be copied and checked, or the target cannot
    take one (the source folder itself, or a file)."""


class CopyDamaged(RuntimeError):
    """The copied files differ from the manifest's sizes or checksums; the target was left as it was."""


@dataclass
class PublishReport:
    version: str  # the index version replicas of the target now report
    generation: str  # its folder in the target
    target: str
    up_to_date: bool = False  # the target served this version already: nothing was copied
    files_copied: int = 0
    bytes_copied: int = 0
    seconds: float = 0.0

    def to_dict(self) -> dict:
        return asdict(self)


def publish_index(index_dir: Path, target_dir: Path, *, lock_wait_seconds: float = 600.0) -> PublishReport:
    """Make `target_dir` serve the generation `index_dir` serves, unless it does already.

    The target's build lock is held throughout, so two publishes (or a publish and a build) into one folder
    cannot interleave. The source is not locked: a build there may go on, and the generation being copied
    stays until two newer ones are built (layout.prune); a copy that loses it fails and leaves the target as
    it was.
    """
    started = time.perf_counter()
    index_dir, target_dir = Path(index_dir), Path(target_dir)
    source, manifest = _served_generation(index_dir)
    if target_dir.resolve() == index_dir.resolve():
        raise PublishRefused(f"{target_dir} is the index folder itself; publish to another folder")
    if target_dir.exists() and not target_dir.is_dir():
        raise PublishRefused(f"{target_dir} is a file, not a folder; publish to a folder")
    with file_lock(target_dir / LOCK, lock_wait_seconds, f"another publish or build is writing {target_dir}"):
        served = _served_in(target_dir, manifest)
        if served is not None:
            return PublishReport(version=manifest["version"], generation=served, target=str(target_dir),
                                 up_to_date=True, seconds=_since(started))
        name = generation_name(next_generation_number(target_dir))
        staging = target_dir / f"{name}.partial"
        staging.mkdir()
        try:
            copied = _copy_checked(source, staging, manifest, name)
            fsync_tree(staging)
            os.replace(staging, target_dir / name)
            fsync_dir(target_dir)
            switch_current(target_dir, name)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)  # the target's CURRENT still names what it named
            raise
        prune(target_dir, keep=name)
    return PublishReport(version=manifest["version"], generation=name, target=str(target_dir),
                         files_copied=len(copied), bytes_copied=sum(copied.values()), seconds=_since(started))


def _served_generation(index_dir: Path) -> tuple[Path, dict]:
    """The generation CURRENT names in `index_dir`, and its manifest; PublishRefused if there is none."""
    name = read_current_name(index_dir)
    if name is None:
        raise PublishRefused(f"no index in {index_dir} to publish; build one with `qa-service index`")
    generation = index_dir / name
    try:
        manifest = read_manifest(generation)
    except (OSError, ValueError) as exc:
        raise PublishRefused(f"{generation}: unreadable manifest ({exc}); rebuild with `qa-service index`") from None
    if not isinstance(manifest.get("files"), dict) or not manifest["files"] or "version" not in manifest:
        raise PublishRefused(f"{generation} has no file checksums to check a copy against (index format "
                             f"{manifest.get('format')}); rebuild it with `qa-service index`")
    return generation, manifest


def _served_in(target_dir: Path, manifest: dict) -> str | None:
    """The target's generation name if it serves these very files (same version, sizes and checksums), intact."""
    name = read_current_name(target_dir)
    if name is None:
        return None
    try:
        served = read_manifest(target_dir / name)
    except (OSError, ValueError):
        return None
    same = served.get("version") == manifest["version"] and served.get("files") == manifest["files"]
    return name if same and not damaged_files(target_dir / name, manifest["files"]) else None


def _copy_checked(source: Path, staging: Path, manifest: dict, name: str) -> dict[str, int]:
    """Copy the manifest's files, then check them against it; {relative path: bytes} of what was copied."""
    copied: dict[str, int] = {}
    for relative in manifest["files"]:
        destination = staging / relative
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source / relative, destination)
        copied[relative] = destination.stat().st_size
    damaged = damaged_files(staging, manifest["files"])
    if damaged:
        at_source = damaged_files(source, manifest["files"])
        where = (f"{source} is damaged ({'; '.join(at_source)}); rebuild it with `qa-service index`" if at_source
                 else f"the copy differs from {source} ({'; '.join(damaged)}); check the target's disk")
        raise CopyDamaged(f"{where}. The target is unchanged")
    # The one change to the copy: the manifest names the folder the generation has in the target.
    (staging / MANIFEST).write_text(json.dumps({**manifest, "generation": name}, indent=2) + "\n")
    copied[MANIFEST] = (staging / MANIFEST).stat().st_size
    return copied


def _since(started: float) -> float:
    return round(time.perf_counter() - started, 3)
