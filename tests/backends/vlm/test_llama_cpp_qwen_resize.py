"""llama.cpp itself decides the frame Qwen2.5-VL's boxes are written in: checked on a tiny
random-weight Qwen2.5-VL built here and converted by llama.cpp's own converter.

The token grid llama.cpp makes of an image is its resized size in 28-pixel tokens, and the
image embedding shows where the pixels went: an image llama.cpp padded itself embeds exactly
like the same image padded by hand into :func:`~voxrad.core.families.llama_cpp_frame`'s
content rectangle, and unlike the image stretched over the frame (transformers' way).
"""

from __future__ import annotations

import ctypes
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from vlm_support import ask_request
from voxrad.backends.vlm.base import ImageInput
from voxrad.backends.vlm.llama_cpp import LlamaCppOptions, LlamaCppVLM
from voxrad.core.families import input_frame, require_family

pytestmark = pytest.mark.models
QWEN = require_family("qwen2.5-vl")
EMBED = 64  # the tiny model's text width: one image token's embedding


class _Mtmd:
    """llama.cpp's multimodal library on the tiny model, through llama-cpp-python's bindings."""

    def __init__(self, model: Path, mmproj: Path) -> None:
        import llama_cpp
        from llama_cpp import mtmd_cpp

        self.m = mtmd_cpp
        self.llm = llama_cpp.Llama(str(model), n_ctx=8192, verbose=False)
        params = mtmd_cpp.mtmd_context_params_default()
        params.use_gpu = False
        params.print_timings = False
        params.n_threads = 1
        params.warmup = False
        self.ctx = mtmd_cpp.mtmd_init_from_file(str(mmproj).encode(), self.llm.model, params)
        assert self.ctx is not None

    def image(self, pixels: np.ndarray, *, encode: bool = False) -> tuple[int, int, Any]:
        """(tokens across, tokens down, embedding or None) of one image."""
        m = self.m
        h, w = pixels.shape[:2]
        data = bytearray(np.ascontiguousarray(pixels, np.uint8).tobytes())
        bitmap = m.mtmd_bitmap_init(w, h, (ctypes.c_uint8 * len(data)).from_buffer(data))
        chunks = m.mtmd_input_chunks_init()
        text = m.mtmd_input_text()
        prompt = b"look " + m.mtmd_default_marker()
        text.text, text.text_len, text.add_special, text.parse_special = (
            prompt,
            len(prompt),
            True,
            True,
        )
        try:
            array = (m.mtmd_bitmap_p_ctypes * 1)(bitmap)
            assert m.mtmd_tokenize(self.ctx, chunks, ctypes.byref(text), array, 1) == 0
            for i in range(m.mtmd_input_chunks_size(chunks)):
                chunk = m.mtmd_input_chunks_get(chunks, i)
                if m.mtmd_input_chunk_get_type(chunk) != m.MTMD_INPUT_CHUNK_TYPE_IMAGE:
                    continue
                tokens = m.mtmd_input_chunk_get_tokens_image(chunk)
                nx = m.mtmd_image_tokens_get_nx(tokens)
                ny = m.mtmd_image_tokens_get_ny(tokens)
                assert m.mtmd_image_tokens_get_n_tokens(tokens) == nx * ny
                embedding = None
                if encode:
                    assert m.mtmd_encode(self.ctx, tokens) == 0
                    out = m.mtmd_get_output_embd(self.ctx)
                    embedding = np.ctypeslib.as_array(out, shape=(nx * ny * EMBED,)).copy()
                return nx, ny, embedding
            raise AssertionError("no image chunk")
        finally:
            m.mtmd_input_chunks_free(chunks)
            m.mtmd_bitmap_free(bitmap)

    def close(self) -> None:
        self.m.mtmd_free(self.ctx)
        self.llm.close()


@pytest.fixture(scope="module")
def mtmd(tiny_qwen_gguf: tuple[Path, Path]) -> Iterator[_Mtmd]:
    engine = _Mtmd(*tiny_qwen_gguf)
    yield engine
    engine.close()


@pytest.mark.parametrize(
    "size",
    [(100, 60), (70, 42), (56, 56), (30, 20), (512, 384), (333, 517), (4000, 100), (3000, 2000)],
)
def test_llama_cpp_resizes_to_the_predicted_size(mtmd: _Mtmd, size: tuple[int, int]) -> None:
    w, h = size
    nx, ny, _ = mtmd.image(np.zeros((h, w, 3), np.uint8))
    assert (nx * 28, ny * 28) == input_frame(QWEN, w, h, "llama.cpp").size


def test_llama_cpp_keeps_the_aspect_ratio_and_pads(mtmd: _Mtmd) -> None:
    from PIL import Image

    image = np.random.default_rng(1).integers(0, 255, (60, 100, 3), dtype=np.uint8)
    frame = input_frame(QWEN, 100, 60, "llama.cpp")
    x, y, cw, ch = frame.content
    assert frame.size == (112, 56) and (x, cw) == (9, 94)  # not the whole 112 pixels
    # llama.cpp's resampler is Pillow's, so Pillow reproduces it.
    padded = np.zeros((56, 112, 3), np.uint8)
    padded[y : y + ch, x : x + cw] = np.asarray(Image.fromarray(image).resize((cw, ch), 3))
    stretched = np.asarray(Image.fromarray(image).resize(frame.size, 3))
    _, _, own = mtmd.image(image, encode=True)
    _, _, by_hand = mtmd.image(padded, encode=True)
    _, _, spread = mtmd.image(stretched, encode=True)
    assert np.abs(own - by_hand).max() < 1e-4 * np.abs(own).max()
    assert np.abs(own - spread).max() > 0.1 * np.abs(own).max()


def test_the_engine_answers_a_qwen_question_about_an_odd_sized_image(
    tiny_qwen_gguf: tuple[Path, Path],
) -> None:
    """The Qwen2.5-VL chat handler runs on this model (random weights: the text is noise)."""
    model, mmproj = tiny_qwen_gguf
    engine = LlamaCppVLM(
        LlamaCppOptions(model, mmproj, family="qwen2.5-vl", context_tokens=2048, gpu_layers=0)
    )
    engine.load()
    try:
        image = ImageInput(np.random.default_rng(2).integers(0, 255, (60, 100, 3), np.uint8))
        result = engine.generate(ask_request("Where?", max_tokens=6, images=(image,)))
        assert result.completion_tokens > 0
    finally:
        engine.close()
