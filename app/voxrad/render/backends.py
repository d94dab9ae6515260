"""Import the VTK modules that register OpenGL, text and volume implementations.

vtkRenderer(), vtkTextActor() and friends are factories: without these modules loaded they
return abstract objects that draw nothing. Every scene module imports this one.
"""

from __future__ import annotations

import vtkmodules.vtkInteractionStyle
import vtkmodules.vtkRenderingFreeType
import vtkmodules.vtkRenderingOpenGL2
import vtkmodules.vtkRenderingVolumeOpenGL2  # noqa: F401
