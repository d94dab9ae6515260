"""The folder a retrieve writes into: private files, resumable, marked incomplete until done.

Layout: ``<cache>/<node>-<hash of study UID>/<hash of series UID>/<hash of SOP UID>.dcm``, so
no path names a patient or a UID, and a second retrieve finds the images it already has by
name. The marker file ``voxrad-retrieve.json`` says ``"state": "incomplete"`` from before the
first image is written until every listed image is present; only then ``"complete"``.
Folders are 0700 and files 0600 (this account only).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
from collections.abc import Iterable
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from voxrad.core.retrieval import MARKER_NAME, is_complete, read_marker
from voxrad.pacs.base import RetrieveResult

__all__ = [
    "MARKER_NAME",
    "check_instance",
    "instance_path",
    "is_complete",
    "present",
    "private_dir",
    "read_marker",
    "study_folder",
    "uid_key",
    "write_instance",
    "write_marker",
]

if TYPE_CHECKING:
    from pydicom import Dataset

logger = logging.getLogger(__name__)


State = Literal["incomplete", "complete"]


def uid_key(uid: str, length: int = 20) -> str:
    """A short, stable, non-reversible name for a UID (file and folder names)."""
    return hashlib.sha256(uid.encode("ascii", errors="replace")).hexdigest()[:length]


def study_folder(cache_root: Path, node_name: str, study_uid: str) -> Path:
    """Where a study retrieved from ``node_name`` is kept under ``cache_root``."""
    return cache_root / f"{node_name}-{uid_key(study_uid, 24)}"


def private_dir(path: Path) -> Path:
    """Create ``path`` (and parents) readable by this account only."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(path, 0o700)
    return path


def instance_path(folder: Path, series_uid: str, sop_uid: str) -> Path:
    return folder / uid_key(series_uid, 16) / f"{uid_key(sop_uid)}.dcm"


def present(folder: Path, instances: Iterable[tuple[str, str]]) -> set[str]:
    """SOP instance UIDs among ``(series_uid, sop_uid)`` pairs already in ``folder``."""
    return {sop for series, sop in instances if instance_path(folder, series, sop).is_file()}


def check_instance(ds: Dataset) -> str | None:
    """Why ``ds`` cannot be kept (missing identity, truncated pixels), or None when it is fine."""
    try:
        sop = str(ds.SOPInstanceUID)
        str(ds.SeriesInstanceUID)
        str(ds.SOPClassUID)
    except (AttributeError, KeyError, ValueError, TypeError):
        return "the image has no SOP instance, series or class UID"
    if not sop:
        return "the image has an empty SOP instance UID"
    try:
        pixels = ds.get("PixelData")
        meta = getattr(ds, "file_meta", None)
        syntax = meta.get("TransferSyntaxUID") if meta is not None else None
    except Exception:  # a damaged element raises anything while decoding lazily
        return "the image's pixel data cannot be read"
    if pixels is None or syntax is None or syntax.is_compressed:
        return None
    try:
        frames = int(ds.get("NumberOfFrames", 1) or 1)
        need = (
            int(ds.Rows)
            * int(ds.Columns)
            * int(ds.get("SamplesPerPixel", 1))
            * frames
            * int(ds.BitsAllocated)
            // 8
        )
    except (AttributeError, ValueError, TypeError):
        return "the image's size attributes (rows, columns, bits) are missing or invalid"
    if len(pixels) < need:
        return f"the image's pixel data is truncated ({len(pixels)} of {need} bytes)"
    return None


def write_instance(folder: Path, ds: Dataset) -> Path:
    """Write ``ds`` (with its file meta) atomically as a private file; returns the path."""
    from pydicom import dcmwrite

    path = instance_path(folder, str(ds.SeriesInstanceUID), str(ds.SOPInstanceUID))
    private_dir(path.parent)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.part")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "wb") as f:
            dcmwrite(f, ds, enforce_file_format=True)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def write_marker(
    folder: Path,
    state: State,
    *,
    node: str,
    study_uid: str,
    series_uid: str | None,
    result: RetrieveResult | None = None,
) -> None:
    """Record the folder's state (atomically, private)."""
    body: dict[str, Any] = {
        "format": "voxrad-pacs-retrieve",
        "version": 1,
        "state": state,
        "node": node,
        "study_uid": study_uid,
        "series_uid": series_uid,
        "updated": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    if result is not None:
        body.update(
            expected=result.expected,
            present=result.present,
            failed=[asdict(f) for f in result.failed],
        )
    private_dir(folder)
    path = folder / MARKER_NAME
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.part")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(body, f, indent=2)
    os.replace(tmp, path)
