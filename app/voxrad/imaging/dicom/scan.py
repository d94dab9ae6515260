"""Scan sources for DICOM headers: every file either yields frames or a skip reason."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from pydicom.errors import InvalidDicomError

from voxrad.core.study import PatientIdentity, SkippedFile
from voxrad.imaging.dicom.headers import (
    FrameHeader,
    HeaderValues,
    NotAnImageError,
    frames_from_dataset,
    patient_identity,
    read_dataset,
)
from voxrad.imaging.progress import CancelToken, ProgressCallback, check_cancel, report
from voxrad.imaging.sources import FileSource, Source

logger = logging.getLogger(__name__)

DICOMDIR_SOP_CLASS = "1.2.840.10008.1.3.10"


@dataclass
class DicomScan:
    frames: list[FrameHeader] = field(default_factory=list)
    skipped: list[SkippedFile] = field(default_factory=list)
    identity: PatientIdentity | None = None


def scan_sources(
    sources: list[Source],
    *,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> DicomScan:
    """Read the header of every source; unreadable ones are skipped with a reason."""
    out = DicomScan()
    values = HeaderValues()
    total = len(sources)
    for n, source in enumerate(sources):
        if n % 16 == 0:
            check_cancel(cancel)
            report(progress, n, total, "scanning")
        try:
            ds, offset = read_dataset(source)
            if (
                str(ds.get("SOPClassUID", "")) == DICOMDIR_SOP_CLASS
                or "DirectoryRecordSequence" in ds
            ):
                continue  # an index of the folder we are already walking
            frames = frames_from_dataset(source, ds, offset, values)
        except InvalidDicomError:
            out.skipped.append(SkippedFile(source.name, "not a DICOM file"))
            continue
        except NotAnImageError as exc:
            out.skipped.append(SkippedFile(source.name, str(exc)))
            continue
        except PermissionError:
            out.skipped.append(SkippedFile(source.name, "no permission to read this file"))
            continue
        except (OSError, EOFError) as exc:
            out.skipped.append(SkippedFile(source.name, f"could not be read ({exc})"))
            continue
        except Exception as exc:  # pydicom raises many types on damaged headers
            logger.debug("header parse failed for %s", source.name, exc_info=True)
            out.skipped.append(
                SkippedFile(
                    source.name, f"damaged DICOM header ({type(exc).__name__}: {exc})"[:300]
                )
            )
            continue
        if out.identity is None:
            out.identity = patient_identity(ds)
        out.frames.extend(frames)
    report(progress, total, total, "scanning")
    return out


def is_dicomdir(path: Path) -> bool:
    """True for a DICOMDIR media index, whatever the file is called."""
    if path.name.upper() == "DICOMDIR":
        return True
    try:
        with open(path, "rb") as fp:
            head = fp.read(1024)
    except OSError:
        return False
    # The meta header names the SOP class near the start: cheap to look for.
    return head[128:132] == b"DICM" and DICOMDIR_SOP_CLASS.encode() in head


def dicomdir_sources(path: Path) -> tuple[list[Source], list[SkippedFile]]:
    """Files that a DICOMDIR references, resolved against its folder, and those missing.

    Reads the directory records directly (pydicom's FileSet stages into a temporary folder,
    which a read-only viewer has no need for). An unreadable DICOMDIR falls back to scanning
    its folder, so a damaged index never hides the images beside it.
    """
    from pydicom import dcmread

    from voxrad.imaging.sources import list_sources

    root = path.parent
    try:
        ds = dcmread(path, force=True)
        records = ds.DirectoryRecordSequence
    except Exception as exc:
        logger.info("DICOMDIR unreadable, scanning its folder instead: %s", type(exc).__name__)
        return [s for s in list_sources(root) if Path(s.name) != path], []
    out: list[Source] = []
    missing: list[SkippedFile] = []
    for record in records:
        file_id = record.get("ReferencedFileID")
        if not file_id:
            continue
        parts = [file_id] if isinstance(file_id, str) else list(file_id)
        resolved = _resolve_case(root, [str(p) for p in parts])
        if resolved.is_file():
            out.append(FileSource(str(resolved)))
        else:
            missing.append(SkippedFile(str(resolved), "listed in the DICOMDIR but not found"))
    if not out and not missing:
        missing.append(SkippedFile(str(path), "the DICOMDIR lists no image files"))
    return out, missing


def _resolve_case(root: Path, parts: list[str]) -> Path:
    """DICOMDIR names are upper case; media copied to Linux often are not."""
    current = root
    for part in parts:
        candidate = current / part
        if not candidate.exists() and current.is_dir():
            matches = [c for c in current.iterdir() if c.name.upper() == part.upper()]
            candidate = matches[0] if matches else candidate
        current = candidate
    return current
