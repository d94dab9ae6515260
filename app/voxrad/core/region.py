"""A region the user picked in a view: what a radiologist points at when asking "what is this?"."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, eq=False)
class Region:
    """A point, box or free-hand outline on one slice of one plane.

    ``kind`` is "point", "box" or "outline". ``index`` holds the voxel indices ``(k, j, i)``
    (continuous, pixel centres at integers) of the point, of the box's two opposite corners,
    or of the outline's vertices; ``patient`` holds the same points in LPS mm. ``plane`` and
    ``slice_index`` say where it was drawn.
    """

    kind: str
    plane: str
    slice_index: int
    index: np.ndarray
    patient: np.ndarray

    def pixel_box(self) -> tuple[int, int, int, int, int]:
        """``(k, x0, y0, x1, y1)`` in pixel edge coordinates of the acquired slice, bounding
        every point (the form :class:`~voxrad.core.overlay.OverlayBox` takes)."""
        idx = np.asarray(self.index, dtype=float)
        k = round(float(np.median(idx[:, 0])))
        x0 = int(np.floor(idx[:, 2].min() + 0.5))
        x1 = int(np.floor(idx[:, 2].max() + 0.5)) + 1
        y0 = int(np.floor(idx[:, 1].min() + 0.5))
        y1 = int(np.floor(idx[:, 1].max() + 0.5)) + 1
        return k, x0, y0, x1, y1
