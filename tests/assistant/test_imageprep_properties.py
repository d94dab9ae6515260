"""Property tests of image preparation: any image size, any family, any box inside the image:
the bright square is found where the transform says, and maps back to its pixels."""

from __future__ import annotations

import numpy as np
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from voxrad.assistant.request.imageprep import prepare_question, select_slices
from voxrad.core.conversation import Box, Question
from voxrad.core.volume import Volume

FAMILIES = st.sampled_from(
    [
        "medgemma",
        "qwen2.5-vl",
        "qwen2-vl",
        "qwen3-vl",
        "medrega",
        "internvl",
        "florence2",
        "llava-med",
    ]
)


@st.composite
def square_case(draw: st.DrawFn) -> tuple[Volume, Box, tuple[float, float]]:
    w = draw(st.integers(8, 1200))
    h = draw(st.integers(8, 1200))
    x0 = draw(st.integers(0, w - 4))
    y0 = draw(st.integers(0, h - 4))
    x1 = draw(st.integers(x0 + 4, w))
    y1 = draw(st.integers(y0 + 4, h))
    row_mm = draw(st.sampled_from([1.0, 0.5, 0.7, 2.0]))
    vox = np.zeros((1, h, w), np.uint8)
    vox[0, y0:y1, x0:x1] = 255
    volume = Volume(vox, spacing=(1.0, row_mm, 1.0))
    return volume, Box(x0, y0, x1, y1), (row_mm, 1.0)


@settings(max_examples=60, deadline=None)
@given(case=square_case(), family=FAMILIES)
def test_square_found_and_mapped_back(
    case: tuple[Volume, Box, tuple[float, float]], family: str
) -> None:
    volume, square, _ = case
    image = prepare_question(volume, Question("q", window=(127.5, 256.0)), family).images[0]
    expected = image.transform.box_to_input(square)
    # Squares that shrink below a few model pixels blur into the background: not a mapping test.
    assume(expected.width >= 3 and expected.height >= 3)
    ys, xs = np.nonzero(image.pixels[..., 0] > 127)
    found = image.transform.box_to_image(Box(xs.min(), ys.min(), xs.max() + 1, ys.max() + 1))
    # Thresholding finds an edge within half a pixel of each resampled grid it went through:
    # the square-pixel grid (rows only, when spacing is anisotropic) and the model's grid.
    sx, sy, _, _ = image.transform.affine
    first = image.transform.steps[0]
    row_grid = first.sy if first.name == "square-pixels" else 1.0
    tol_x = 1.0 / sx + 1e-6
    tol_y = 1.0 / sy + (0.5 / row_grid if row_grid != 1.0 else 0.0) + 1e-6
    assert abs(found.x0 - square.x0) <= tol_x and abs(found.x1 - square.x1) <= tol_x
    assert abs(found.y0 - square.y0) <= tol_y and abs(found.y1 - square.y1) <= tol_y
    # And the transform itself is exactly invertible.
    again = image.transform.box_to_image(image.transform.box_to_input(square))
    assert np.allclose(again.as_tuple(), square.as_tuple(), atol=1e-9)


@given(
    n=st.integers(1, 500),
    data=st.data(),
    count=st.integers(1, 100),
    step=st.integers(1, 10),
    mode=st.sampled_from(["around", "across"]),
)
def test_select_slices_in_range(
    n: int, data: st.DataObject, count: int, step: int, mode: str
) -> None:
    current = data.draw(st.integers(0, n - 1))
    picked = select_slices(n, current, count, mode=mode, step=step)  # type: ignore[arg-type]
    assert list(picked) == sorted(set(picked))
    assert all(0 <= k < n for k in picked)
    assert 1 <= len(picked) <= min(count, n)
    if mode == "around":
        assert len(picked) == min(count, n)
        assert picked[0] <= current <= picked[-1]
