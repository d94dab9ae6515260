"""3-D rendering: software-GL detection, mapper choice, presets (real window under Xvfb)."""

from __future__ import annotations

import numpy as np
import pytest

from render_support import AXIAL, render_window
from voxrad.core.volume import Volume
from voxrad.render.capture import capture_rgb
from voxrad.render.gl_info import gl_info, parse_capabilities
from voxrad.render.volume_scene import VOLUME_PRESETS, VolumeScene, find_volume_preset


def test_parse_capabilities_recognises_software_renderers() -> None:
    report = (
        "OpenGL vendor string:  Mesa\nOpenGL renderer string:  llvmpipe (LLVM 15.0.6, 256 bits)\n"
        "OpenGL version string:  4.5 (Core Profile) Mesa 22.3.6\n"
    )
    info = parse_capabilities(report)
    assert info.renderer.startswith("llvmpipe") and info.software
    gpu = parse_capabilities("OpenGL renderer string: NVIDIA GeForce RTX 4090/PCIe/SSE2\n")
    assert not gpu.software
    assert parse_capabilities("OpenGL renderer string: Google SwiftShader\n").software


def test_unknown_preset_lists_known_names() -> None:
    with pytest.raises(KeyError, match="bone"):
        find_volume_preset("disco")


def _phantom() -> Volume:
    """Air around a soft-tissue cylinder with a bone rod and a contrast-filled vessel."""
    _, j, i = np.mgrid[0:40, 0:64, 0:64]
    voxels = np.full((40, 64, 64), -1000, np.int16)
    r2 = (j - 32) ** 2 + (i - 32) ** 2
    voxels[r2 < 26**2] = 40
    voxels[(j - 32) ** 2 + (i - 20) ** 2 < 5**2] = 1200
    voxels[(j - 32) ** 2 + (i - 44) ** 2 < 4**2] = 300
    return Volume(voxels, spacing=(2.0, 1.5, 1.5), direction=AXIAL, modality="CT", units="HU")


@pytest.mark.gl
def test_software_gl_gets_the_cpu_ray_caster_and_presets_change_the_picture() -> None:
    with render_window((256, 256)) as window:
        info = gl_info(window)
        # This machine has no GPU: Mesa's llvmpipe must be recognised as software.
        assert info.software, info
        scene = VolumeScene(software_gl=info.software)
        window.AddRenderer(scene.renderer)
        assert scene.mapper_name == "vtkFixedPointVolumeRayCastMapper"
        scene.set_volume(_phantom())
        pictures = {}
        for preset in VOLUME_PRESETS:
            scene.set_preset(preset.name)
            window.Render()
            pictures[preset.name] = capture_rgb(window).astype(int)
    background = np.array([13, 13, 18])
    bone = pictures["bone"]
    soft = pictures["soft_tissue"]
    # Bone shows only the rod; soft tissue fills the cylinder: far more non-background pixels.
    lit = {n: int((np.abs(p - background).sum(axis=2) > 30).sum()) for n, p in pictures.items()}
    assert lit["bone"] > 200
    assert lit["soft_tissue"] > 2 * lit["bone"]
    assert np.abs(bone - soft).mean() > 5
    # The vessel preset tints contrast red: many pixels change clearly.
    assert (np.abs(pictures["vessels"] - bone).sum(axis=2) > 60).sum() > 100


def test_gpu_machine_gets_the_smart_mapper() -> None:
    scene = VolumeScene(software_gl=False)
    assert scene.mapper_name == "vtkSmartVolumeMapper"
