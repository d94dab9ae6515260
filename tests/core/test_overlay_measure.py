"""Overlay layer, picked regions and measurements (no Qt, no VTK)."""

from __future__ import annotations

import numpy as np
import pytest

from voxrad.core.measure import distance_mm, ellipse_stats
from voxrad.core.overlay import OverlayBox, OverlayLayer, OverlayPoint
from voxrad.core.region import Region
from voxrad.core.volume import Volume

AXIAL = np.array([[0.0, 0.0, 1.0], [0.0, 1.0, 0.0], [1.0, 0.0, 0.0]])


def test_layer_notifies_and_highlights_by_id() -> None:
    layer = OverlayLayer()
    calls: list[int] = []
    layer.subscribe(lambda: calls.append(layer.version))
    layer.add(OverlayBox("a", 3, 10, 20, 30, 40, "nodule"))
    layer.add(OverlayPoint("b", 3, 5.0, 6.0))
    layer.highlight("a")
    assert layer.highlighted == "a" and len(layer) == 2 and calls == [1, 2, 3]
    with pytest.raises(KeyError):
        layer.highlight("missing")
    layer.remove("a")
    assert layer.highlighted is None and [i.id for i in layer] == ["b"]
    layer.remove("a")  # already gone: no error, no notification
    assert calls == [1, 2, 3, 4]


def test_box_extent_uses_pixel_edges() -> None:
    box = OverlayBox("a", 2, x0=10, y0=20, x1=30, y1=40)
    (ia, ib), (ja, jb), (ka, kb) = box.index_extent()
    # Columns 10..29 have centres 10..29, so edges sit half a pixel outside them.
    assert (ia, ib, ja, jb, ka, kb) == (9.5, 29.5, 19.5, 39.5, 1.5, 2.5)


def test_region_pixel_box_round_trips_an_overlay_box() -> None:
    index = np.array([[2.0, 20.0, 30.0], [2.0, 39.0, 59.0]])
    region = Region("box", "axial", 2, index, index)
    assert region.pixel_box() == (2, 30, 20, 60, 40)


def _volume() -> Volume:
    voxels = np.zeros((3, 50, 60), np.int16)
    voxels[1, 10:30, 10:40] = 100
    voxels[1, 10:30, 25:40] = 300
    return Volume(voxels, (5.0, 0.8, 0.5), direction=AXIAL, modality="CT", units="HU")


def test_distance_in_mm_follows_anisotropic_spacing() -> None:
    vol = _volume()
    assert distance_mm(vol, np.array([1, 0, 0]), np.array([1, 0, 40])) == pytest.approx(20.0)
    assert distance_mm(vol, np.array([0, 0, 0]), np.array([2, 0, 0])) == pytest.approx(10.0)
    assert distance_mm(vol, np.array([1, 0, 0]), np.array([1, 30, 40])) == pytest.approx(
        np.hypot(24.0, 20.0)
    )


def test_ellipse_stats_on_known_values() -> None:
    vol = _volume()
    uniform = ellipse_stats(vol, 0, 1, np.array([1, 20, 17]), np.array([0, 5, 5]))
    assert (uniform.mean, uniform.sd) == (100.0, 0.0)
    assert uniform.count > 60
    assert uniform.area_mm2 == pytest.approx(np.pi * 5 * 5 * 0.8 * 0.5)
    mixed = ellipse_stats(vol, 0, 1, np.array([1, 20, 25]), np.array([0, 6, 8]))
    assert 100.0 < mixed.mean < 300.0 and mixed.sd > 50.0
    empty = ellipse_stats(vol, 0, 1, np.array([1, -100, -100]), np.array([0, 2, 2]))
    assert empty.count == 0 and np.isnan(empty.mean)
