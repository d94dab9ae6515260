"""Slice scene in a real VTK window under Xvfb: pixels, letters, windows, coordinates."""

from __future__ import annotations

import numpy as np
import pytest

from render_support import (
    AXIAL,
    BRIGHT_BOX,
    SAGITTAL,
    box_volume,
    corner_volume,
    mask_bbox,
    render_window,
)
from voxrad.core.overlay import OverlayBox, OverlayLayer, OverlayMask, OverlayPoint
from voxrad.core.volume import Volume
from voxrad.core.windowing import apply_window
from voxrad.render.capture import capture_rgb
from voxrad.render.slice_scene import SliceScene

pytestmark = pytest.mark.gl

W, H = 400, 300


def _scene(window: object, volume: Volume, plane: str = "axial") -> SliceScene:
    scene = SliceScene()
    window.AddRenderer(scene.renderer)  # type: ignore[attr-defined]
    scene.property.SetInterpolationTypeToNearest()  # crisp edges for exact pixel checks
    scene.set_volume(volume, plane=plane)
    window.Render()  # type: ignore[attr-defined]
    scene.reset_view()
    return scene


def _red(img: np.ndarray) -> np.ndarray:
    return (img[..., 0] > 200) & (img[..., 1] < 60) & (img[..., 2] < 60)


def _white(img: np.ndarray) -> np.ndarray:
    return (img[..., 0] > 240) & (img[..., 1] > 240) & (img[..., 2] > 240)


@pytest.mark.parametrize(
    ("zoom", "pan"),
    [(1.0, (0, 0)), (2.5, (40, -25)), (0.6, (-60, 30)), (3.0, (-100, -60))],
)
def test_box_overlay_encloses_the_bright_square_at_any_zoom_and_pan(
    zoom: float, pan: tuple[int, int]
) -> None:
    volume = box_volume()
    layer = OverlayLayer()
    x0, y0, x1, y1 = BRIGHT_BOX
    layer.add(OverlayBox("lesion", 2, x0, y0, x1, y1, color=(1.0, 0.0, 0.0)))
    with render_window((W, H)) as window:
        scene = _scene(window, volume)
        scene.set_layer(layer)
        scene.set_window(0.0, 100.0)  # the square renders pure white, the rest black
        scene.set_slice(2)
        # Zoom about the square's centre (as a user would), then pan.
        scene.zoom(zoom, about=tuple(scene.index_to_display((2, 29.5, 44.5))))
        scene.pan(*pan)
        window.Render()
        img = capture_rgb(window)
    # The square is 30 x 20 pixels of 0.5 x 1.0 mm: on screen it must be 15 x 20 mm, i.e.
    # square, whatever the zoom (anisotropic pixels drawn with the right aspect).
    wx0, wy0, wx1, wy1 = mask_bbox(_white(img))
    assert abs((wx1 - wx0) - (wy1 - wy0) * 0.75) <= 2
    rx0, ry0, rx1, ry1 = mask_bbox(_red(img))
    # The outline (2 px wide) sits on the square's edges: within 2 screen pixels of them.
    for red, white in ((rx0, wx0 - 1), (ry0, wy0 - 1), (rx1, wx1 + 1), (ry1, wy1 + 1)):
        assert abs(red - white) <= 2, (zoom, pan, (rx0, ry0, rx1, ry1), (wx0, wy0, wx1, wy1))


def test_overlay_hidden_off_its_slice_and_highlight_thickens_it() -> None:
    volume = box_volume()
    layer = OverlayLayer()
    layer.add(OverlayBox("a", 2, 30, 20, 60, 40, color=(1.0, 0.0, 0.0)))
    layer.add(OverlayPoint("p", 3, row=50, col=90, color=(1.0, 0.0, 0.0)))
    with render_window((W, H)) as window:
        scene = _scene(window, volume)
        scene.set_layer(layer)
        scene.set_slice(2)
        window.Render()
        normal = int(_red(capture_rgb(window)).sum())
        assert scene.overlays.visible_ids == ["a"]
        layer.highlight("a")
        window.Render()
        assert int(_red(capture_rgb(window)).sum()) > normal * 1.5
        scene.set_slice(3)
        window.Render()
        assert scene.overlays.visible_ids == ["p"]
        red = _red(capture_rgb(window))
        px, py = scene.index_to_display((3, 50, 90))
        x, y = round(px), H - 1 - round(py)
        assert red[y - 2 : y + 3, x - 2 : x + 3].any()


@pytest.mark.parametrize(
    ("direction", "plane", "letters"),
    [
        (AXIAL, "axial", ("R", "L", "A", "P")),
        (AXIAL, "coronal", ("R", "L", "S", "I")),
        (AXIAL, "sagittal", ("A", "P", "S", "I")),
        (SAGITTAL, "axial", ("R", "L", "A", "P")),
        (SAGITTAL, "coronal", ("R", "L", "S", "I")),
        (SAGITTAL, "sagittal", ("A", "P", "S", "I")),
    ],
)
def test_orientation_letters_and_anatomy_land_on_the_right_side(
    direction: np.ndarray, plane: str, letters: tuple[str, str, str, str]
) -> None:
    volume, (k, j, i) = corner_volume(direction)
    with render_window((300, 300)) as window:
        scene = _scene(window, volume, plane)
        scene.set_window(500.0, 100.0)
        scene.set_crosshair(np.array([k, j, i], float))
        scene.set_plane(plane)
        window.Render()
        shown = tuple(
            scene.annotations.letters[e].GetInput() for e in ("left", "right", "top", "bottom")
        )
        assert shown == letters
        img = capture_rgb(window)
    x0, y0, x1, y1 = mask_bbox(_white(img[40:-40, 40:-40]))
    cx, cy = (x0 + x1) / 2 + 40, (y0 + y1) / 2 + 40
    # The cube sits at the patient's left, anterior, superior corner.
    expect_right = {"axial": True, "coronal": True, "sagittal": False}[plane]  # L / L / A is left
    expect_top = True  # A in axial, S in coronal and sagittal
    assert (cx > 150) == expect_right
    assert (cy < 150) == expect_top


@pytest.mark.parametrize("preset", [(-600.0, 1500.0), (40.0, 400.0), (400.0, 1800.0)])
def test_window_presets_give_the_dicom_voi_intensities(preset: tuple[float, float]) -> None:
    values = (-800, -100, 40, 200, 700)
    voxels = np.zeros((1, 60, 100), np.int16)
    for n, v in enumerate(values):
        voxels[0, :, n * 20 : (n + 1) * 20] = v
    volume = Volume(voxels, spacing=(1.0, 1.0, 1.0), direction=AXIAL, modality="CT", units="HU")
    with render_window((W, H)) as window:
        scene = _scene(window, volume, "acquired")
        scene.set_window(*preset)
        window.Render()
        img = capture_rgb(window)
        for n, v in enumerate(values):
            x, y = scene.index_to_display((0, 30, n * 20 + 10))
            grey = int(img[H - 1 - round(y), round(x), 0])
            expected = int(apply_window(np.array([v], np.int16), *preset)[0])
            assert abs(grey - expected) <= 4, (preset, v, grey, expected)
        scene.set_invert(True)
        window.Render()
        inverted = capture_rgb(window)
        x, y = scene.index_to_display((0, 30, 10))
        assert (
            abs(
                int(inverted[H - 1 - round(y), round(x), 0])
                - (255 - int(img[H - 1 - round(y), round(x), 0]))
            )
            <= 4
        )


def test_display_to_index_and_patient_round_trip() -> None:
    volume = box_volume()
    with render_window((W, H)) as window:
        scene = _scene(window, volume)
        scene.zoom(3.0)
        scene.pan(33, -12)
        window.Render()
        target = np.array([2.0, 31.0, 47.0])
        x, y = scene.index_to_display(target)
        kji = scene.display_to_index(x, y)
        np.testing.assert_allclose(kji, target, atol=1e-6)
        # LPS from the DICOM geometry: origin + column * 0.5 mm L, row * 1 mm P, slice * 3 mm S.
        np.testing.assert_allclose(
            scene.index_to_patient(kji), (-30.0 + 47 * 0.5, -50.0 + 31.0, 100.0 + 2 * 3.0)
        )


def test_scale_bar_matches_zoom() -> None:
    volume = box_volume()
    with render_window((W, H)) as window:
        scene = _scene(window, volume)
        window.Render()
        first = scene.annotations.scale_mm
        scene.zoom(4.0)
        window.Render()
        assert scene.annotations.scale_mm < first
        assert scene.annotations.scale_mm / scene.mm_per_pixel() <= W * 0.2 + 1


def test_mask_is_tinted_on_every_plane_it_crosses() -> None:
    volume, (k, j, i) = corner_volume(AXIAL)
    mask = np.zeros(volume.shape, bool)
    mask[k - 4 : k + 5, j - 4 : j + 5, i - 4 : i + 5] = True  # exactly the bright cube
    layer = OverlayLayer()
    layer.add(OverlayMask("seg", mask, "cube", color=(0.0, 1.0, 0.0), opacity=0.5))
    with render_window((300, 300)) as window:
        scene = _scene(window, volume)
        scene.set_window(500.0, 100.0)  # cube white, background black
        scene.set_layer(layer)
        for plane in ("axial", "coronal", "sagittal"):
            scene.set_crosshair(np.array([k, j, i], float))
            scene.set_plane(plane)
            window.Render()
            img = capture_rgb(window).astype(int)
            assert scene.overlays.visible_ids == ["seg"], plane
            tinted = (img[..., 1] > 200) & (img[..., 0] < 180) & (img[..., 0] > 60)
            cube = mask_bbox(tinted)
            # White blended 50 % with green: the whole cube, nothing else.
            assert 30 < (cube[2] - cube[0]) < 80 and 30 < (cube[3] - cube[1]) < 80, plane
        scene.set_slice(0)
        window.Render()
        assert scene.overlays.visible_ids == []
        assert not (
            (capture_rgb(window)[..., 1].astype(int) - capture_rgb(window)[..., 0]) > 50
        ).any()
