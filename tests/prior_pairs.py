"""Prior/current pairs made from the real studies in ``../shared/data``: copies of a real
series with changed header values (date, study UID, patient, frame of reference) or moved in
the patient coordinate system by a known rigid transform. Written to a test's ``tmp_path``."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pydicom
from pydicom.uid import generate_uid


def copy_series(
    files: Sequence[Path],
    dest: Path,
    *,
    rotation: np.ndarray | None = None,
    translation: Sequence[float] = (0.0, 0.0, 0.0),
    **changes: str | None,
) -> Path:
    """Copy ``files`` into ``dest`` as a new series of a new study (new study, series and
    instance UIDs), with header ``changes`` (``StudyDate="20110506"``, ``PatientID=...``).

    With ``rotation`` (3x3) and/or ``translation`` (mm), the images are moved in patient space:
    the anatomy at LPS ``x`` in the original sits at ``rotation @ x + translation`` in the copy
    (ImagePositionPatient and ImageOrientationPatient change; the pixels do not). A move gives
    the copy a new FrameOfReferenceUID unless ``changes`` names one.
    """
    dest.mkdir(parents=True, exist_ok=True)
    rot = np.eye(3) if rotation is None else np.asarray(rotation, dtype=float)
    shift = np.asarray(translation, dtype=float)
    moved = rotation is not None or bool(shift.any())
    study, series = generate_uid(), generate_uid()
    frame = changes.pop("FrameOfReferenceUID", generate_uid() if moved else "")
    for n, path in enumerate(files):
        ds = pydicom.dcmread(path)
        ds.StudyInstanceUID = changes.get("StudyInstanceUID", study)
        ds.SeriesInstanceUID = series
        ds.SOPInstanceUID = generate_uid()
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        for keyword, value in changes.items():
            if value is None:
                delattr(ds, keyword)
            else:
                setattr(ds, keyword, value)
        if frame:
            ds.FrameOfReferenceUID = frame
        if moved:
            position = np.asarray(ds.ImagePositionPatient, dtype=float)
            orientation = np.asarray(ds.ImageOrientationPatient, dtype=float).reshape(2, 3)
            ds.ImagePositionPatient = [f"{v:.6f}" for v in rot @ position + shift]
            ds.ImageOrientationPatient = [f"{v:.8f}" for v in (orientation @ rot.T).ravel()]
        ds.save_as(dest / f"{n:04d}.dcm")
    return dest
