"""The mask label volume is rebuilt only when the layer changes (it is asked on every slice
step), and a mask of the wrong shape is refused every time, not only the first."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from render_support import box_volume
from voxrad.core.overlay import OverlayBox, OverlayItem, OverlayLayer, OverlayMask
from voxrad.render.mask_layer import MaskLayer


def test_labels_are_built_once_per_layer_version() -> None:
    volume = box_volume()
    voxels = np.zeros(volume.shape, bool)
    voxels[2, 10:20, 30:40] = True
    layer = OverlayLayer()
    layer.add(OverlayMask("m", voxels))
    masks = MaskLayer()
    masks.update(layer, volume)
    built = masks.labels
    assert built is not None and int(built.sum()) == 100
    masks.update(layer, volume)  # unchanged layer: nothing rebuilt
    assert masks.labels is built
    layer.add(OverlayBox("b", 2, 0, 0, 5, 5))
    masks.update(layer, volume)
    assert masks.labels is not built and np.array_equal(masks.labels, built)
    masks.invalidate()  # a new volume: rebuilt even though the layer did not change
    before = masks.labels
    masks.update(layer, volume)
    assert masks.labels is not before


def test_a_mask_of_the_wrong_shape_is_refused_on_every_update() -> None:
    volume = box_volume()
    layer = OverlayLayer()
    layer.add(OverlayMask("bad", np.zeros((2, 2, 2), bool)))
    masks = MaskLayer()
    for _ in range(2):
        with pytest.raises(ValueError, match="bad"):
            masks.update(layer, volume)


class _CountingLayer(OverlayLayer):
    """Counts how often the layer's items are gone through."""

    scans = 0

    def __iter__(self) -> Iterator[OverlayItem]:
        self.scans += 1
        return super().__iter__()


def test_a_layer_without_masks_is_scanned_once_per_version() -> None:
    volume = box_volume()
    layer = _CountingLayer()
    for n in range(50):
        layer.add(OverlayBox(f"b{n}", 2, 0, 0, 5, 5))
    masks = MaskLayer()
    for _ in range(10):  # ten slice steps
        masks.update(layer, volume)
    assert layer.scans == 1 and masks.labels is None
    layer.add(OverlayBox("new", 2, 0, 0, 5, 5))
    masks.update(layer, volume)
    assert layer.scans == 2
