"""PNG, JPEG, TIFF and BMP images (screenshots, exported radiographs, datasets such as VQA-RAD)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from voxrad.core.errors import StudyLoadError
from voxrad.core.study import SeriesInfo, SkippedFile
from voxrad.core.volume import Volume
from voxrad.imaging.progress import CancelToken, ProgressCallback, check_cancel
from voxrad.imaging.study import FirstSliceCallback, Series, VolumeLoader

RASTER_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp")


def is_raster(path: Path) -> bool:
    return path.suffix.lower() in RASTER_SUFFIXES


def read_raster(path: Path) -> Volume:
    """One image as a single-slice volume; greyscale stays one channel, colour keeps RGB.

    Pixel spacing is unknown in these formats, so distances are in pixels.
    """
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            img.load()
            mode = img.mode
            if mode in ("I;16", "I;16B", "I;16L", "I"):
                arr = np.asarray(img, dtype=np.int32)
                arr = arr.astype(np.uint16) if arr.min() >= 0 and arr.max() < 65536 else arr
            elif mode in ("1", "LA"):
                arr = np.asarray(img.convert("L"))
            elif mode in ("P", "RGBA", "CMYK", "YCbCr"):
                arr = np.asarray(img.convert("RGB"))
            elif mode in ("L", "RGB", "F"):
                arr = np.asarray(img)
            else:
                arr = np.asarray(img.convert("L"))
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise StudyLoadError(f"{path.name} is not a readable image ({exc}).") from exc
    if (
        arr.ndim == 3
        and arr.shape[2] == 3
        and np.array_equal(arr[..., 0], arr[..., 1])
        and np.array_equal(arr[..., 1], arr[..., 2])
    ):
        arr = arr[..., 0]  # greyscale saved as RGB: keep one channel
    voxels = np.ascontiguousarray(arr[None, ...])
    return Volume(
        voxels=voxels,
        spacing=(1.0, 1.0, 1.0),
        direction=np.eye(3)[:, ::-1].copy(),
        modality="OT",
        photometric="RGB" if voxels.ndim == 4 else "MONOCHROME2",
        spacing_calibrated=False,
        warnings=("This image format has no pixel spacing: distances are in pixels, not mm.",),
        label=path.name,
    )


class RasterLoader(VolumeLoader):
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
        volume = read_raster(self.path)
        if on_first_slice is not None:
            on_first_slice(0, volume.voxels[0])
        return volume


def raster_series(path: Path) -> Series:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            width, height = img.size
    except (UnidentifiedImageError, OSError) as exc:
        raise StudyLoadError(f"{path.name} is not a readable image ({exc}).") from exc
    return Series(
        info=SeriesInfo(
            uid=f"image:{path.name}",
            modality="OT",
            description=path.name,
            shape=(1, height, width),
            kind="image",
            file_count=1,
            warnings=("This image format has no pixel spacing: distances are in pixels, not mm.",),
        ),
        loader=RasterLoader(path),
    )
