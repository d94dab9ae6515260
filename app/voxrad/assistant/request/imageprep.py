"""From a volume and a question to the images a model sees, and from its boxes back again.

Pure functions on numpy arrays (no I/O). Each :class:`ModelImage` carries the
:class:`~voxrad.assistant.request.imageops.Transform` from the acquired slice to the pixels sent, so
:func:`locate_findings` can put every box the model draws back on the clinician's image and
in patient LPS mm.

All images of one :class:`PreparedInput` share one size, so a reply can be parsed once with
``parse_answer(text, family=..., image_size=prepared.image_size)`` whichever image a box is on.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

import numpy as np

from voxrad.assistant.request.imageops import (
    Step,
    Transform,
    crop_step,
    draw_box,
    letterbox,
    resize_step,
)
from voxrad.core.conversation import Answer, Box, Finding, Question
from voxrad.core.errors import VoxRadError
from voxrad.core.families import FamilyFormat, require_family, smart_resize
from voxrad.core.volume import Volume
from voxrad.core.windowing import apply_window

#: MedGemma 1.5's CT encoding, (low, high) HU per channel, linear in between:
#: R = wide window, G = soft tissue (mediastinum/abdomen), B = brain. It is the encoding
#: Google's CT notebooks feed MedGemma, so CT is shown to it the way it was trained.
CT_THREE_WINDOWS: tuple[tuple[float, float], ...] = (
    (-1024.0, 1024.0),
    (-135.0, 215.0),
    (0.0, 80.0),
)
#: The outline colour marking a region on the context image (yellow, rare in greyscale images).
REGION_COLOR = (255, 255, 0)

ImageRole = Literal["view", "region-context", "region-crop", "slice"]
SliceSampling = Literal["around", "across"]


class ImagePreparationError(VoxRadError):
    """The question refers to something that is not in the image (slice, region)."""

    default_hint = "Check the slice number and the region, then ask again."


@dataclass(frozen=True, eq=False)
class ModelImage:
    """One RGB uint8 image (H, W, 3) for the model and how it maps to its slice."""

    pixels: np.ndarray
    transform: Transform
    role: ImageRole

    @property
    def slice_index(self) -> int:
        return self.transform.slice_index


@dataclass(frozen=True, eq=False)
class PreparedInput:
    """The images for one question; boxes are read on ``images[reference]`` unless the model
    names another image. ``region`` is the question's region in model-input pixels of the
    reference image (for prompts that state it in the family's syntax)."""

    images: tuple[ModelImage, ...]
    reference: int = 0
    region: Box | None = None
    warnings: tuple[str, ...] = ()

    @property
    def image_size(self) -> tuple[int, int]:
        return self.images[self.reference].transform.output_size


# -- 8-bit views ----------------------------------------------------------------------------
def _to_uint8_rgb(image: np.ndarray) -> np.ndarray:
    if image.ndim == 2:
        return np.repeat(image[..., None], 3, axis=2)
    return image


def view_image(
    volume: Volume,
    slice_index: int,
    *,
    window: tuple[float, float] | None = None,
    invert: bool | None = None,
    ct_three_windows: bool = False,
) -> np.ndarray:
    """Slice ``slice_index`` as the (H, W, 3) uint8 image a model should see.

    Greyscale is windowed with the DICOM linear function (``window`` = (centre, width), default
    the volume's) and repeated to RGB; MONOCHROME1 displays inverted unless ``invert`` says
    otherwise. With ``ct_three_windows`` a CT in HU becomes :data:`CT_THREE_WINDOWS`. Colour
    images are passed through (scaled to 8 bits when stored wider).
    """
    _check_slice(volume, slice_index)
    values = volume.slice_image(slice_index)
    if volume.is_color:
        rgb = values[..., :3]
        if rgb.dtype != np.uint8:
            lo, hi = float(rgb.min()), float(rgb.max())
            rgb = np.rint((rgb.astype(np.float32) - lo) * (255.0 / max(hi - lo, 1e-6)))
            rgb = rgb.astype(np.uint8)
        return np.ascontiguousarray(rgb)
    if ct_three_windows and volume.modality == "CT" and volume.units == "HU":
        data = values.astype(np.float32)
        channels = [
            np.rint(np.clip((data - lo) / (hi - lo), 0.0, 1.0) * 255.0).astype(np.uint8)
            for lo, hi in CT_THREE_WINDOWS
        ]
        return np.stack(channels, axis=2)
    centre, width = window if window is not None else volume.default_window()
    flip = (volume.photometric == "MONOCHROME1") if invert is None else invert
    return _to_uint8_rgb(apply_window(values, centre, width, invert=flip))


def _check_slice(volume: Volume, slice_index: int) -> None:
    if not 0 <= slice_index < volume.shape[0]:
        raise ImagePreparationError(
            f"Slice {slice_index + 1} does not exist: this series has {volume.shape[0]} slices."
        )


# -- fitting to the model --------------------------------------------------------------------
def fit_to_model(
    image: np.ndarray, transform: Transform, fam: FamilyFormat
) -> tuple[np.ndarray, Transform]:
    """Bring an image to the family's input: letterbox to a fixed size, or Qwen-style sizes.

    For dynamic-resolution families the size is the processor's ``smart_resize`` of the image
    (within VoxRad's pixel budget), so the processor leaves it alone and absolute boxes are in
    pixels of exactly this image.
    """
    if fam.input_size is not None:
        return letterbox(image, transform, fam.input_size)
    w, h = image.shape[1], image.shape[0]
    size = smart_resize(
        w, h, factor=fam.factor, min_pixels=fam.min_pixels, max_pixels=fam.max_pixels
    )
    return resize_step(image, transform, size)


def _square_pixels(
    volume: Volume, image: np.ndarray, transform: Transform
) -> tuple[np.ndarray, Transform]:
    """Resample rows so a pixel is as tall as it is wide in mm, as a reading station shows it."""
    row_mm, col_mm = volume.spacing[1], volume.spacing[2]
    if not volume.spacing_calibrated or abs(row_mm / col_mm - 1.0) < 0.01:
        return image, transform
    h = max(1, round(image.shape[0] * row_mm / col_mm))
    return resize_step(image, transform, (image.shape[1], h), name="square-pixels")


def _slice_input(
    volume: Volume,
    slice_index: int,
    fam: FamilyFormat,
    window: tuple[float, float] | None,
) -> tuple[np.ndarray, Transform]:
    image = view_image(volume, slice_index, window=window, ct_three_windows=fam.ct_three_windows)
    transform = Transform.identity(image.shape[1], image.shape[0], slice_index)
    return _square_pixels(volume, image, transform)


# -- questions ---------------------------------------------------------------------------------
def select_slices(
    n_slices: int, current: int, count: int, *, mode: SliceSampling = "around", step: int = 1
) -> tuple[int, ...]:
    """Which slices a 3-D question sends, in ascending order.

    "around": ``count`` slices ``step`` apart centred on ``current`` (shifted, not cut, at the
    ends of the volume); "across": ``count`` slices evenly spread over the whole volume.
    """
    count = max(1, min(int(count), n_slices))
    if mode == "across":
        picked = np.unique(np.rint(np.linspace(0, n_slices - 1, count)).astype(int))
        return tuple(int(k) for k in picked)
    step = max(1, int(step))
    span = (count - 1) * step
    if span > n_slices - 1:
        step = max(1, (n_slices - 1) // max(count - 1, 1))
        span = (count - 1) * step
    first = min(max(current - span // 2, 0), n_slices - 1 - span)
    return tuple(range(first, first + span + 1, step))


def region_crop_bounds(
    region: Box, width: int, height: int, *, margin: float = 0.25, min_margin: float = 16.0
) -> tuple[int, int, int, int]:
    """Integer crop bounds: the region grown by ``margin`` of its larger side (at least
    ``min_margin`` pixels) for context, rounded outwards and kept inside the image."""
    grow = max(margin * max(region.width, region.height), min_margin)
    big = region.expanded(grow).clipped(width, height)
    return (
        int(np.floor(big.x0)),
        int(np.floor(big.y0)),
        int(np.ceil(big.x1)),
        int(np.ceil(big.y1)),
    )


def prepare_question(
    volume: Volume,
    question: Question,
    family: str,
    *,
    max_images: int | None = None,
    sampling: SliceSampling = "around",
    step: int = 1,
    margin: float = 0.25,
) -> PreparedInput:
    """The model images for ``question`` about ``volume``.

    * scope "slice": the current view.
    * scope "region": the whole image with the region outlined (the reference for boxes),
      then the region cropped with ``margin`` (single-image families get the first only).
    * scope "volume": up to ``max_images`` (and the family's limit) slices, see
      :func:`select_slices`; each image keeps its own slice index.

    Raises
    ------
    ImagePreparationError
        When the slice or region is not inside the image.
    UnknownModelFamilyError
        When ``family`` is not known.
    """
    fam = require_family(family)
    _check_slice(volume, question.slice_index)
    if question.scope == "volume":
        limit = fam.max_images if max_images is None else max(1, min(max_images, fam.max_images))
        indices = select_slices(
            volume.shape[0], question.slice_index, limit, mode=sampling, step=step
        )
        images = tuple(
            ModelImage(*fit_to_model(*_slice_input(volume, k, fam, question.window), fam), "slice")
            for k in indices
        )
        ref = indices.index(question.slice_index) if question.slice_index in indices else 0
        return PreparedInput(images, reference=ref)
    base, transform = _slice_input(volume, question.slice_index, fam, question.window)
    if question.region is None:
        return PreparedInput((ModelImage(*fit_to_model(base, transform, fam), "view"),))
    return _region_input(volume, question, fam, base, transform, margin)


def _region_input(
    volume: Volume,
    question: Question,
    fam: FamilyFormat,
    base: np.ndarray,
    transform: Transform,
    margin: float,
) -> PreparedInput:
    assert question.region is not None
    rows, cols = volume.shape[1], volume.shape[2]
    region = question.region.ordered()
    inside = region.clipped(cols, rows)
    if not inside.is_valid:
        raise ImagePreparationError("The selected region is outside the image.")
    warnings = () if region.inside(cols, rows) else ("The region was cut to the image edges.",)
    context, context_t = fit_to_model(base, transform, fam)
    region_in = context_t.box_to_input(inside)
    thickness = max(2, round(max(context.shape[:2]) / 300))
    marked = ModelImage(
        draw_box(context, region_in, REGION_COLOR, thickness), context_t, "region-context"
    )
    if fam.max_images < 2:
        return PreparedInput((marked,), 0, region_in, warnings)
    # Crop in the square-pixel image, whose transform maps the region there exactly.
    sx, sy, tx, ty = transform.affine
    region_sq = Box(
        inside.x0 * sx + tx, inside.y0 * sy + ty, inside.x1 * sx + tx, inside.y1 * sy + ty
    )
    bounds = region_crop_bounds(region_sq, base.shape[1], base.shape[0], margin=margin)
    crop, crop_t = crop_step(base, transform, bounds)
    crop, crop_t = letterbox(crop, crop_t, context_t.output_size)
    close_up = ModelImage(crop, crop_t, "region-crop")
    return PreparedInput((marked, close_up), 0, region_in, warnings)


# -- back to the clinician's image ------------------------------------------------------------
def locate_findings(answer: Answer, prepared: PreparedInput) -> Answer:
    """Map each finding's box from model-input pixels to its slice's pixels.

    ``answer`` must come from ``parse_answer(..., image_size=prepared.image_size)``. A box on
    the padding or outside the slice is clipped (warned) or dropped (warned); each finding
    gets the slice index of the image it was drawn on.
    """
    findings: list[Finding] = []
    warnings: list[str] = []
    for finding in answer.findings:
        index = prepared.reference if finding.image_index is None else finding.image_index
        if not 0 <= index < len(prepared.images):
            warnings.append(f"'{finding.label}' refers to an image that was not sent; not shown.")
            findings.append(replace(finding, box=None, image_index=None))
            continue
        image = prepared.images[index]
        box = None
        if finding.box is not None:
            w, h = image.transform.source_size
            mapped = image.transform.box_to_image(finding.box)
            box = mapped.clipped(w, h)
            if not box.is_valid:
                warnings.append(f"The box for '{finding.label}' fell outside the image; not shown.")
                box = None
            elif not mapped.inside(w, h, tolerance=1e-6):
                warnings.append(f"The box for '{finding.label}' reached past the image; clipped.")
        findings.append(replace(finding, box=box, slice_index=image.slice_index))
    return replace(answer, findings=tuple(findings)).with_warnings(*prepared.warnings, *warnings)


__all__ = [
    "CT_THREE_WINDOWS",
    "ImagePreparationError",
    "ModelImage",
    "PreparedInput",
    "Step",
    "Transform",
    "fit_to_model",
    "locate_findings",
    "prepare_question",
    "region_crop_bounds",
    "select_slices",
    "view_image",
]
