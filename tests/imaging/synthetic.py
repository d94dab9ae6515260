"""Synthetic DICOM series with known geometry, written with pydicom.

Voxel values are a known function of position, so a test can check both axis order and
patient geometry: ``value_at(p)`` for an LPS point ``p``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

Vec = Sequence[float]


def linear_field(p: np.ndarray) -> np.ndarray:
    """A field that linear interpolation reproduces exactly: 2x + 3y + 5z (HU-like range)."""
    p = np.asarray(p, dtype=np.float64)
    return 2.0 * p[..., 0] + 3.0 * p[..., 1] + 5.0 * p[..., 2]


def make_slice(
    *,
    position: Vec,
    row_dir: Vec = (1, 0, 0),
    col_dir: Vec = (0, 1, 0),
    rows: int = 24,
    cols: int = 32,
    pixel_spacing: tuple[float, float] = (0.5, 0.75),
    field: Callable[[np.ndarray], np.ndarray] = linear_field,
    series_uid: str,
    study_uid: str,
    instance: int = 1,
    slope: float = 1.0,
    intercept: float = -1024.0,
    modality: str = "CT",
    photometric: str = "MONOCHROME2",
    image_type: Sequence[str] = ("ORIGINAL", "PRIMARY", "AXIAL"),
    extra: dict[str, object] | None = None,
    pixels: np.ndarray | None = None,
) -> Dataset:
    """One CT slice; stored values are ``(field(p) - intercept) / slope`` at each pixel centre.

    ``pixel_spacing`` is DICOM's (row spacing, column spacing): the distance between rows
    (along ``col_dir``), then between columns (along ``row_dir``).
    """
    r = np.asarray(row_dir, float)
    c = np.asarray(col_dir, float)
    j, i = np.mgrid[0:rows, 0:cols]
    p = (
        np.asarray(position, float)
        + i[..., None] * pixel_spacing[1] * r
        + j[..., None] * pixel_spacing[0] * c
    )
    if pixels is None:
        stored = np.rint((field(p) - intercept) / slope).astype(np.int16)
    else:
        stored = pixels.astype(np.int16)
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = CTImageStorage
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    sop = generate_uid()
    ds.file_meta.MediaStorageSOPInstanceUID = sop
    ds.SOPClassUID = CTImageStorage
    ds.SOPInstanceUID = sop
    ds.StudyInstanceUID = study_uid
    ds.SeriesInstanceUID = series_uid
    ds.FrameOfReferenceUID = "1.2.826.0.1.3680043.8.498.1"
    ds.PatientName = "CANARY^PATIENT"
    ds.PatientID = "CANARY-ID-123"
    ds.Modality = modality
    ds.StudyDate, ds.StudyTime, ds.StudyID = "20260101", "120000", "1"
    ds.AccessionNumber = "CANARY-ACC-9"
    ds.SeriesNumber = 1
    ds.SeriesDescription = "synthetic"
    ds.ImageType = list(image_type)
    ds.InstanceNumber = instance
    ds.ImagePositionPatient = [float(v) for v in position]
    ds.ImageOrientationPatient = [float(v) for v in (*r, *c)]
    ds.PixelSpacing = list(pixel_spacing)
    ds.SliceThickness = 1.0
    ds.Rows, ds.Columns = rows, cols
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = photometric
    ds.BitsAllocated = 16
    ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = 1
    ds.RescaleSlope = slope
    ds.RescaleIntercept = intercept
    ds.WindowCenter = 40
    ds.WindowWidth = 400
    for key, value in (extra or {}).items():
        setattr(ds, key, value)
    ds.PixelData = stored.tobytes()
    return ds


def write_stack(
    folder: Path,
    positions: Sequence[Vec],
    *,
    names: Sequence[str] | None = None,
    series_uid: str | None = None,
    study_uid: str | None = None,
    **kwargs: object,
) -> list[Path]:
    """Write one slice per position; file names default to a shuffled order."""
    folder.mkdir(parents=True, exist_ok=True)
    series_uid = series_uid or generate_uid()
    study_uid = study_uid or generate_uid()
    n = len(positions)
    if names is None:
        rng = np.random.default_rng(7)
        order = rng.permutation(n)
        names = [f"img{int(order[k]):04d}.dcm" for k in range(n)]
    paths = []
    for k, pos in enumerate(positions):
        # Instance numbers run against position order, so sorting by them would be wrong.
        ds = make_slice(
            position=pos,
            series_uid=series_uid,
            study_uid=study_uid,
            instance=n - k,
            **kwargs,  # type: ignore[arg-type]
        )
        path = folder / names[k]
        ds.save_as(path, enforce_file_format=True)
        paths.append(path)
    return paths
