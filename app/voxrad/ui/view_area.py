"""The view area: axial, coronal, sagittal and 3-D views in a 1x1 or 2x2 layout.

All slice views share one vtkImageData (no copies per view), one overlay layer and one list
of measurements; a click in one view moves the linked cursor in the others.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import QGridLayout, QWidget

from voxrad.core.overlay import OverlayBox, OverlayLayer, OverlayMask
from voxrad.core.volume import Volume
from voxrad.render.capture import save_png
from voxrad.render.image_data import volume_to_image_data
from voxrad.render.overlay_actors import Shape
from voxrad.ui.slice_view import SliceView
from voxrad.ui.volume_view import VolumeView

logger = logging.getLogger(__name__)

VIEW_NAMES = ("axial", "coronal", "sagittal", "3d")
#: Grid cells of the 2x2 layout (3D Slicer's "four-up": axial top-left, 3-D top-right).
_GRID = {"axial": (0, 0), "3d": (0, 1), "coronal": (1, 0), "sagittal": (1, 1)}


@dataclass(frozen=True)
class Measurement:
    """One distance or ellipse ROI, listed in the window and deletable."""

    id: str
    kind: str
    text: str
    shape: Shape


class ViewArea(QWidget):
    """Owns the views and what they share."""

    region_picked = Signal(object)
    measurements_changed = Signal()
    hovered = Signal(str)
    active_changed = Signal(str)
    #: The views were redrawn by a :meth:`render_later` request (or a render that covered it).
    rendered = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.grid = QGridLayout(self)
        self.grid.setContentsMargins(0, 0, 0, 0)
        self.grid.setSpacing(2)
        self.layer = OverlayLayer()
        self.views: dict[str, SliceView] = {}
        for name in VIEW_NAMES[:3]:
            view = SliceView(self, plane=name)
            view.scene.set_layer(self.layer)
            view.cursor_moved.connect(self._cursor_moved)
            view.region_picked.connect(self.region_picked)
            view.measured.connect(self._measured)
            view.hovered.connect(self.hovered)
            view.activated.connect(self._activated)
            self.views[name] = view
        self.volume_view: VolumeView | None = None  # created on first use: costs a GL context
        self.volume: Volume | None = None
        self.image: object = None
        self.layout_name = "1x1"
        self.active = "axial"
        self.measurements: list[Measurement] = []
        self._ids = itertools.count(1)
        # A zero-timer: its redraw runs on the next event-loop pass, after the input waiting.
        self._render_timer = QTimer(self)
        self._render_timer.setSingleShot(True)
        self._render_timer.setInterval(0)
        self._render_timer.timeout.connect(self._render_deferred)
        self._dirty: set[SliceView | VolumeView] = set()
        self._deferring = False
        self._arrange()

    # -- volume --------------------------------------------------------------------------------
    def set_volume(self, volume: Volume) -> None:
        """Show ``volume`` in every view; a single image keeps only the 2-D view."""
        self.volume = volume
        self.image = volume_to_image_data(volume)
        self.layer.clear()
        self.measurements.clear()
        self.measurements_changed.emit()
        single = volume.is_single_image
        if single:
            self.active = "axial"
        center = (np.asarray(volume.shape) - 1) / 2.0
        for name, view in self.views.items():
            view.scene.set_crosshair(None)
            plane = "acquired" if single and name == "axial" else name
            if single and name != "axial":
                continue
            view.set_volume(volume, self.image, plane=plane)
            view.set_measure_shapes([])
        if not single:
            for view in self.views.values():
                view.scene.set_crosshair(center, visible=self.layout_name == "2x2")
        if self.volume_view is not None and self.volume_view.scene is not None:
            self.volume_view.scene.volume = None
        self._arrange()

    @property
    def supports_mpr(self) -> bool:
        return self.volume is not None and not self.volume.is_single_image

    # -- layout --------------------------------------------------------------------------------
    def set_layout(self, name: str) -> None:
        """ "1x1" (the active view) or "2x2" (all four)."""
        if name not in ("1x1", "2x2"):
            raise ValueError(name)
        self.layout_name = name
        self._arrange()

    def show_view(self, name: str) -> None:
        """Make ``name`` active (and the one shown in 1x1)."""
        if name not in VIEW_NAMES:
            raise ValueError(name)
        if name != "axial" and self.volume is not None and not self.supports_mpr:
            return
        self.active = name
        self.active_changed.emit(name)
        self._arrange()

    def _ensure_volume_view(self) -> VolumeView:
        if self.volume_view is None:
            self.volume_view = VolumeView(self)
            self.volume_view.activated.connect(lambda _v: self._set_active("3d"))
        return self.volume_view

    def _arrange(self) -> None:
        while self.grid.count():
            self.grid.takeAt(0)
        wanted = list(VIEW_NAMES) if self.layout_name == "2x2" else [self.active]
        if self.volume is not None and not self.supports_mpr:
            wanted = ["axial"]  # a single image has no other planes
        if "3d" in wanted and self.volume is not None and self.supports_mpr:
            self._ensure_volume_view()
        elif "3d" in wanted:
            wanted.remove("3d")
        for name in VIEW_NAMES:
            widget = self.widget(name)
            if widget is None:
                continue
            if name in wanted:
                row, col = _GRID[name] if self.layout_name == "2x2" else (0, 0)
                self.grid.addWidget(widget, row, col)
                widget.show()
            else:
                widget.hide()
        show_cross = self.layout_name == "2x2" and self.supports_mpr
        for view in self.views.values():
            view.scene.show_crosshair = show_cross
            view.scene.set_crosshair(view.scene.crosshair_kji)
        vv = self.volume_view
        stale = vv is not None and (vv.scene is None or vv.scene.volume is not self.volume)
        if vv is not None and stale and "3d" in wanted and self.volume is not None:
            vv.set_volume(self.volume, self.image)
        self.render_all()

    def widget(self, name: str) -> SliceView | VolumeView | None:
        return self.volume_view if name == "3d" else self.views.get(name)

    def active_widget(self) -> SliceView | VolumeView | None:
        return self.widget(self.active)

    def acquired_view(self) -> SliceView:
        """The view that shows acquired slices (normal along k), where boxes are drawn and
        regions are picked for questions."""
        for view in self.views.values():
            if view.scene.volume is not None and view.scene.axes.normal == 2:
                return view
        return self.views["axial"]

    def active_slice_view(self) -> SliceView | None:
        """The active 2-D view (the axial one while the 3-D view is active)."""
        return self.views.get(self.active) or self.views["axial"]

    def _shown_slice_views(self) -> list[SliceView]:
        """The 2-D views on screen: the ones the area's shared state is drawn in.

        The 3-D view shows none of it (overlays, cursor, measurements, slice, window): it
        redraws itself whenever its own content changes (volume, preset, camera; Qt's paint
        events on show and resize), so a redraw of the area leaves it alone. With software
        OpenGL one 3-D frame costs about 170 ms: redrawing it for an answer's boxes in the
        2x2 layout would stall the window for nothing.
        """
        return [v for v in self.views.values() if v.isVisible()]

    def render_all(self) -> None:
        """Redraw every shown 2-D view now (this also does a pending :meth:`render_later`).

        The 3-D view draws itself when its content changes (see :meth:`_shown_slice_views`).
        """
        if self._deferring:
            self.render_later()
            return
        pending = self._render_timer.isActive()
        self._render_timer.stop()
        dirty, self._dirty = self._dirty, set()
        if self.volume is not None:
            for widget in {*self._shown_slice_views(), *(w for w in dirty if w.isVisible())}:
                widget.refresh()
        if pending:
            self.rendered.emit()

    def render_later(self, widget: SliceView | VolumeView | None = None) -> None:
        """Redraw ``widget`` (default: every shown 2-D view) once, on the next event-loop pass.

        With software OpenGL one redraw still costs several milliseconds, so a slot that has
        other work to do (an answer filling the panel) asks for the redraw here instead of
        doing both at once; requests before the redraw make one per view.
        """
        self._dirty.update([widget] if widget is not None else self._shown_slice_views())
        if not self._render_timer.isActive():
            self._render_timer.start()

    @property
    def render_pending(self) -> bool:
        """Whether a :meth:`render_later` redraw (of any requested view) has not happened yet."""
        return self._render_timer.isActive()

    @contextmanager
    def renders_deferred(self) -> Iterator[None]:
        """Inside, the slice views' renders (and :meth:`render_all`) become one
        :meth:`render_later` per view: for work done in a slot that also updates other widgets."""
        self._deferring = True
        for view in self.views.values():
            view.defer_render = self.render_later
        try:
            yield
        finally:
            self._deferring = False
            for view in self.views.values():
                view.defer_render = None

    def _render_deferred(self) -> None:
        """Redraw one requested view per event-loop pass, the active one first, so input
        waiting between two views' redraws (2x2 layout) is handled in between."""
        order = [self.active_widget(), *(self.widget(name) for name in VIEW_NAMES)]
        queue = [w for w in dict.fromkeys(order) if w is not None and w in self._dirty]
        self._dirty = set(queue)
        for widget in queue:
            self._dirty.discard(widget)
            if self.volume is not None and widget.isVisible():
                widget.refresh()
                break
        if self._dirty:
            self._render_timer.start()
            return
        self.rendered.emit()

    # -- shared state --------------------------------------------------------------------------
    def _set_active(self, name: str) -> None:
        if name != self.active:
            self.active = name
            self.active_changed.emit(name)

    def _activated(self, view: SliceView) -> None:
        self._set_active(view.plane)

    def _cursor_moved(self, kji: np.ndarray, *, move_all: bool = False) -> None:
        """Linked crosshair: every other plane (or every plane) goes to the point."""
        for view in self.views.values():
            if view.scene.volume is None:
                continue
            view.scene.set_crosshair(kji)
            if move_all or view.scene.axes.name != self.active:
                view.go_to(round(float(np.asarray(kji)[::-1][view.scene.axes.normal])))
            view.refresh()

    def _measured(self, payload: tuple[str, str, Shape]) -> None:
        kind, text, shape = payload
        self.measurements.append(Measurement(f"m{next(self._ids)}", kind, text, shape))
        self._push_measurements()

    def delete_measurement(self, measurement_id: str) -> None:
        self.measurements = [m for m in self.measurements if m.id != measurement_id]
        self._push_measurements()

    def clear_measurements(self) -> None:
        self.measurements = []
        self._push_measurements()

    def _push_measurements(self) -> None:
        shapes = [m.shape for m in self.measurements]
        for view in self.views.values():
            view.set_measure_shapes(shapes)
            view.refresh()
        self.measurements_changed.emit()

    def focus_overlay(self, item_id: str | None) -> None:
        """Highlight one overlay item (the conversation panel's "show me") and bring every
        view to it; ``None`` clears the highlight."""
        self.layer.highlight(item_id)
        item = self.layer.get(item_id) if item_id is not None else None
        if item is not None and self.volume is not None:
            if isinstance(item, OverlayBox):
                (ia, ib), (ja, jb), _ = item.index_extent()
                kji = np.array([item.k, (ja + jb) / 2.0, (ia + ib) / 2.0])
            elif isinstance(item, OverlayMask):
                # The mask's centre of mass: inside any compact structure.
                where = np.argwhere(item.voxels)
                kji = where.mean(axis=0) if where.size else np.full(3, np.nan)
            else:
                kji = np.array([item.k, item.row, item.col], dtype=float)
            if np.all(np.isfinite(kji)):
                self._cursor_moved(kji, move_all=True)
        self.render_all()

    # -- tools ---------------------------------------------------------------------------------
    def set_tool(self, tool: str) -> None:
        for view in self.views.values():
            view.tool = tool

    def export_png(self, path: str) -> None:
        """Save the active view as shown (image, overlays, measurements, annotations)."""
        widget = self.active_widget() or self.views["axial"]
        widget.refresh()
        save_png(widget.GetRenderWindow(), path)

    def close_views(self) -> None:
        for name in VIEW_NAMES:
            widget = self.widget(name)
            if widget is not None:
                widget.close_view()
