"""Read the pixels of a :class:`StackPlan` and build a :class:`Volume`.

The middle slice is decoded first and handed to ``on_first_slice`` so a viewer can show it
while the rest loads. Rescale (slope/intercept) is applied; CT stays in int16 HU whenever the
values fit, which halves memory against float32 and keeps scrolling fast.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import numpy as np

from voxrad.core.errors import StudyLoadError
from voxrad.core.study import SkippedFile
from voxrad.core.volume import Volume
from voxrad.core.windowing import WindowPreset
from voxrad.imaging.dicom.headers import FrameHeader
from voxrad.imaging.dicom.pixels import FrameReader, PixelDecodeError
from voxrad.imaging.dicom.stack import StackPlan, plan_series
from voxrad.imaging.progress import CancelToken, ProgressCallback, check_cancel, report

logger = logging.getLogger(__name__)

#: ``on_first_slice(index, image)``: the middle acquired slice, rescaled, before the rest.
FirstSliceCallback = Callable[[int, np.ndarray], None]


def build_volume(
    plan: StackPlan,
    *,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    on_first_slice: FirstSliceCallback | None = None,
    regularize: bool = True,
    skipped: list[SkippedFile] | None = None,
) -> Volume:
    """Decode every frame of ``plan`` and return the volume, resampled when the plan asks.

    Frames that fail to decode are left out (recorded in ``skipped``) and the geometry is
    planned again from the frames that remain, so a corrupt slice becomes a reported gap.
    """
    frames = plan.frames
    total = len(frames)
    reader = FrameReader()
    raw: dict[int, np.ndarray] = {}
    failed: list[int] = []
    middle = total // 2
    order = [middle, *[n for n in range(total) if n != middle]]
    for done, n in enumerate(order):
        check_cancel(cancel)
        try:
            raw[n] = reader.read(frames[n])
        except PixelDecodeError as exc:
            failed.append(n)
            if skipped is not None:
                skipped.append(SkippedFile(_frame_name(frames[n]), str(exc)))
            logger.info("frame skipped: %s", exc)
            continue
        if done == 0 and on_first_slice is not None:
            on_first_slice(n, _rescale_one(raw[n], frames[n]))
        report(progress, done + 1, total, "reading")

    if not raw:
        reason = "" if skipped is None or not skipped else f": {skipped[-1].reason}"
        raise StudyLoadError(f"No image in this series could be decoded{reason}.")
    if failed:
        kept = [f for n, f in enumerate(frames) if n in raw]
        by_identity = {id(f): raw[n] for n, f in enumerate(frames) if n in raw}
        # The remaining frames all came from one stack, so planning them again gives one
        # stack whose gaps are reported like any missing slice.
        new_plan = plan_series(kept)[0]
        new_plan.key, new_plan.description = plan.key, plan.description
        new_plan.warnings.append(
            f"{len(failed)} of {total} images could not be decoded and were left out."
        )
        raw = {m: by_identity[id(f)] for m, f in enumerate(new_plan.frames)}
        plan = new_plan
        frames = plan.frames

    stack = _rescale_stack([raw[n] for n in range(len(frames))], frames)
    check_cancel(cancel)
    warnings = list(plan.warnings)
    if plan.resample and regularize:
        acquired = stack.shape[0]
        stack, origin, interpolated = _resample(stack, plan)
        if interpolated:
            warnings.append(f"{interpolated} of {stack.shape[0]} slices are interpolated.")
        logger.info("resampled %d acquired slices to %d", acquired, stack.shape[0])
    else:
        origin = frames[0].position or (0.0, 0.0, 0.0)
        if plan.resample:
            warnings.append(
                "Shown as acquired, without resampling: positions and distances across slices "
                "are approximate."
            )
    return Volume(
        voxels=stack,
        spacing=plan.spacing,
        origin=origin,
        direction=_direction(plan),
        modality=frames[0].modality,
        units=_units(frames[0]),
        # Colour pixels arrive as RGB whatever the stored form (YBR, palette).
        photometric="RGB" if stack.ndim == 4 else frames[0].photometric,
        window_presets=_presets(frames[len(frames) // 2]),
        spacing_calibrated=plan.spacing_calibrated,
        warnings=tuple(warnings),
        label=plan.description,
    )


def _frame_name(f: FrameHeader) -> str:
    return f.source.name if f.frame is None else f"{f.source.name} (frame {f.frame + 1})"


def _units(f: FrameHeader) -> str:
    if f.modality == "CT" and f.rescale_type.upper() in ("", "HU"):
        return "HU"
    return f.rescale_type if f.rescale_type.upper() not in ("US",) else ""


def _presets(f: FrameHeader) -> tuple[WindowPreset, ...]:
    out = []
    for n, (center, width, name) in enumerate(f.windows):
        out.append(WindowPreset(name or f"DICOM {n + 1}", center, width, source="dicom"))
    return tuple(out)


def _direction(plan: StackPlan) -> np.ndarray:
    if plan.normal is None or plan.row_direction is None or plan.column_direction is None:
        # Unpositioned images: an axial-like frame so that display is upright.
        return np.eye(3)[:, ::-1].copy()
    return np.stack([plan.normal, plan.column_direction, plan.row_direction], axis=1)


def _rescale_one(arr: np.ndarray, f: FrameHeader) -> np.ndarray:
    if arr.ndim == 3 or (f.rescale_slope == 1.0 and f.rescale_intercept == 0.0):
        return arr
    return arr.astype(np.float32) * np.float32(f.rescale_slope) + np.float32(f.rescale_intercept)


def _rescale_stack(slices: list[np.ndarray], frames: list[FrameHeader]) -> np.ndarray:
    """Stack slices applying each frame's slope/intercept; int16 when exact and in range."""
    shapes = {s.shape for s in slices}
    if len(shapes) != 1:
        raise StudyLoadError("Images in this series have different sizes after decoding.")
    if slices[0].ndim == 3:  # colour: no rescale
        return np.stack(slices)
    slopes = np.array([f.rescale_slope for f in frames])
    intercepts = np.array([f.rescale_intercept for f in frames])
    integral = bool(
        np.all(slopes == np.rint(slopes))
        and np.all(intercepts == np.rint(intercepts))
        and slices[0].dtype.kind in "iu"
    )
    if integral:
        lo = min(float(s.min()) for s in slices)
        hi = max(float(s.max()) for s in slices)
        ends = [a * b + c for a in (lo, hi) for b, c in zip(slopes, intercepts, strict=True)]
        for dtype in (np.int16, np.int32):
            info = np.iinfo(dtype)
            if info.min <= min(ends) and max(ends) <= info.max:
                out = np.empty((len(slices), *slices[0].shape), dtype=dtype)
                for n, (s, f) in enumerate(zip(slices, frames, strict=True)):
                    if f.rescale_slope == 1:
                        np.add(
                            s,
                            np.asarray(int(f.rescale_intercept), dtype=dtype),
                            out=out[n],
                            casting="unsafe",
                        )
                    else:
                        out[n] = s.astype(dtype) * int(f.rescale_slope) + int(f.rescale_intercept)
                return out
    out32 = np.empty((len(slices), *slices[0].shape), dtype=np.float32)
    for n, (s, f) in enumerate(zip(slices, frames, strict=True)):
        out32[n] = s.astype(np.float32) * np.float32(f.rescale_slope) + np.float32(
            f.rescale_intercept
        )
    return out32


def _resample(
    stack: np.ndarray, plan: StackPlan
) -> tuple[np.ndarray, tuple[float, float, float], int]:
    """Resample onto a regular grid along the normal, undoing tilt by in-plane shifts.

    Output voxel ``(k, j, i)`` lies at ``p0 + k*dz*n + (j*dy + c0)*col + (i*dx + r0)*row``,
    where ``(r0, c0)`` is the most negative in-plane offset, so that every acquired pixel
    stays inside the grid. Each output slice blends the two acquired slices that bracket it
    along the normal, each sampled (bilinear) where the output pixels fall in its plane.
    """
    from scipy import ndimage

    assert plan.offsets_normal is not None and plan.offsets_in_plane is not None
    assert plan.normal is not None and plan.row_direction is not None
    assert plan.column_direction is not None
    s = plan.offsets_normal
    off = plan.offsets_in_plane  # (n, 2): along row direction, along column direction (mm)
    dz, dy, dx = plan.spacing
    extra_rows, extra_cols, r0, c0 = plan.in_plane_padding()
    n_out = plan.output_slices()
    rows, cols = stack.shape[1] + extra_rows, stack.shape[2] + extra_cols
    fill = float(stack.min())
    out = np.empty((n_out, rows, cols), dtype=stack.dtype)
    interpolated = 0

    def sample(m: int) -> np.ndarray:
        # Output pixel (j, i) reads acquired pixel (j + dj, i + di) of slice m.
        dj = (c0 - float(off[m, 1])) / dy
        di = (r0 - float(off[m, 0])) / dx
        src = stack[m].astype(np.float32)
        if abs(dj) < 1e-6 and abs(di) < 1e-6 and extra_rows == 0 and extra_cols == 0:
            return src
        return ndimage.affine_transform(
            src,
            np.eye(2),
            offset=(dj, di),
            output_shape=(rows, cols),
            order=1,
            mode="constant",
            cval=fill,
        )

    cache: dict[int, np.ndarray] = {}

    def get(m: int) -> np.ndarray:
        if m not in cache:
            if len(cache) > 2:
                cache.pop(min(cache))
            cache[m] = sample(m)
        return cache[m]

    for k in range(n_out):
        target = k * dz
        b = int(np.searchsorted(s, target - 1e-6))
        b = min(max(b, 0), len(s) - 1)
        if abs(s[b] - target) <= 1e-3:
            plane = get(b)
        else:
            a = max(b - 1, 0)
            w = float((target - s[a]) / (s[b] - s[a])) if s[b] != s[a] else 0.0
            plane = (1.0 - w) * get(a) + w * get(b)
            interpolated += 1
        if out.dtype.kind in "iu":
            out[k] = np.rint(plane)
        else:
            out[k] = plane
    p0 = np.asarray(plan.frames[0].position, dtype=np.float64)
    origin = p0 + r0 * plan.row_direction + c0 * plan.column_direction
    return out, (float(origin[0]), float(origin[1]), float(origin[2])), interpolated
