"""Overlay items in image coordinates, shared by every view of a volume.

Coordinates are those of the acquired image, the way a detector or a vision-language model
reports them: ``x`` is the column, ``y`` the row, ``k`` the slice index. A box uses **pixel
edge** coordinates (pixel ``(row, col)`` covers ``[col, col + 1) x [row, row + 1)``), so a box
``(x0=10, y0=20, x1=30, y1=40)`` covers columns 10..29 and rows 20..39. Points and callout
anchors use **pixel centre** coordinates (``(col, row)`` is the centre of that pixel).

The layer is a plain container with a change counter and listeners; views redraw when it
changes. Items carry an ``id`` so the conversation panel can highlight one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

Color = tuple[float, float, float]

DEFAULT_COLOR: Color = (1.0, 0.75, 0.0)


@dataclass(frozen=True)
class OverlayBox:
    """A rectangle on slice ``k`` in pixel edge coordinates."""

    id: str
    k: int
    x0: float
    y0: float
    x1: float
    y1: float
    label: str = ""
    color: Color = DEFAULT_COLOR

    def index_extent(self) -> tuple[tuple[float, float], tuple[float, float], tuple[float, float]]:
        """Continuous index ranges ``(i, j, k)`` the box covers (pixel centres are integers)."""
        xa, xb = sorted((self.x0, self.x1))
        ya, yb = sorted((self.y0, self.y1))
        return (xa - 0.5, xb - 0.5), (ya - 0.5, yb - 0.5), (self.k - 0.5, self.k + 0.5)


@dataclass(frozen=True)
class OverlayPoint:
    """A marked point at pixel centre ``(col, row)`` of slice ``k``."""

    id: str
    k: float
    row: float
    col: float
    label: str = ""
    color: Color = DEFAULT_COLOR


@dataclass(frozen=True)
class OverlayCallout:
    """A text note anchored at pixel centre ``(col, row)`` of slice ``k``."""

    id: str
    k: float
    row: float
    col: float
    text: str
    color: Color = DEFAULT_COLOR


@dataclass(frozen=True, eq=False)
class OverlayMask:
    """A segmentation: ``voxels`` is a boolean array of the volume's shape ``(k, j, i)``.

    Drawn as a translucent colour on every plane it crosses (axial, coronal, sagittal).
    """

    id: str
    voxels: np.ndarray
    label: str = ""
    color: Color = DEFAULT_COLOR
    opacity: float = 0.35


OverlayItem = OverlayBox | OverlayPoint | OverlayCallout | OverlayMask


class OverlayLayer:
    """The overlay items of one volume, with the highlighted id."""

    def __init__(self) -> None:
        self._items: dict[str, OverlayItem] = {}
        self._highlighted: str | None = None
        self._listeners: list[Callable[[], None]] = []
        self.version = 0

    # -- contents ------------------------------------------------------------------------------
    def add(self, item: OverlayItem) -> None:
        """Add or replace the item with ``item.id``."""
        self._items[item.id] = item
        self._changed()

    def remove(self, item_id: str) -> None:
        """Remove an item; unknown ids are ignored (the item may already be gone)."""
        if self._items.pop(item_id, None) is not None:
            if self._highlighted == item_id:
                self._highlighted = None
            self._changed()

    def clear(self) -> None:
        """Remove every item."""
        if self._items:
            self._items.clear()
            self._highlighted = None
            self._changed()

    def get(self, item_id: str) -> OverlayItem | None:
        return self._items.get(item_id)

    def __iter__(self) -> Iterator[OverlayItem]:
        return iter(list(self._items.values()))

    def __len__(self) -> int:
        return len(self._items)

    # -- highlight -----------------------------------------------------------------------------
    @property
    def highlighted(self) -> str | None:
        return self._highlighted

    def highlight(self, item_id: str | None) -> None:
        """Emphasise one item (``None`` clears). Unknown ids raise ``KeyError``."""
        if item_id is not None and item_id not in self._items:
            raise KeyError(item_id)
        if item_id != self._highlighted:
            self._highlighted = item_id
            self._changed()

    # -- listeners -----------------------------------------------------------------------------
    def subscribe(self, listener: Callable[[], None]) -> None:
        self._listeners.append(listener)

    def unsubscribe(self, listener: Callable[[], None]) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    def _changed(self) -> None:
        self.version += 1
        for listener in list(self._listeners):
            listener()
