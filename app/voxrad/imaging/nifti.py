"""NIfTI-1/2 volumes through nibabel, converted from RAS+ to VoxRad's LPS convention."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from voxrad.core.errors import StudyLoadError
from voxrad.core.study import SeriesInfo, SkippedFile
from voxrad.core.volume import Volume
from voxrad.imaging.progress import CancelToken, ProgressCallback, check_cancel
from voxrad.imaging.study import FirstSliceCallback, Series, VolumeLoader

NIFTI_SUFFIXES = (".nii", ".nii.gz")


def is_nifti(path: Path) -> bool:
    name = path.name.lower()
    return name.endswith(NIFTI_SUFFIXES)


def _load_image(path: Path):  # type: ignore[no-untyped-def]
    import nibabel as nib

    try:
        return nib.load(str(path))
    except Exception as exc:
        raise StudyLoadError(f"{path.name} is not a readable NIfTI file ({exc}).") from exc


class NiftiLoader(VolumeLoader):
    def __init__(self, path: Path) -> None:
        self.path = path

    def __call__(
        self,
        *,
        progress: ProgressCallback | None,
        cancel: CancelToken | None,
        on_first_slice: FirstSliceCallback | None,
        regularize: bool,
        skipped: list[SkippedFile],
    ) -> Volume:
        check_cancel(cancel)
        return read_nifti(self.path)


def read_nifti(path: Path) -> Volume:
    """Read a NIfTI file: voxels to ``[k, j, i]``, affine from RAS to LPS.

    NIfTI stores ``data[i, j, k]`` with ``affine @ (i, j, k, 1)`` in RAS+ mm. LPS flips the
    first two axes. 4-D files show their first volume with a warning.
    """
    img = _load_image(path)
    warnings: list[str] = []
    try:
        data = np.asanyarray(img.dataobj)
    except Exception as exc:
        raise StudyLoadError(f"{path.name}: the voxel data could not be read ({exc}).") from exc
    if data.ndim == 2:
        data = data[:, :, None]
    if data.ndim > 3:
        extra = int(np.prod(data.shape[3:]))
        if data.ndim == 5 and data.shape[3] == 1 and data.shape[4] == 3:
            data = data[:, :, :, 0, :]
        else:
            warnings.append(f"This file holds {extra} volumes; the first is shown.")
            data = data.reshape(*data.shape[:3], -1)[..., 0]
    affine = np.asarray(img.affine, dtype=np.float64)
    lps = np.diag([-1.0, -1.0, 1.0]) @ affine[:3, :3]
    zooms = np.linalg.norm(lps, axis=0)
    if np.any(zooms <= 0):
        raise StudyLoadError(f"{path.name} has a degenerate affine (zero voxel size).")
    dir_ijk = lps / zooms
    # Array order [k, j, i]: transpose data and reverse the direction columns.
    voxels = np.ascontiguousarray(np.transpose(data, (2, 1, 0, *range(3, data.ndim))))
    if voxels.dtype == np.float64:
        voxels = voxels.astype(np.float32)
    ortho = dir_ijk.T @ dir_ijk
    if not np.allclose(ortho, np.eye(3), atol=1e-3):
        warnings.append("The NIfTI affine is sheared; geometry is shown approximately.")
    origin = np.diag([-1.0, -1.0, 1.0]) @ affine[:3, 3]
    return Volume(
        voxels=voxels,
        spacing=(float(zooms[2]), float(zooms[1]), float(zooms[0])),
        origin=(float(origin[0]), float(origin[1]), float(origin[2])),
        direction=dir_ijk[:, ::-1],
        modality="OT",
        warnings=tuple(warnings),
        label=path.name,
    )


def nifti_series(path: Path) -> Series:
    """Describe a NIfTI file as one series (reads only the header)."""
    img = _load_image(path)
    shape = tuple(int(s) for s in img.shape[:3]) + (1,) * (3 - len(img.shape[:3]))
    return Series(
        info=SeriesInfo(
            uid=f"nifti:{path.name}",
            modality="OT",
            description=path.name,
            shape=(shape[2], shape[1], shape[0]),
            kind="volume" if shape[2] > 1 else "image",
            file_count=1,
        ),
        loader=NiftiLoader(path),
    )
