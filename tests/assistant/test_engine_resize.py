"""Where Qwen-style absolute boxes are written: the frame each engine resizes an image into.

The llama.cpp numbers are worked by hand from ``tools/mtmd/mtmd-image.cpp``
(``calc_size_preserved_ratio``, ``img_tool::resize`` with ``PAD_CEIL``) and clip.cpp (8 to
4096 tokens of 28 x 28 pixels for the Qwen2.5-VL projector); the test in
``tests/backends/vlm/test_llama_cpp_qwen_resize.py`` checks them against llama.cpp itself.
"""

from __future__ import annotations

import numpy as np
import pytest

from voxrad.assistant.answering import image_resize_rules
from voxrad.assistant.reply.answers import parse_answer
from voxrad.assistant.request.imageops import Transform
from voxrad.assistant.request.imageprep import fit_to_model
from voxrad.core.families import (
    InputFrame,
    input_frame,
    llama_cpp_frame,
    require_family,
    smart_resize,
)

QWEN = require_family("qwen2.5-vl")
LLAMA = {"factor": 28, "min_pixels": 8 * 784, "max_pixels": 4096 * 784}


@pytest.mark.parametrize(
    ("size", "frame"),
    [
        # 100/28 = 3.57 -> 4 (112), 60/28 = 2.14 -> 2 (56); 6272 px is exactly the floor.
        # Aspect kept: scale min(1.12, 0.933); ceil(93.3) = 94 wide, centred: (112 - 94) // 2.
        ((100, 60), InputFrame((112, 56), (9, 0, 94, 56))),
        # 70/28 = 2.5 rounds away from zero to 3 in C (Python's round gives 2); 84 x 56 is
        # under the floor, so beta = sqrt(6272 / 2940): ceil(3.65) = 4, ceil(2.19) = 3 tokens.
        ((70, 42), InputFrame((112, 84), (0, 8, 112, 68))),
        ((56, 56), InputFrame((84, 84), (0, 0, 84, 84))),
        # Over 4096 tokens: beta = sqrt(6e6 / 3211264); floor(78.4) = 78, floor(52.3) = 52.
        ((3000, 2000), InputFrame((2184, 1456), (0, 0, 2184, 1456))),
        ((512, 384), InputFrame((504, 392), (0, 7, 504, 378))),
        ((4000, 100), InputFrame((4004, 112), (0, 5, 4004, 101))),
        ((504, 392), InputFrame((504, 392), (0, 0, 504, 392))),
    ],
)
def test_llama_cpp_frame_follows_the_cpp_source(size: tuple[int, int], frame: InputFrame) -> None:
    assert llama_cpp_frame(*size, **LLAMA) == frame
    assert input_frame(QWEN, *size, "llama.cpp") == frame


@pytest.mark.parametrize(
    ("size", "transformers_size", "llama_size"),
    [
        ((70, 42), (56, 56), (112, 84)),  # rounding halves, and the 4- vs 8-token floor
        ((3000, 2000), (2996, 1988), (2184, 1456)),  # 12,845,056 vs 3,211,264 pixels at most
        ((1000, 800), (1008, 812), (1008, 812)),  # within both: the same size...
    ],
)
def test_the_two_engines_resize_differently(
    size: tuple[int, int], transformers_size: tuple[int, int], llama_size: tuple[int, int]
) -> None:
    hf = input_frame(QWEN, *size, "transformers")
    llama = input_frame(QWEN, *size, "llama.cpp")
    assert (
        hf.size
        == transformers_size
        == smart_resize(*size, factor=28, min_pixels=3136, max_pixels=12_845_056)
    )
    assert hf.content == (0, 0, *transformers_size)  # transformers stretches
    assert llama.size == llama_size


def test_llama_cpp_pads_where_transformers_stretches() -> None:
    # ...but not the same content: 1000 x 800 into 1008 x 812 keeps its aspect in llama.cpp.
    llama = input_frame(QWEN, 1000, 800, "llama.cpp")
    assert llama.content == (0, 2, 1008, 807)
    box = '```json\n[{"bbox_2d": [0, 2, 1008, 809], "label": "all"}]\n```'
    on_llama = parse_answer(box, family="qwen2.5-vl", image_size=(1000, 800), resize="llama.cpp")
    on_hf = parse_answer(box, family="qwen2.5-vl", image_size=(1000, 800))
    assert on_llama.findings[0].box is not None and on_hf.findings[0].box is not None
    assert on_llama.findings[0].box.as_tuple() == pytest.approx((0, 0, 1000, 800))
    assert on_hf.findings[0].box.as_tuple() == pytest.approx(
        (0, 2 * 800 / 812, 1000 * 1008 / 1008, 809 * 800 / 812)
    )


def test_a_box_on_llama_cpps_padded_frame_maps_back_to_the_image() -> None:
    # A 100 x 60 image lies at x 9..103 of llama.cpp's 112 x 56 frame.
    text = 'A nodule.\n```json\n[{"bbox_2d": [9, 0, 56, 28], "label": "left upper"}]\n```'
    answer = parse_answer(text, family="lingshu", image_size=(100, 60), resize="llama.cpp")
    box = answer.findings[0].box
    assert box is not None
    assert box.as_tuple() == pytest.approx((0.0, 0.0, 47 * 100 / 94, 30.0))
    assert not answer.warnings


@pytest.mark.parametrize("family", ["qwen2.5-vl", "qwen3-vl"])
def test_images_voxrad_prepares_pass_both_engines_unchanged(family: str) -> None:
    """So a prepared image's boxes are in its own pixels whichever engine reads it."""
    fam = require_family(family)
    for w in (1, 13, 28, 40, 56, 57, 70, 99, 100, 255, 512, 700, 1500, 4000):
        for h in (1, 20, 28, 42, 56, 60, 128, 384, 511, 2000, 5000):
            image = np.zeros((h, w, 3), np.uint8)
            prepared, _ = fit_to_model(image, Transform.identity(w, h, 0), fam)
            ph, pw = prepared.shape[:2]
            identity = InputFrame((pw, ph), (0, 0, pw, ph))
            assert input_frame(fam, pw, ph, "llama.cpp") == identity, (w, h)
            assert input_frame(fam, pw, ph, "transformers") == identity, (w, h)


def test_the_llama_cpp_engine_says_whose_resize_it_runs() -> None:
    from voxrad.backends.vlm.isolated import IsolatedVLM
    from voxrad.backends.vlm.llama_cpp import LlamaCppVLM
    from voxrad.backends.vlm.registry import BACKENDS, ModelSpec
    from voxrad.core.settings import PrivacySettings, VlmSettings

    assert image_resize_rules(LlamaCppVLM) == "llama.cpp"
    assert image_resize_rules(object()) == "transformers"
    for backend, rules in (("llama-cpp", "llama.cpp"), ("transformers", "transformers")):
        spec = ModelSpec("m", "qwen2.5-vl", backend)
        child = IsolatedVLM(BACKENDS[backend], spec, VlmSettings(), PrivacySettings())
        assert image_resize_rules(child) == rules
