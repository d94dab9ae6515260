"""Segmentation masks of an overlay layer, drawn over the image on any plane.

All masks of a layer are merged into one label volume (0 = none, n = the n-th mask) that is
resliced exactly like the image, with a lookup table giving each label its colour and
opacity. A vtkImageStack draws it above the image without depth fighting.
"""

from __future__ import annotations

import numpy as np
from vtkmodules.vtkCommonCore import vtkLookupTable
from vtkmodules.vtkCommonDataModel import vtkImageData
from vtkmodules.vtkRenderingCore import vtkImageProperty, vtkImageSlice, vtkImageSliceMapper

import voxrad.render.backends  # noqa: F401  (registers VTK implementations)
from voxrad.core.overlay import OverlayLayer, OverlayMask
from voxrad.core.volume import Volume
from voxrad.render.image_data import volume_to_image_data

_MAX_MASKS = 254  # labels are uint8; 0 means "no mask"


class MaskLayer:
    """The label image, its slice actor and the ids of the masks it holds."""

    def __init__(self) -> None:
        self.mapper = vtkImageSliceMapper()
        self.lut = vtkLookupTable()
        self.property = vtkImageProperty()
        self.property.SetInterpolationTypeToNearest()
        self.property.SetLookupTable(self.lut)
        self.property.UseLookupTableScalarRangeOn()
        self.property.SetLayerNumber(1)
        self.actor = vtkImageSlice()
        self.actor.SetMapper(self.mapper)
        self.actor.SetProperty(self.property)
        self.actor.PickableOff()
        self.actor.SetVisibility(False)
        self.labels: np.ndarray | None = None
        self.ids: list[str] = []
        self._image: vtkImageData | None = None
        self._version = -1

    def update(self, layer: OverlayLayer | None, volume: Volume) -> None:
        """Rebuild the label volume when the layer changed (cheap when it did not)."""
        version = -2 if layer is None else layer.version
        if version == self._version:  # runs on every slice step: the layer rarely changes
            return
        masks = [m for m in (layer or ()) if isinstance(m, OverlayMask)][:_MAX_MASKS]
        self.ids = [m.id for m in masks]
        if not masks:
            self.actor.SetVisibility(False)
            self.labels = None
            self._version = version
            return
        labels = np.zeros(volume.shape, np.uint8)
        for n, mask in enumerate(masks, start=1):
            if mask.voxels.shape != volume.shape:
                raise ValueError(
                    f"mask {mask.id!r} has shape {mask.voxels.shape}, volume {volume.shape}"
                )
            labels[mask.voxels.astype(bool)] = n
        self.labels = labels
        self._version = version  # only once built: a bad mask raises again next time
        highlighted = layer.highlighted if layer is not None else None
        self.lut.SetNumberOfTableValues(len(masks) + 1)
        self.lut.SetTableRange(0, len(masks))
        self.lut.SetTableValue(0, 0.0, 0.0, 0.0, 0.0)
        for n, mask in enumerate(masks, start=1):
            alpha = min(1.0, mask.opacity * (1.8 if mask.id == highlighted else 1.0))
            self.lut.SetTableValue(n, *mask.color, alpha)
        self.lut.Modified()
        proxy = Volume(labels, spacing=volume.spacing, direction=volume.direction)
        self._image = volume_to_image_data(proxy)
        self.mapper.SetInputData(self._image)
        self.actor.SetVisibility(True)

    def invalidate(self) -> None:
        """Forget the cached labels (a new volume is shown)."""
        self._version = -1
        self._image = None

    def show_slice(self, orientation: int, index: int) -> None:
        self.mapper.SetOrientation(orientation)
        self.mapper.SetSliceNumber(index)

    def visible_ids(self, orientation: int, index: int) -> list[str]:
        """Ids of the masks with at least one voxel on this plane and slice."""
        if self.labels is None:
            return []
        plane = np.take(self.labels, index, axis=2 - orientation)
        present = set(np.unique(plane).tolist()) - {0}
        return [self.ids[n - 1] for n in sorted(present)]
