"""Turn the frames of one DICOM series into displayable stacks with honest geometry.

Pure planning: headers in, :class:`StackPlan` out, no pixels read. The traps handled here:
scouts and secondary captures mixed into a series, mixed sizes or orientations, duplicate
positions (echoes, phases, repeated files), gantry tilt, variable spacing and missing slices.
Each becomes its own stack, a resampling instruction, or a warning; never a silent distortion.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from voxrad.core.geometry import angle_degrees, plane_name, slice_normal
from voxrad.imaging.dicom.duplicates import POSITION_TOLERANCE_MM, resolve_duplicates, sort_along
from voxrad.imaging.dicom.headers import FrameHeader

#: Angle between the stacking direction and the slice normal above which a series is tilted.
TILT_TOLERANCE_DEG = 0.5


def spacing_tolerance(typical: float) -> float:
    """How far a gap may stray from the typical gap (mm) and still count as regular."""
    return max(0.02, 0.02 * typical)


@dataclass
class StackPlan:
    """One displayable stack: which frames, in which order, on which grid."""

    key: str
    frames: list[FrameHeader]
    #: "volume" (positioned slices), "image" (one image), "images" (unpositioned stack),
    #: "cine" (frames over time).
    kind: str
    description: str
    warnings: list[str] = field(default_factory=list)
    row_direction: np.ndarray | None = None
    column_direction: np.ndarray | None = None
    normal: np.ndarray | None = None
    #: Position of each frame along the normal relative to the first (mm).
    offsets_normal: np.ndarray | None = None
    #: In-plane offset (along row direction, along column direction) of each frame (mm).
    offsets_in_plane: np.ndarray | None = None
    #: (slice, row, column) spacing in mm of the volume as built.
    spacing: tuple[float, float, float] = (1.0, 1.0, 1.0)
    spacing_calibrated: bool = True
    #: True when slices must be resampled onto a regular orthogonal grid.
    resample: bool = False
    tilt_degrees: float = 0.0

    @property
    def first(self) -> FrameHeader:
        return self.frames[0]

    @property
    def is_positioned(self) -> bool:
        return self.normal is not None

    def output_slices(self) -> int:
        """Number of slices in the built volume."""
        if not self.resample or self.offsets_normal is None:
            return len(self.frames)
        extent = float(self.offsets_normal[-1])
        return int(np.floor(extent / self.spacing[0] + 1e-6)) + 1

    def in_plane_padding(self) -> tuple[int, int, float, float]:
        """Rows and columns added by tilt correction, and the grid's in-plane start (mm).

        Returns ``(extra_rows, extra_columns, start_along_row, start_along_column)``: the
        grid starts at the most negative in-plane offset so every acquired pixel fits.
        """
        if not self.resample or self.offsets_in_plane is None:
            return 0, 0, 0.0, 0.0
        off = self.offsets_in_plane
        _, dy, dx = self.spacing
        r0, c0 = float(off[:, 0].min()), float(off[:, 1].min())
        extra_cols = int(np.ceil((float(off[:, 0].max()) - r0) / dx - 1e-6))
        extra_rows = int(np.ceil((float(off[:, 1].max()) - c0) / dy - 1e-6))
        return extra_rows, extra_cols, r0, c0

    def output_shape(self) -> tuple[int, int, int]:
        """(slices, rows, columns) of the volume as it will be built."""
        extra_rows, extra_cols, _, _ = self.in_plane_padding()
        return self.output_slices(), self.first.rows + extra_rows, self.first.columns + extra_cols


def plan_series(frames: Sequence[FrameHeader]) -> list[StackPlan]:
    """Split one series' frames into stacks and plan each one's geometry."""
    if not frames:
        return []
    uid = frames[0].series_uid
    description = frames[0].series_description

    positioned = [f for f in frames if f.position is not None and f.orientation is not None]
    loose = [f for f in frames if f.position is None or f.orientation is None]

    groups: list[tuple[str, list[FrameHeader]]] = []
    reasons: set[str] = set()
    if positioned:
        groups.extend(_split_positioned(positioned, reasons))
    if loose:
        groups.extend(_split_loose(loose, reasons))

    plans: list[StackPlan] = []
    for n, (label, members) in enumerate(groups):
        key = uid if n == 0 else f"{uid}#{n + 1}"
        desc = f"{description} ({label})" if label and len(groups) > 1 else description
        plans.extend(_plan_group(key, desc, members))
    if len(plans) > 1 and reasons:
        note = (
            f"This series was split into {len(plans)} parts because it mixes "
            + ", ".join(sorted(reasons))
            + "."
        )
        for plan in plans:
            plan.warnings.insert(0, note)
    # Keys must stay unique when a group itself split further.
    seen: dict[str, int] = {}
    for plan in plans:
        if plan.key in seen:
            seen[plan.key] += 1
            plan.key = f"{plan.key}.{seen[plan.key]}"
        else:
            seen[plan.key] = 1
    return plans


def _orientation_key(f: FrameHeader) -> tuple[float, ...]:
    assert f.orientation is not None
    return tuple(round(v, 3) + 0.0 for v in f.orientation)


def _size_key(f: FrameHeader) -> tuple[int, int, int]:
    return f.rows, f.columns, f.samples_per_pixel


def _spacing_key(f: FrameHeader) -> tuple[float, ...]:
    return tuple(round(v, 4) for v in f.pixel_spacing) if f.pixel_spacing else ()


def _split_positioned(
    frames: list[FrameHeader], reasons: set[str]
) -> list[tuple[str, list[FrameHeader]]]:
    """Separate scouts, secondary captures, sizes, orientations and pixel spacings."""
    buckets: dict[tuple[Any, ...], list[FrameHeader]] = defaultdict(list)
    for f in frames:
        role = "localizer" if f.is_localizer else ("capture" if f.is_secondary_capture else "")
        buckets[(role, _size_key(f), _orientation_key(f), _spacing_key(f))].append(f)
    if len(buckets) > 1:
        keys = list(buckets)
        if len({k[0] for k in keys}) > 1:
            reasons.add("scout/localizer or captured images")
        if len({k[1] for k in keys}) > 1:
            reasons.add("image sizes")
        if len({k[2] for k in keys}) > 1:
            reasons.add("image orientations")
        if len({k[3] for k in keys}) > 1:
            reasons.add("pixel spacings")
    ordered = sorted(buckets.items(), key=lambda kv: (kv[0][0] != "", -len(kv[1])))
    out = []
    for (role, _size, orientation, _sp), members in ordered:
        if role == "localizer":
            label = "localizer"
        elif role == "capture":
            label = "secondary capture"
        else:
            label = plane_name(slice_normal(np.array(orientation[:3]), np.array(orientation[3:])))
        out.append((label, members))
    return out


def _split_loose(
    frames: list[FrameHeader], reasons: set[str]
) -> list[tuple[str, list[FrameHeader]]]:
    """Frames with no patient position: cine loops per file, other images by size."""
    out: list[tuple[str, list[FrameHeader]]] = []
    by_file: dict[str, list[FrameHeader]] = defaultdict(list)
    singles: dict[tuple[int, int, int], list[FrameHeader]] = defaultdict(list)
    for f in frames:
        if f.frame is not None:
            by_file[f.source.name].append(f)
        else:
            singles[_size_key(f)].append(f)
    for members in by_file.values():
        out.append(("cine" if len(members) > 1 else "image", members))
    if len(singles) > 1:
        reasons.add("image sizes")
    for members in singles.values():
        out.append(("image" if len(members) == 1 else "images", members))
    return out


def _plan_group(key: str, description: str, frames: list[FrameHeader]) -> list[StackPlan]:
    first = frames[0]
    if first.position is None or first.orientation is None:
        return [_plan_unpositioned(key, description, frames)]
    row = np.array(first.orientation[:3], dtype=np.float64)
    col = np.array(first.orientation[3:], dtype=np.float64)
    row /= np.linalg.norm(row) or 1.0
    col /= np.linalg.norm(col) or 1.0
    try:
        normal = slice_normal(row, col)
    except ValueError:
        plan = _plan_unpositioned(key, description, frames)
        plan.warnings.append("The image orientation in the file is invalid; 3-D is not available.")
        return [plan]

    warnings: list[str] = []
    stacks = resolve_duplicates(frames, normal, warnings)
    plans = []
    for n, (label, members) in enumerate(stacks):
        sub_key = key if n == 0 else f"{key}.{n + 1}"
        desc = f"{description} ({label})" if label else description
        plan = _plan_positioned(sub_key, desc, members, row, col, normal)
        plan.warnings[:0] = warnings
        plans.append(plan)
    return plans


def _plan_positioned(
    key: str,
    description: str,
    frames: list[FrameHeader],
    row: np.ndarray,
    col: np.ndarray,
    normal: np.ndarray,
) -> StackPlan:
    frames = sort_along(frames, normal)
    first = frames[0]
    positions = np.array([f.position for f in frames], dtype=np.float64)
    rel = positions - positions[0]
    s = rel @ normal
    in_plane = np.stack([rel @ row, rel @ col], axis=1)
    row_spacing, col_spacing = first.pixel_spacing or (1.0, 1.0)
    plan = StackPlan(
        key=key,
        frames=frames,
        kind="volume" if len(frames) > 1 else "image",
        description=description,
        row_direction=row,
        column_direction=col,
        normal=normal,
        offsets_normal=s,
        offsets_in_plane=in_plane,
        spacing_calibrated=first.pixel_spacing is not None,
    )
    if first.pixel_spacing is None:
        plan.warnings.append("The file gives no pixel spacing: distances are in pixels, not mm.")
    elif first.spacing_source == "ImagerPixelSpacing":
        plan.warnings.append(
            "Pixel spacing is measured at the detector (ImagerPixelSpacing), not at the patient: "
            "distances may be magnified by up to 10-20%."
        )

    if len(frames) == 1:
        thickness = first.slice_thickness or 1.0
        plan.spacing = (thickness, row_spacing, col_spacing)
        return plan

    gaps = np.diff(s)
    # Tilt: the stack advances along a direction that is not the slice normal.
    stack_dir = rel[-1] / (np.linalg.norm(rel[-1]) or 1.0)
    tilt = angle_degrees(stack_dir, normal)
    if tilt > TILT_TOLERANCE_DEG:
        plan.tilt_degrees = tilt
        plan.resample = True
        stated = f" (header says {first.gantry_tilt:g}°)" if first.gantry_tilt else ""
        plan.warnings.append(
            f"Gantry tilt of {tilt:.1f}°{stated}: slices were shifted onto an orthogonal grid "
            "so that 3-D, MPR and measurements are not distorted."
        )

    median = float(np.median(gaps))
    regular = [g for g in gaps if g >= 0.5 * median]
    step = float(min(regular)) if regular else median
    tol = spacing_tolerance(step)
    if float(gaps.max() - gaps.min()) > tol:
        plan.resample = True
        multiples = gaps / step
        near_integer = np.abs(multiples - np.rint(multiples)) * step <= tol
        mostly_step = np.count_nonzero(np.abs(gaps - step) <= tol) >= 0.5 * len(gaps)
        if bool(np.all(near_integer)) and mostly_step:
            missing = int(np.sum(np.rint(multiples) - 1))
            where = [
                f"{float(s[n]):.1f}–{float(s[n + 1]):.1f} mm"
                for n in np.flatnonzero(np.rint(multiples) > 1)
            ]
            plan.warnings.append(
                f"About {missing} slices appear to be missing (gaps at {', '.join(where[:5])} from "
                f"the first slice; expected spacing {step:.2f} mm). The gaps were filled by "
                "interpolation: do not read those positions as acquired images."
            )
        else:
            plan.warnings.append(
                f"Slice spacing varies from {float(gaps.min()):.2f} to {float(gaps.max()):.2f} mm: "
                f"the volume was resampled to a uniform {step:.2f} mm; slices between acquired "
                "positions are interpolated."
            )
    plan.spacing = (step if plan.resample else float(np.mean(gaps)), row_spacing, col_spacing)
    if step < POSITION_TOLERANCE_MM:
        plan.spacing = (first.slice_thickness or 1.0, row_spacing, col_spacing)
    return plan


def _plan_unpositioned(key: str, description: str, frames: list[FrameHeader]) -> StackPlan:
    first = frames[0]
    is_cine = first.frame is not None and len(frames) > 1
    if first.frame is not None:
        frames = sorted(frames, key=lambda f: f.frame or 0)
    else:
        frames = sorted(frames, key=lambda f: (f.instance_number or 0, f.source.name))
    row_spacing, col_spacing = first.pixel_spacing or (1.0, 1.0)
    kind = "cine" if is_cine else ("image" if len(frames) == 1 else "images")
    plan = StackPlan(
        key=key,
        frames=frames,
        kind=kind,
        description=description,
        spacing=(1.0, row_spacing, col_spacing),
        spacing_calibrated=first.pixel_spacing is not None,
    )
    if kind == "cine":
        plan.warnings.append("Frames are a time sequence (cine), not slices: 3-D is not available.")
    elif kind == "images":
        plan.warnings.append(
            "These images carry no patient position: they are ordered by instance number, and "
            "MPR and 3-D are not available."
        )
    if first.pixel_spacing is None:
        plan.warnings.append("The file gives no pixel spacing: distances are in pixels, not mm.")
    elif first.spacing_source == "ImagerPixelSpacing":
        plan.warnings.append(
            "Pixel spacing is measured at the detector (ImagerPixelSpacing), not at the patient: "
            "distances may be magnified by up to 10-20%."
        )
    return plan
