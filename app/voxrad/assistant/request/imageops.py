"""Resize, pad, crop and mark 8-bit images, recording every step in a :class:`Transform`.

Every operation here is an axis-aligned affine map of edge coordinates (see
:mod:`voxrad.core.conversation`): crop and pad shift, resize scales by exactly
``new_size / old_size`` (half-pixel centres). Composing the recorded steps therefore maps a box
the model draws on its input back to the clinician's image with no approximation beyond
floating point. numpy only, so the assistant layer needs no imaging library.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from voxrad.core.conversation import Box

if TYPE_CHECKING:
    from voxrad.core.volume import Volume


@dataclass(frozen=True)
class Step:
    """One recorded operation: ``x' = sx * x + tx``, ``y' = sy * y + ty``."""

    name: str
    sx: float = 1.0
    sy: float = 1.0
    tx: float = 0.0
    ty: float = 0.0


@dataclass(frozen=True)
class Transform:
    """How a model-input image relates to acquired slice ``slice_index`` of the volume.

    ``source_size`` and ``output_size`` are (width, height): the slice as the clinician sees
    it, and the image sent to the model.
    """

    source_size: tuple[int, int]
    output_size: tuple[int, int]
    slice_index: int = 0
    steps: tuple[Step, ...] = ()

    @classmethod
    def identity(cls, width: int, height: int, slice_index: int = 0) -> Transform:
        return cls((width, height), (width, height), slice_index)

    def then(self, step: Step, output_size: tuple[int, int]) -> Transform:
        return Transform(self.source_size, output_size, self.slice_index, (*self.steps, step))

    @property
    def affine(self) -> tuple[float, float, float, float]:
        """The composed ``(sx, sy, tx, ty)`` from image pixels to model-input pixels."""
        sx, sy, tx, ty = 1.0, 1.0, 0.0, 0.0
        for s in self.steps:
            sx, sy, tx, ty = s.sx * sx, s.sy * sy, s.sx * tx + s.tx, s.sy * ty + s.ty
        return sx, sy, tx, ty

    def to_input(self, x: float, y: float) -> tuple[float, float]:
        sx, sy, tx, ty = self.affine
        return sx * x + tx, sy * y + ty

    def to_image(self, x: float, y: float) -> tuple[float, float]:
        sx, sy, tx, ty = self.affine
        return (x - tx) / sx, (y - ty) / sy

    def box_to_input(self, box: Box) -> Box:
        x0, y0 = self.to_input(box.x0, box.y0)
        x1, y1 = self.to_input(box.x1, box.y1)
        return Box(x0, y0, x1, y1)

    def box_to_image(self, box: Box) -> Box:
        """A box in model-input pixels as pixels of the clinician's slice (not clipped)."""
        x0, y0 = self.to_image(box.x0, box.y0)
        x1, y1 = self.to_image(box.x1, box.y1)
        return Box(x0, y0, x1, y1)

    def box_to_patient(self, box: Box, volume: Volume) -> np.ndarray:
        """Corners (4, 3) in patient LPS mm of a box given in model-input pixels."""
        return self.box_to_image(box).to_patient(volume, self.slice_index)


def _size(image: np.ndarray) -> tuple[int, int]:
    return int(image.shape[1]), int(image.shape[0])


def _taps(n_in: int, n_out: int) -> tuple[np.ndarray, np.ndarray]:
    """Triangle-filter taps with half-pixel centres: source indices and weights, (n_out, T).

    Downscaling widens the triangle to the scale factor (antialiasing, as PIL's bilinear
    does); upscaling is plain bilinear with edge clamping. Only the few source pixels under
    each triangle are kept, so a 2000-pixel side costs a handful of taps, not a dense matrix.
    """
    scale = n_in / n_out
    support = max(scale, 1.0)
    centres = (np.arange(n_out, dtype=np.float64) + 0.5) * scale
    first = np.floor(centres - support - 0.5).astype(np.int64)
    taps = int(np.ceil(2 * support)) + 2
    idx = first[:, None] + np.arange(taps)[None, :]
    w = np.clip(1.0 - np.abs(idx + 0.5 - centres[:, None]) / support, 0.0, None)
    w[(idx < 0) | (idx >= n_in)] = 0.0
    w /= w.sum(axis=1, keepdims=True)
    return np.clip(idx, 0, n_in - 1), w.astype(np.float32)


def _resample(data: np.ndarray, n_out: int, axis: int) -> np.ndarray:
    idx, w = _taps(data.shape[axis], n_out)
    shape = [1] * data.ndim
    shape[axis] = n_out
    out = np.zeros((*data.shape[:axis], n_out, *data.shape[axis + 1 :]), np.float32)
    for t in range(idx.shape[1]):
        out += np.take(data, idx[:, t], axis=axis) * w[:, t].reshape(shape)
    return out


def resize(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize a (H, W) or (H, W, C) uint8 image to ``size`` = (width, height), antialiased."""
    width, height = int(size[0]), int(size[1])
    if width < 1 or height < 1:
        raise ValueError(f"cannot resize to {size}")
    if _size(image) == (width, height):
        return image.copy()
    data = image.astype(np.float32)
    if image.shape[0] != height:
        data = _resample(data, height, 0)
    if image.shape[1] != width:
        data = _resample(data, width, 1)
    return np.clip(np.rint(data), 0, 255).astype(np.uint8)


def resize_step(
    image: np.ndarray, transform: Transform, size: tuple[int, int], name: str = "resize"
) -> tuple[np.ndarray, Transform]:
    w, h = _size(image)
    out = resize(image, size)
    return out, transform.then(Step(name, size[0] / w, size[1] / h), (size[0], size[1]))


def crop_step(
    image: np.ndarray, transform: Transform, box: tuple[int, int, int, int]
) -> tuple[np.ndarray, Transform]:
    """Crop integer pixel bounds (x0, y0, x1, y1), already inside the image."""
    x0, y0, x1, y1 = box
    out = image[y0:y1, x0:x1].copy()
    return out, transform.then(Step("crop", tx=-x0, ty=-y0), (x1 - x0, y1 - y0))


def pad_step(
    image: np.ndarray,
    transform: Transform,
    size: tuple[int, int],
    value: int = 0,
) -> tuple[np.ndarray, Transform]:
    """Centre the image on a canvas of ``size`` (letterbox), filled with ``value``."""
    w, h = _size(image)
    left, top = (size[0] - w) // 2, (size[1] - h) // 2
    shape = (size[1], size[0], *image.shape[2:])
    out = np.full(shape, value, dtype=image.dtype)
    out[top : top + h, left : left + w] = image
    return out, transform.then(Step("pad", tx=left, ty=top), (size[0], size[1]))


def letterbox(
    image: np.ndarray, transform: Transform, size: tuple[int, int], value: int = 0
) -> tuple[np.ndarray, Transform]:
    """Scale to fit ``size`` keeping the aspect ratio, then pad the rest."""
    w, h = _size(image)
    scale = min(size[0] / w, size[1] / h)
    fitted = (max(1, min(size[0], round(w * scale))), max(1, min(size[1], round(h * scale))))
    out, transform = resize_step(image, transform, fitted)
    if fitted != (size[0], size[1]):
        out, transform = pad_step(out, transform, size, value)
    return out, transform


def draw_box(
    image: np.ndarray,
    box: Box,
    color: tuple[int, int, int] = (255, 255, 0),
    thickness: int = 2,
) -> np.ndarray:
    """A copy of an RGB image with ``box`` outlined just outside its edges."""
    out = image.copy()
    h, w = out.shape[:2]
    x0, y0 = int(np.floor(box.x0)), int(np.floor(box.y0))
    x1, y1 = int(np.ceil(box.x1)), int(np.ceil(box.y1))
    xa, xb = max(x0 - thickness, 0), min(x1 + thickness, w)
    ya, yb = max(y0 - thickness, 0), min(y1 + thickness, h)
    rgb = np.asarray(color, dtype=np.uint8)
    out[ya : max(y0, 0), xa:xb] = rgb
    out[min(y1, h) : yb, xa:xb] = rgb
    out[ya:yb, xa : max(x0, 0)] = rgb
    out[ya:yb, min(x1, w) : xb] = rgb
    return out
