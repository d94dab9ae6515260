"""numpy volume -> vtkImageData in index world, sharing the voxel buffer where possible."""

from __future__ import annotations

import logging

import numpy as np
from vtkmodules.util.numpy_support import numpy_to_vtk
from vtkmodules.vtkCommonDataModel import vtkImageData

from voxrad.core.volume import Volume

logger = logging.getLogger(__name__)


def volume_to_image_data(volume: Volume) -> vtkImageData:
    """A vtkImageData over the volume's voxels with spacing (x = column, y = row, z = slice).

    The voxel array is wrapped, not copied, when it is C-contiguous (the loader builds it so);
    otherwise one contiguous copy is made and logged. The array is kept alive by attaching it
    to the returned object, so the VTK side never points at freed memory.
    """
    voxels = volume.voxels
    if not voxels.flags.c_contiguous:
        logger.debug("voxels not contiguous; copying %s for VTK", voxels.shape)
        voxels = np.ascontiguousarray(voxels)
    k, j, i = volume.shape
    components = voxels.shape[3] if voxels.ndim == 4 else 1
    flat = voxels.reshape(-1, components) if components > 1 else voxels.reshape(-1)
    array = numpy_to_vtk(flat, deep=False)
    array.SetName("voxels")
    image = vtkImageData()
    image.SetDimensions(i, j, k)
    image.SetSpacing(*volume.spacing_xyz)
    image.SetOrigin(0.0, 0.0, 0.0)
    image.GetPointData().SetScalars(array)
    # VTK wrappers accept Python attributes; this pins the buffer for the image's lifetime.
    image._voxrad_buffer = voxels  # type: ignore[attr-defined]
    return image
