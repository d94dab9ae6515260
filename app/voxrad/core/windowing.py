"""Window/level: the DICOM linear VOI function and the presets a radiologist expects."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class WindowPreset:
    """A named window; ``center``/``width`` in the volume's output units (HU for CT)."""

    name: str
    center: float
    width: float
    source: str = "standard"  # "standard" (VoxRad's CT table) or "dicom" (from the file)


# Standard CT windows (centre, width in HU) as used on reading stations.
CT_PRESETS: tuple[WindowPreset, ...] = (
    WindowPreset("lung", -600.0, 1500.0),
    WindowPreset("mediastinum", 50.0, 350.0),
    WindowPreset("abdomen", 40.0, 400.0),
    WindowPreset("liver", 30.0, 150.0),
    WindowPreset("bone", 400.0, 1800.0),
    WindowPreset("brain", 40.0, 80.0),
    WindowPreset("subdural", 75.0, 215.0),
    WindowPreset("stroke", 40.0, 40.0),
)


def find_preset(presets: tuple[WindowPreset, ...], name: str) -> WindowPreset | None:
    """The preset called ``name`` (case-insensitive), or None."""
    wanted = name.strip().lower()
    return next((p for p in presets if p.name.lower() == wanted), None)


def auto_window(values: np.ndarray) -> tuple[float, float]:
    """A centre/width spanning the 1st to 99th percentile, for images that carry no window.

    Percentiles of a subsample keep this fast on large volumes.
    """
    flat = values.reshape(-1)
    if flat.size > 1_000_000:
        flat = flat[:: flat.size // 1_000_000]
    lo, hi = np.percentile(flat, [1.0, 99.0])
    if hi <= lo:
        lo, hi = float(flat.min()), float(flat.max())
    width = max(float(hi - lo), 1.0)
    return float(lo) + width / 2.0, width


def apply_window(
    values: np.ndarray, center: float, width: float, *, invert: bool = False
) -> np.ndarray:
    """Map values to 8-bit display intensities with the DICOM linear VOI function.

    PS3.3 C.11.2.1.2: below ``c - 0.5 - (w - 1) / 2`` is black, above ``c - 0.5 + (w - 1) / 2``
    is white, linear in between. ``invert`` gives white-is-low display (MONOCHROME1 or the
    user's invert toggle).
    """
    width = max(float(width), 1.0)
    low = center - 0.5 - (width - 1.0) / 2.0
    scale = 255.0 / max(width - 1.0, 1e-6)
    if values.dtype in (np.int16, np.uint16, np.int8, np.uint8) and values.size > 65536:
        # A lookup table over the integer range is several times faster than float math
        # on whole slices, which matters when scrolling.
        info = np.iinfo(values.dtype)
        grid = np.arange(info.min, info.max + 1, dtype=np.float32)
        lut = np.clip((grid - low) * scale, 0.0, 255.0)
        lut8 = (np.rint(lut)).astype(np.uint8)
        if invert:
            lut8 = 255 - lut8
        index = values.astype(np.int32) - info.min if info.min else values
        return lut8[index]
    out = np.clip((values.astype(np.float32) - low) * scale, 0.0, 255.0)
    out8 = np.rint(out).astype(np.uint8)
    return 255 - out8 if invert else out8
