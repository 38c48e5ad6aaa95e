"""Sizes and CRC-32s of a generation's files: written into its manifest, checked before the files are trusted.

A truncated file fails to load anyway, but a flipped byte inside a vector file or a text column
loads without complaint and gives wrong scores or text silently; and a build would carry such
vectors over into the next generation. CRC-32 (zlib, ~1 GB/s) catches accidental damage of that
kind; it is no defence against someone who can write into the index folder.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable
from pathlib import Path

from .layout import MANIFEST


def _crc32(path: Path) -> int:
    crc = 0
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            crc = zlib.crc32(chunk, crc)
    return crc


def file_checksums(folder: Path) -> dict[str, list[int]]:
    """{relative path: [size in bytes, CRC-32]} of every file under `folder` except the manifest."""
    folder = Path(folder)
    return {
        path.relative_to(folder).as_posix(): [path.stat().st_size, _crc32(path)]
        for path in sorted(folder.rglob("*"))
        if path.is_file() and path.relative_to(folder).as_posix() != MANIFEST
    }


def damaged_files(folder: Path, recorded: dict, only: Iterable[str] | None = None) -> list[str]:
    """The recorded files (or those of `only`) that are missing or differ in size or checksum, with why."""
    folder = Path(folder)
    damaged = []
    for name in only if only is not None else recorded:
        path = folder / name
        if name not in recorded or not path.is_file():
            damaged.append(f"{name} missing")
        elif path.stat().st_size != recorded[name][0]:
            damaged.append(f"{name} has {path.stat().st_size} bytes, not {recorded[name][0]}")
        elif _crc32(path) != recorded[name][1]:
            damaged.append(f"{name} fails its checksum")
    return damaged
