"""Image preparation: windowing, resize/pad/crop bookkeeping, 3-D sampling, and boxes found in
the model's images mapping back to the right pixels and patient mm."""

from __future__ import annotations

import numpy as np
import pytest

from voxrad.assistant.reply.answers import parse_answer
from voxrad.assistant.request.imageops import (
    Transform,
    crop_step,
    letterbox,
    pad_step,
    resize,
    resize_step,
)
from voxrad.assistant.request.imageprep import (
    ImagePreparationError,
    locate_findings,
    prepare_question,
    region_crop_bounds,
    select_slices,
    view_image,
)
from voxrad.core.conversation import Box, Question
from voxrad.core.families import UnknownModelFamilyError
from voxrad.core.volume import Volume

SQUARE = Box(100, 40, 240, 120)  # columns 100..239, rows 40..119 of a 400 x 300 image


def bright_square_volume(shape: tuple[int, int] = (300, 400), box: Box = SQUARE) -> Volume:
    """STYLE.md's fixture: one slice, dark, with a bright square at a known box."""
    vox = np.zeros((1, *shape), np.uint8)
    vox[0, int(box.y0) : int(box.y1), int(box.x0) : int(box.x1)] = 255
    return Volume(vox, spacing=(1.0, 1.0, 1.0), window_presets=())


def bright_extent(image: np.ndarray, level: int = 128) -> Box:
    """Edges of the pixels brighter than ``level`` (first channel), in edge coordinates."""
    rows, cols = np.nonzero(image[..., 0] > level)
    return Box(cols.min(), rows.min(), cols.max() + 1, rows.max() + 1)


def assert_box_close(a: Box, b: Box, tol: float) -> None:
    assert a.as_tuple() == pytest.approx(b.as_tuple(), abs=tol)


# -- operations -------------------------------------------------------------------------------
def test_resize_preserves_constants_and_geometry() -> None:
    flat = np.full((30, 50, 3), 77, np.uint8)
    assert (resize(flat, (17, 91)) == 77).all()
    img = np.zeros((300, 400), np.uint8)
    img[40:120, 100:240] = 255
    out = resize(img, (200, 150))  # exactly half: the square's edges land on pixel edges
    assert_box_close(bright_extent(out[..., None]), Box(50, 20, 120, 60), 0)
    up = resize(img, (800, 600))
    assert_box_close(bright_extent(up[..., None]), Box(200, 80, 480, 240), 1)


def test_transform_composes_and_inverts_exactly() -> None:
    img = np.zeros((300, 400, 3), np.uint8)
    t = Transform.identity(400, 300)
    out, t = crop_step(img, t, (50, 20, 350, 260))
    out, t = resize_step(out, t, (150, 240))
    out, t = pad_step(out, t, (240, 240))
    assert out.shape == (240, 240, 3)
    # crop: x - 50; resize 300 -> 150: * 0.5; pad left (240 - 150) // 2 = 45.
    assert t.to_input(100, 40) == pytest.approx((45 + 25.0, 20.0))
    box = Box(101.5, 33.25, 200.75, 250.0)
    assert t.box_to_image(t.box_to_input(box)).as_tuple() == pytest.approx(box.as_tuple(), abs=1e-9)


def test_letterbox_bright_square_found_where_the_transform_says() -> None:
    vol = bright_square_volume()
    img = view_image(vol, 0, window=(127.5, 256))
    out, t = letterbox(img, Transform.identity(400, 300), (896, 896))
    # scale 2.24, fitted 896 x 672, padded 112 rows on top
    assert t.affine == pytest.approx((2.24, 2.24, 0.0, 112.0))
    expected = t.box_to_input(SQUARE)
    assert expected.as_tuple() == pytest.approx((224.0, 201.6, 537.6, 380.8))
    assert_box_close(bright_extent(out), expected, 1.0)
    assert_box_close(t.box_to_image(bright_extent(out)), SQUARE, 0.5)


# -- views ------------------------------------------------------------------------------------
def test_ct_three_windows_hand_computed() -> None:
    hu = np.array([[[-1024, -500, 75, 300, 1024, 3000]]], np.int16)
    vol = Volume(hu, spacing=(1, 1, 1), modality="CT", units="HU")
    rgb = view_image(vol, 0, ct_three_windows=True)[0]
    # R: (v + 1024) / 2048, G: (v + 135) / 350, B: v / 80, each * 255, clipped, rounded.
    assert rgb[:, 0].tolist() == [0, 65, 137, 165, 255, 255]
    assert rgb[:, 1].tolist() == [0, 0, 153, 255, 255, 255]
    assert rgb[:, 2].tolist() == [0, 0, 239, 255, 255, 255]


def test_view_uses_window_and_monochrome1() -> None:
    vals = np.array([[[0, 50, 100]]], np.int16)
    vol = Volume(vals, spacing=(1, 1, 1))
    assert view_image(vol, 0, window=(50.5, 101))[0, :, 0].tolist() == [0, 128, 255]
    mono1 = Volume(vals, spacing=(1, 1, 1), photometric="MONOCHROME1")
    assert view_image(mono1, 0, window=(50.5, 101))[0, :, 0].tolist() == [255, 127, 0]
    with pytest.raises(ImagePreparationError):
        view_image(vol, 3)


def test_colour_volume_passes_through() -> None:
    rgb = np.zeros((1, 4, 5, 3), np.uint8)
    rgb[0, 1, 2] = (10, 20, 30)
    out = view_image(Volume(rgb, spacing=(1, 1, 1), photometric="RGB"), 0)
    assert out.shape == (4, 5, 3) and out[1, 2].tolist() == [10, 20, 30]


# -- questions ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("family", "size"),
    [("medgemma", (896, 896)), ("qwen2.5-vl", (392, 308)), ("qwen3-vl", (384, 288))],
)
def test_slice_question_sizes(family: str, size: tuple[int, int]) -> None:
    prepared = prepare_question(bright_square_volume(), Question("q"), family)
    image = prepared.images[0]
    assert image.pixels.dtype == np.uint8 and image.pixels.shape == (size[1], size[0], 3)
    assert prepared.image_size == size
    assert_box_close(image.transform.box_to_image(bright_extent(image.pixels)), SQUARE, 1.0)


def test_region_question_crop_and_marked_context() -> None:
    vol = bright_square_volume()
    prepared = prepare_question(vol, Question("what is this?", region=SQUARE), "medgemma")
    context, crop = prepared.images
    assert (context.role, crop.role) == ("region-context", "region-crop")
    assert prepared.region is not None
    assert prepared.region.as_tuple() == pytest.approx((224.0, 201.6, 537.6, 380.8))
    # The yellow outline sits just outside the region on the context image.
    assert context.pixels[199, 300].tolist() == [255, 255, 0]
    assert context.pixels[300, 300].tolist() == [255, 255, 255]  # inside: the square itself
    # The crop: region 140 x 80 grown by 0.25 * 140 = 35 px -> (65, 5, 275, 155), 210 x 150,
    # letterboxed to 896: scale 896 / 210, padded (896 - 640) / 2 = 128 rows.
    assert region_crop_bounds(SQUARE, 400, 300) == (65, 5, 275, 155)
    expected = crop.transform.box_to_input(SQUARE)
    assert_box_close(bright_extent(crop.pixels), expected, 1.0)
    assert_box_close(crop.transform.box_to_image(bright_extent(crop.pixels)), SQUARE, 0.5)


def test_region_outside_image_is_refused() -> None:
    with pytest.raises(ImagePreparationError):
        prepare_question(
            bright_square_volume(), Question("q", region=Box(500, 500, 600, 600)), "qwen2-vl"
        )
    with pytest.raises(UnknownModelFamilyError):
        prepare_question(bright_square_volume(), Question("q"), "no-such-model")


def test_single_image_family_gets_marked_context_only() -> None:
    prepared = prepare_question(bright_square_volume(), Question("q", region=SQUARE), "llava-med")
    assert [i.role for i in prepared.images] == ["region-context"]


def test_model_box_on_crop_maps_back() -> None:
    """A scripted answer drawing on image 2 (the crop) lands on the square."""
    prepared = prepare_question(bright_square_volume(), Question("q", region=SQUARE), "qwen2-vl")
    w, h = prepared.image_size
    on_crop = prepared.images[1].transform.box_to_input(SQUARE)
    rel = [round(v / s * 1000) for v, s in zip(on_crop.as_tuple(), (w, h, w, h), strict=True)]
    text = f'[{{"bbox_2d": {rel}, "label": "square", "image": 2}}]'
    answer = locate_findings(parse_answer(text, family="qwen2-vl", image_size=(w, h)), prepared)
    box = answer.findings[0].box
    assert box is not None and answer.findings[0].slice_index == 0
    assert_box_close(box, SQUARE, 1.0)


# -- 3-D ---------------------------------------------------------------------------------------
def test_select_slices() -> None:
    assert select_slices(20, 10, 5) == (8, 9, 10, 11, 12)
    assert select_slices(20, 0, 5) == (0, 1, 2, 3, 4)
    assert select_slices(20, 19, 5, step=2) == (11, 13, 15, 17, 19)
    assert select_slices(5, 2, 10) == (0, 1, 2, 3, 4)
    assert select_slices(101, 3, 5, mode="across") == (0, 25, 50, 75, 100)
    assert select_slices(10, 5, 4, step=5) == (0, 3, 6, 9)


def encoded_volume() -> tuple[Volume, dict[int, Box]]:
    """Anisotropic, oblique volume whose values encode their index, k * 10000 + j * 100 + i,
    with a bright marker at a different known box on every slice."""
    k, j, i = np.meshgrid(np.arange(7), np.arange(30), np.arange(40), indexing="ij")
    vox = (k * 10000 + j * 100 + i).astype(np.int32)
    markers = {}
    for s in range(7):
        box = Box(8 + 3 * s, 5 + 2 * s, 20 + 3 * s, 12 + 2 * s)
        vox[s, int(box.y0) : int(box.y1), int(box.x0) : int(box.x1)] = 1_000_000
        markers[s] = box
    c, s_ = np.cos(0.3), np.sin(0.3)
    # Columns: the k, j, i axes in LPS, tilted 0.3 rad about the y axis.
    direction = np.column_stack([(-s_, 0.0, c), (0.0, 1.0, 0.0), (c, 0.0, s_)])
    vol = Volume(vox, spacing=(5.0, 0.8, 0.6), origin=(-10.0, 20.0, 30.0), direction=direction)
    return vol, markers


def test_volume_question_slices_rows_columns_and_mm() -> None:
    vol, markers = encoded_volume()
    question = Question("q", slice_index=5, scope="volume", window=(500_000, 200_000))
    prepared = prepare_question(vol, question, "qwen2.5-vl", max_images=3)
    assert [img.slice_index for img in prepared.images] == [4, 5, 6]
    assert prepared.images[prepared.reference].slice_index == 5
    for image in prepared.images:
        k = image.slice_index
        # Rows are 0.8 mm, columns 0.6 mm: rows are stretched by 4/3 before fitting.
        assert image.transform.steps[0].name == "square-pixels"
        assert image.transform.steps[0].sy == pytest.approx(40 / 30)
        found = image.transform.box_to_image(bright_extent(image.pixels))
        assert_box_close(found, markers[k], 1.0)
        corners = image.transform.box_to_patient(image.transform.box_to_input(markers[k]), vol)
        x0, y0 = markers[k].x0, markers[k].y0
        expected = np.asarray(vol.origin) + vol.direction @ (
            np.array([k, y0 - 0.5, x0 - 0.5]) * np.array([5.0, 0.8, 0.6])
        )
        assert corners[0] == pytest.approx(expected)
        # The voxel just above-left of the marker decodes to its own index.
        idx = vol.patient_to_index(corners[0])
        kji = (round(idx[0]), int(np.floor(idx[1])), int(np.floor(idx[2])))
        assert int(vol.voxels[kji]) == k * 10000 + (int(y0) - 1) * 100 + int(x0) - 1


def test_volume_scripted_answer_on_named_image() -> None:
    vol, markers = encoded_volume()
    question = Question("q", slice_index=2, scope="volume", window=(500_000, 200_000))
    prepared = prepare_question(vol, question, "medgemma", max_images=7, sampling="across")
    assert [img.slice_index for img in prepared.images] == list(range(7))
    target = prepared.images[6]
    w, h = prepared.image_size
    b = target.transform.box_to_input(markers[6])
    rel = [
        round(b.y0 / h * 1000),
        round(b.x0 / w * 1000),
        round(b.y1 / h * 1000),
        round(b.x1 / w * 1000),
    ]
    text = f'Final Answer: marker\n[{{"box_2d": {rel}, "label": "m", "image": 7}}]'
    answer = locate_findings(parse_answer(text, family="medgemma", image_size=(w, h)), prepared)
    finding = answer.findings[0]
    assert finding.slice_index == 6 and finding.box is not None
    assert_box_close(finding.box, markers[6], 0.05)


def test_locate_findings_flags_boxes_in_the_padding_and_missing_images() -> None:
    prepared = prepare_question(bright_square_volume(), Question("q"), "medgemma")
    # The top 112 rows of the 896 x 896 input are padding: 0..100 of 1000 lies inside them.
    text = (
        'Final Answer: x\n[{"box_2d": [0, 0, 100, 100]}, {"box_2d": [0, 0, 500, 500], "image": 9}]'
    )
    answer = locate_findings(parse_answer(text, family="medgemma", image_size=(896, 896)), prepared)
    assert [f.box for f in answer.findings] == [None, None]
    assert any("outside the image" in w for w in answer.warnings)
    assert any("not sent" in w for w in answer.warnings)
