"""Key images: a slice as the clinician saw it, with the answer's boxes burned in.

Used by the DICOM secondary capture (:mod:`voxrad.records.dicom_export`) and the HTML study
report (:mod:`voxrad.records.report`). Labels are drawn as given; callers pass labels that are
already free of identifiers.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

import numpy as np

from voxrad.core.conversation import Finding
from voxrad.core.volume import Volume
from voxrad.core.windowing import apply_window

#: Box outline colour (RGB): yellow, rare in greyscale images and readable on black.
BOX_COLOR = (255, 214, 0)
#: Flagged boxes (laterality mismatch, outside the body) are drawn in red.
FLAGGED_COLOR = (229, 57, 53)


def slice_rgb(
    volume: Volume, slice_index: int, window: tuple[float, float] | None = None
) -> np.ndarray:
    """Slice ``slice_index`` windowed to an (H, W, 3) uint8 image (colour passes through)."""
    values = volume.slice_image(slice_index)
    if volume.is_color:
        rgb = values[..., :3].astype(np.float32)
        lo, hi = float(rgb.min()), float(rgb.max())
        return np.rint((rgb - lo) * (255.0 / max(hi - lo, 1e-6))).astype(np.uint8)
    centre, width = window if window is not None else volume.default_window()
    grey = apply_window(values, centre, width, invert=volume.photometric == "MONOCHROME1")
    return np.repeat(np.asarray(grey, dtype=np.uint8)[..., None], 3, axis=2)


def draw_findings(
    rgb: np.ndarray,
    findings: Sequence[Finding],
    *,
    flagged: frozenset[str] = frozenset(),
    labels: bool = True,
    numbers: Sequence[int] | None = None,
) -> np.ndarray:
    """A copy of ``rgb`` with each finding's box outlined and labelled with its number
    (``numbers``, default 1, 2, ...: the numbers of the report's findings table).

    Boxes are in the edge-pixel convention of :mod:`voxrad.core.conversation`; the outline is
    drawn just outside the box so it never hides the pixels the box encloses.
    """
    from PIL import Image, ImageDraw

    image = Image.fromarray(np.ascontiguousarray(rgb[..., :3]).astype(np.uint8), mode="RGB")
    draw = ImageDraw.Draw(image)
    width = max(1, round(max(image.size) / 256))
    numbered = zip(numbers or range(1, len(findings) + 1), findings, strict=True)
    for n, finding in numbered:
        if finding.box is None:
            continue
        b = finding.box.ordered()
        color = FLAGGED_COLOR if finding.label in flagged else BOX_COLOR
        for w in range(width):
            draw.rectangle([b.x0 - 1 - w, b.y0 - 1 - w, b.x1 + w, b.y1 + w], outline=color, width=1)
        if labels:
            text = f"{n} {finding.label}"[:40]
            y = b.y0 - 12 - width if b.y0 >= 12 + width else b.y1 + width + 1
            draw.text((max(b.x0, 0), y), text, fill=color)
    return np.asarray(image)


def png_bytes(rgb: np.ndarray) -> bytes:
    """Lossless PNG with no metadata chunks (no names, no times)."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(rgb).astype(np.uint8), mode="RGB").save(buf, "PNG")
    return buf.getvalue()
