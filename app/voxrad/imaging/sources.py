"""Where image bytes come from: plain files or members of a zip archive."""

from __future__ import annotations

import io
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO


@dataclass(frozen=True)
class FileSource:
    """A file on disk."""

    path: str

    def open(self) -> BinaryIO:
        return open(self.path, "rb")

    @property
    def name(self) -> str:
        return self.path

    def read_at(self, offset: int, size: int) -> bytes:
        with open(self.path, "rb") as fp:
            fp.seek(offset)
            return fp.read(size)


@dataclass(frozen=True)
class ZipMemberSource:
    """One member of a zip archive, read into memory when opened."""

    archive: str
    member: str

    def open(self) -> BinaryIO:
        with zipfile.ZipFile(self.archive) as zf:
            return io.BytesIO(zf.read(self.member))

    @property
    def name(self) -> str:
        return f"{self.archive}!{self.member}"

    def read_at(self, offset: int, size: int) -> bytes:
        with self.open() as fp:
            fp.seek(offset)
            return fp.read(size)


Source = FileSource | ZipMemberSource


def _walk_files(root: Path) -> list[Path]:
    out: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root, onerror=None):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        out.extend(Path(dirpath, f) for f in sorted(filenames) if not f.startswith("."))
    return out


def list_sources(path: Path) -> list[Source]:
    """Every candidate file under ``path``: a file, a folder (recursively) or a zip archive."""
    if path.is_dir():
        sources: list[Source] = []
        for f in _walk_files(path):
            if f.suffix.lower() == ".zip":
                sources.extend(_zip_members(f))
            else:
                sources.append(FileSource(str(f)))
        return sources
    if path.suffix.lower() == ".zip" or zipfile.is_zipfile(path):
        return list(_zip_members(path))
    return [FileSource(str(path))]


def _zip_members(path: Path) -> list[Source]:
    with zipfile.ZipFile(path) as zf:
        return [
            ZipMemberSource(str(path), info.filename)
            for info in zf.infolist()
            if not info.is_dir()
            and not Path(info.filename).name.startswith(".")
            and not info.filename.startswith("__MACOSX/")
        ]
