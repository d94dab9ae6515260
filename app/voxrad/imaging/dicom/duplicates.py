"""Frames that share a slice position: copies of one file, or interleaved stacks."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from voxrad.imaging.dicom.headers import FrameHeader

#: Two slices closer than this along the normal (mm) share a position.
POSITION_TOLERANCE_MM = 0.01


def along(frames: Sequence[FrameHeader], normal: np.ndarray) -> np.ndarray:
    """Position of each frame along the slice normal (mm)."""
    return np.array([np.dot(f.position, normal) for f in frames], dtype=np.float64)  # type: ignore[arg-type]


def sort_along(frames: Sequence[FrameHeader], normal: np.ndarray) -> list[FrameHeader]:
    """Frames in increasing position along the normal (instance number breaks ties)."""
    s = along(frames, normal)
    order = sorted(range(len(frames)), key=lambda n: (s[n], frames[n].instance_number or 0))
    return [frames[n] for n in order]


def has_duplicates(frames: Sequence[FrameHeader], normal: np.ndarray) -> bool:
    s = np.sort(along(frames, normal))
    return bool(len(s) > 1 and np.any(np.diff(s) < POSITION_TOLERANCE_MM))


_SPLIT_KEYS: tuple[tuple[str, Callable[[FrameHeader], Any]], ...] = (
    ("echo", lambda f: f.echo_number),
    ("phase", lambda f: f.temporal_position),
    ("acquisition", lambda f: f.acquisition_number),
    ("trigger time", lambda f: f.trigger_time),
    ("dimension", lambda f: f.extra.get("dimension_index", (None,))[:-1] or None),
    ("type", lambda f: f.image_type),
)


def resolve_duplicates(
    frames: list[FrameHeader], normal: np.ndarray, warnings: list[str]
) -> list[tuple[str, list[FrameHeader]]]:
    """Frames sharing a position: copies, or several stacks interleaved (echoes, phases)."""
    unique: dict[str, FrameHeader] = {}
    copies = 0
    for f in frames:
        ident = (
            f"{f.sop_instance_uid}/{f.frame}"
            if f.sop_instance_uid
            else f"{f.source.name}/{f.frame}"
        )
        if ident in unique:
            copies += 1
            continue
        unique[ident] = f
    frames = list(unique.values())
    if copies:
        warnings.append(f"{copies} duplicate copies of the same image were ignored.")
    if not has_duplicates(frames, normal):
        return [("", frames)]

    for label, keyfn in _SPLIT_KEYS:
        buckets: dict[Any, list[FrameHeader]] = defaultdict(list)
        for f in frames:
            buckets[keyfn(f)].append(f)
        if (
            len(buckets) > 1
            and None not in buckets
            and all(not has_duplicates(m, normal) for m in buckets.values())
        ):
            warnings.append(
                f"This series holds {len(buckets)} interleaved stacks (by {label}); "
                "each is shown as its own series."
            )
            ordered = sorted(buckets.items(), key=lambda kv: str(kv[0]))
            return [(f"{label} {_fmt_key(k)}", m) for k, m in ordered]

    # No tag explains the repeats: keep the first image at each position.
    kept: list[FrameHeader] = []
    dropped = 0
    for f in sort_along(frames, normal):
        s = float(np.dot(f.position, normal))  # type: ignore[arg-type]
        if kept and abs(s - float(np.dot(kept[-1].position, normal))) < POSITION_TOLERANCE_MM:  # type: ignore[arg-type]
            dropped += 1
            continue
        kept.append(f)
    warnings.append(
        f"{dropped} images repeat a slice position with different content and were left out; "
        "check the series on the PACS."
    )
    return [("", kept)]


def _fmt_key(key: Any) -> str:
    if isinstance(key, tuple):
        return "/".join(str(k) for k in key)
    if isinstance(key, float):
        return f"{key:g}"
    return str(key)
