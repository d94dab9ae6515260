"""Read the pixels of a :class:`StackPlan` and build a :class:`Volume`.

The middle slice is decoded first, in the calling thread, and handed to ``on_first_slice``
so a viewer can show it while the rest loads; the other frames then decode in a thread pool
sized to the machine, each written straight into the preallocated stack. Rescale
(slope/intercept) is applied slice by slice, in place whenever the output type has the size
of the stored values; CT stays in int16 HU whenever the values fit, which halves memory
against float32 and keeps scrolling fast.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

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
    decoded = _decode_frames(
        frames,
        progress=progress,
        cancel=cancel,
        on_first_slice=on_first_slice,
        skipped=skipped,
    )
    if decoded.stack is None:
        reason = "" if skipped is None or not skipped else f": {skipped[-1].reason}"
        raise StudyLoadError(f"No image in this series could be decoded{reason}.")
    stack, ranges = decoded.stack, decoded.ranges
    if decoded.failed:
        kept = [f for n, f in enumerate(frames) if n in ranges]
        index = {id(frames[n]): n for n in ranges}
        # The remaining frames all came from one stack, so planning them again gives one
        # stack whose gaps are reported like any missing slice.
        new_plan = plan_series(kept)[0]
        new_plan.key, new_plan.description = plan.key, plan.description
        new_plan.warnings.append(
            f"{len(decoded.failed)} of {total} images could not be decoded and were left out."
        )
        order = [index[id(f)] for f in new_plan.frames]
        stack = stack[order]  # a copy, only when frames failed
        ranges = {m: ranges[n] for m, n in enumerate(order)}
        plan = new_plan
        frames = plan.frames

    stack = _rescale_stack(stack, frames, ranges)
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


def _rescale_stack(
    stack: np.ndarray, frames: list[FrameHeader], ranges: dict[int, tuple[float, float]]
) -> np.ndarray:
    """Apply each frame's slope/intercept; int16 when exact and in range.

    ``ranges`` holds each slice's (min, max) stored value, measured while decoding.
    """
    if stack.ndim == 4:  # colour: no rescale
        return stack
    slopes = np.array([f.rescale_slope for f in frames])
    intercepts = np.array([f.rescale_intercept for f in frames])
    integral = bool(
        np.all(slopes == np.rint(slopes))
        and np.all(intercepts == np.rint(intercepts))
        and stack.dtype.kind in "iu"
    )
    if integral:
        lo = min(r[0] for r in ranges.values())
        hi = max(r[1] for r in ranges.values())
        ends = [a * b + c for a in (lo, hi) for b, c in zip(slopes, intercepts, strict=True)]
        for dtype in (np.int16, np.int32):
            info = np.iinfo(dtype)
            if info.min <= min(ends) and max(ends) <= info.max:
                return _apply_rescale(stack, frames, np.dtype(dtype))
    return _apply_rescale(stack, frames, np.dtype(np.float32))


def _apply_rescale(stack: np.ndarray, frames: list[FrameHeader], dtype: np.dtype) -> np.ndarray:
    """Rescale slice by slice into ``dtype``, in place when the item sizes match.

    Writing a slice over its own stored values is safe: numpy buffers a ufunc's input when
    it overlaps the output, one slice at a time, so memory stays at one stack plus a slice.
    """
    if stack.dtype == dtype and all(
        f.rescale_slope == 1.0 and f.rescale_intercept == 0.0 for f in frames
    ):
        return stack
    out = (
        stack.view(dtype)
        if stack.dtype.itemsize == dtype.itemsize
        else np.empty_like(stack, dtype=dtype)
    )
    for n, f in enumerate(frames):
        if dtype.kind == "f":
            np.multiply(stack[n], np.float32(f.rescale_slope), out=out[n], dtype=np.float32)
            np.add(out[n], np.float32(f.rescale_intercept), out=out[n])
        elif f.rescale_slope == 1:
            np.add(
                stack[n],
                np.asarray(int(f.rescale_intercept), dtype=dtype),
                out=out[n],
                casting="unsafe",
            )
        else:
            out[n] = stack[n].astype(dtype) * int(f.rescale_slope) + int(f.rescale_intercept)
    return out


def decode_workers() -> int:
    """Threads that decode frames: one per core this process may run on (decoders release
    the GIL). The affinity mask, not ``os.cpu_count()``, so that a process confined to a few
    cores (taskset, a container's cpuset) does not start one thread per core of the host."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # macOS and Windows have no affinity call
        return max(1, os.cpu_count() or 1)


@dataclass
class _Decoded:
    """Stored values of a plan's frames, as :func:`_decode_frames` leaves them."""

    #: (frames, rows, columns[, 3]) stored values; rows of failed frames are undefined.
    stack: np.ndarray | None = None
    #: (min, max) stored value of each decoded frame, by frame index.
    ranges: dict[int, tuple[float, float]] = field(default_factory=dict)
    failed: list[int] = field(default_factory=list)


def _value_range(arr: np.ndarray) -> tuple[float, float]:
    return (float(arr.min()), float(arr.max())) if arr.size else (0.0, 0.0)


def _decode_frames(
    frames: list[FrameHeader],
    *,
    progress: ProgressCallback | None,
    cancel: CancelToken | None,
    on_first_slice: FirstSliceCallback | None,
    skipped: list[SkippedFile] | None,
) -> _Decoded:
    """Decode every frame, the middle one first, the rest in parallel threads.

    The first frame that decodes (the middle one unless it fails) is read in this thread:
    it fixes the stack's shape and type, and reaches ``on_first_slice`` without waiting for
    the pool. Then one thread per core takes frames in turn and writes each straight into
    the stack, so at most one decoded frame per thread exists outside it. Progress and
    cancellation are handled here, between frames, as before.
    """
    total = len(frames)
    middle = total // 2
    order: Iterator[int] = iter([middle, *[n for n in range(total) if n != middle]])
    reader = FrameReader()
    result = _Decoded()
    done = 0

    def failed(n: int, exc: PixelDecodeError) -> None:
        result.failed.append(n)
        if skipped is not None:
            skipped.append(SkippedFile(_frame_name(frames[n]), str(exc)))
        logger.info("frame skipped: %s", exc)

    for n in order:
        check_cancel(cancel)
        done += 1
        try:
            first = reader.read(frames[n])
        except PixelDecodeError as exc:
            failed(n, exc)
            report(progress, done, total, "reading")
            continue
        result.stack = np.empty((total, *first.shape), dtype=first.dtype)
        result.stack[n] = first
        result.ranges[n] = _value_range(first)
        if n == middle and on_first_slice is not None:
            on_first_slice(n, _rescale_one(first, frames[n]))
        report(progress, done, total, "reading")
        break
    if result.stack is None:
        return result
    stack: np.ndarray = result.stack

    # A frame whose type differs from the first (a mixed series) waits here until the
    # stack is widened to hold both.
    odd: dict[int, np.ndarray] = {}

    def work(n: int) -> tuple[float, float]:
        arr = reader.read(frames[n])
        if arr.shape != stack.shape[1:]:
            raise StudyLoadError("Images in this series have different sizes after decoding.")
        if arr.dtype == stack.dtype:
            stack[n] = arr
        else:
            odd[n] = arr
        return _value_range(arr)

    rest = list(order)
    jobs = iter(rest)
    taking = threading.Lock()
    stop = threading.Event()
    finished: queue.SimpleQueue[tuple[int, tuple[float, float] | None, BaseException | None]]
    finished = queue.SimpleQueue()

    def decode_until_done() -> None:
        # Each thread takes the next frame itself, so it never waits for this (calling)
        # thread, which a busy machine may not schedule for a while.
        while not stop.is_set():
            with taking:
                n = next(jobs, None)
            if n is None:
                return
            try:
                finished.put((n, work(n), None))
            except BaseException as exc:  # handed to the calling thread, which raises it
                finished.put((n, None, exc))

    workers = min(decode_workers(), len(rest))
    pool = ThreadPoolExecutor(max_workers=max(workers, 1), thread_name_prefix="voxrad-decode")
    try:
        for _ in range(workers):
            pool.submit(decode_until_done)
        for _ in rest:
            n, value_range, error = finished.get()
            done += 1
            if isinstance(error, PixelDecodeError):
                failed(n, error)
            elif error is not None:
                raise error
            else:
                assert value_range is not None
                result.ranges[n] = value_range
            report(progress, done, total, "reading")
            check_cancel(cancel)
    finally:
        # On cancel or error the threads stop after their current frame.
        stop.set()
        pool.shutdown(wait=True)
    if odd:
        wide = np.result_type(stack.dtype, *(a.dtype for a in odd.values()))
        result.stack = stack = stack.astype(wide)
        for n, arr in odd.items():
            stack[n] = arr
    return result


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
