"""Multisampling and 2-D views: it changes no pixel of the image, only the edge smoothing of
lines, and on software OpenGL it is dropped (it cost most of each redraw there)."""

from __future__ import annotations

import numpy as np
import pytest

from render_support import box_volume, render_window
from voxrad.core.overlay import OverlayBox, OverlayLayer
from voxrad.render.capture import capture_rgb
from voxrad.render.gl_info import drop_multisampling_on_software_gl
from voxrad.render.slice_scene import SliceScene

pytestmark = pytest.mark.gl


def _red(img: np.ndarray) -> np.ndarray:
    return (img[..., 0] > 200) & (img[..., 1] < 60) & (img[..., 2] < 60)


def _shots(samples: int) -> tuple[np.ndarray, np.ndarray]:
    """The axial view (zoomed and panned off the pixel grid) without and with a box."""
    with render_window((400, 300)) as window:
        window.SetMultiSamples(samples)  # type: ignore[attr-defined]
        scene = SliceScene()
        window.AddRenderer(scene.renderer)  # type: ignore[attr-defined]
        scene.set_volume(box_volume(), plane="axial")
        window.Render()  # type: ignore[attr-defined]
        scene.reset_view()
        scene.set_slice(2)
        scene.zoom(1.7)
        scene.pan(13.3, 7.1)
        window.Render()  # type: ignore[attr-defined]
        plain = capture_rgb(window)
        layer = OverlayLayer()
        layer.add(OverlayBox("a", 2, 30, 20, 60, 40, color=(1.0, 0.0, 0.0)))
        scene.set_layer(layer)
        window.Render()  # type: ignore[attr-defined]
        return plain, capture_rgb(window)


def test_multisampling_changes_no_pixel_of_the_image_and_text_only_line_edges() -> None:
    plain_ms, boxed_ms = _shots(4)
    plain, boxed = _shots(0)
    # Image, orientation letters, info text and scale bar: the very same pixels.
    assert np.array_equal(plain_ms, plain)
    # The box is drawn either way, with the same footprint (only its edges' blending moves).
    red_ms, red = int(_red(boxed_ms).sum()), int(_red(boxed).sum())
    assert red > 300 and abs(red - red_ms) <= 0.05 * red_ms, (red, red_ms)


def test_software_gl_drops_multisampling_and_a_gpu_keeps_it() -> None:
    with render_window((64, 64)) as window:
        window.SetMultiSamples(4)  # type: ignore[attr-defined]
        info = drop_multisampling_on_software_gl(window)  # type: ignore[arg-type]
        assert info.renderer  # probed from the live context
        assert window.GetMultiSamples() == (0 if info.software else 4)  # type: ignore[attr-defined]
