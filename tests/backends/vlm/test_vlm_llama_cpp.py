"""The llama.cpp engine with real GGUF models: the Gemma 3 270M Q4_K_M package (text), and a
tiny Gemma 3 vision-language model converted by llama.cpp's converter (image + MTMD handler)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from vlm_support import check_answers_about_the_image, measure_cancel
from voxrad.backends.vlm.base import (
    ChatMessage,
    GenerationRequest,
    ImageInput,
    VisionLanguageModel,
)
from voxrad.backends.vlm.llama_cpp import GPU_RESERVE, LlamaCppOptions, LlamaCppVLM, plan_gpu_layers
from voxrad.core.errors import BackendError, ModelNotInstalledError

pytestmark = pytest.mark.models


def _ask(
    text: str, *, max_tokens: int = 24, images: tuple[ImageInput, ...] = ()
) -> GenerationRequest:
    return GenerationRequest((ChatMessage("user", (*images, text)),), max_tokens=max_tokens)


def test_is_a_vision_language_model(gemma_llm: LlamaCppVLM) -> None:
    assert isinstance(gemma_llm, VisionLanguageModel)


def test_real_q4_k_m_model_generates_with_streaming_and_logprobs(gemma_llm: LlamaCppVLM) -> None:
    pieces: list[str] = []
    result = gemma_llm.generate(_ask("Name three colours."), on_token=pieces.append)
    assert result.text.strip()
    assert "".join(pieces) == result.text
    assert len(pieces) > 1  # streamed, not delivered at the end
    assert result.token_logprobs is not None
    assert len(result.tokens) == len(result.token_logprobs) >= result.completion_tokens - 1
    assert all(lp <= 0.0 and math.isfinite(lp) for lp in result.token_logprobs)
    # Token pieces spell the reply (the last one is missing when cut at max_tokens).
    assert result.text.startswith("".join(result.tokens))
    assert result.timings["first_token"] > 0
    assert result.timings["tokens_per_s"] > 0
    assert result.finish_reason in ("complete", "length")


def test_greedy_generation_is_repeatable(gemma_llm: LlamaCppVLM) -> None:
    a = gemma_llm.generate(_ask("The capital of France is", max_tokens=8))
    b = gemma_llm.generate(_ask("The capital of France is", max_tokens=8))
    assert a.text == b.text
    assert a.token_logprobs == pytest.approx(b.token_logprobs, abs=1e-4)


def test_cancel_stops_generation_within_200_ms(gemma_llm: LlamaCppVLM) -> None:
    latency, raised = measure_cancel(
        gemma_llm, _ask("Count from 1 to 1000: 1, 2, 3,", max_tokens=1500)
    )
    assert raised == "GenerationCancelledError"
    assert latency < 0.2
    # The model answers normally afterwards.
    assert gemma_llm.generate(_ask("Say yes.", max_tokens=4)).completion_tokens > 0


def test_failed_backend_reloads(gemma270m: Path) -> None:
    model = LlamaCppVLM(LlamaCppOptions(model_path=gemma270m, family="gemma3", context_tokens=512))
    model.load()
    model.close()
    with pytest.raises(BackendError, match="not loaded"):
        model.generate(_ask("Hello"))
    model.load()
    try:
        assert model.generate(_ask("Hello", max_tokens=4)).completion_tokens > 0
    finally:
        model.close()


def test_damaged_gguf_is_a_backend_error_with_a_suggestion(tmp_path: Path) -> None:
    bad = tmp_path / "broken.gguf"
    bad.write_bytes(b"GGUF" + bytes(4000))
    model = LlamaCppVLM(LlamaCppOptions(model_path=bad))
    with pytest.raises(BackendError) as info:
        model.load()
    assert "smaller model" in info.value.hint


def test_missing_file_says_not_installed(tmp_path: Path) -> None:
    with pytest.raises(ModelNotInstalledError):
        LlamaCppVLM(LlamaCppOptions(model_path=tmp_path / "none.gguf")).load()


def test_text_only_model_refuses_images(gemma_llm: LlamaCppVLM) -> None:
    image = ImageInput(np.zeros((8, 8, 3), np.uint8))
    with pytest.raises(BackendError, match="cannot see images"):
        gemma_llm.generate(_ask("What is this?", images=(image,)))


@pytest.mark.slow
def test_converted_tiny_gemma3_answers_about_an_image(tiny_gguf: tuple[Path, Path]) -> None:
    model_path, mmproj = tiny_gguf
    model = LlamaCppVLM(
        LlamaCppOptions(
            model_path=model_path, mmproj_path=mmproj, family="medgemma", context_tokens=512
        )
    )
    model.load()
    try:
        check_answers_about_the_image(model)
    finally:
        model.close()


def test_gpu_layer_plan() -> None:
    gb = 1_000_000_000
    # No GPU offload in this llama.cpp build: everything on the CPU whatever was asked.
    assert (
        plan_gpu_layers(-1, weights_bytes=3 * gb, n_layers=34, free_bytes=24 * gb, offload=False)
        == 0
    )
    # Enough free memory: all layers and the output head.
    assert (
        plan_gpu_layers(-1, weights_bytes=3 * gb, n_layers=34, free_bytes=8 * gb, offload=True)
        == 35
    )
    # Half the weights fit: about half the layers.
    half = plan_gpu_layers(
        -1, weights_bytes=4 * gb, n_layers=40, free_bytes=2 * gb + GPU_RESERVE, offload=True
    )
    assert 18 <= half <= 21
    # Nothing fits beyond the reserve; unknown free memory keeps the CPU.
    assert (
        plan_gpu_layers(-1, weights_bytes=4 * gb, n_layers=40, free_bytes=GPU_RESERVE, offload=True)
        == 0
    )
    assert (
        plan_gpu_layers(-1, weights_bytes=4 * gb, n_layers=40, free_bytes=None, offload=True) == 0
    )
    # An explicit setting is used, capped at the layer count.
    assert (
        plan_gpu_layers(10, weights_bytes=4 * gb, n_layers=40, free_bytes=None, offload=True) == 10
    )
    assert (
        plan_gpu_layers(99, weights_bytes=4 * gb, n_layers=40, free_bytes=None, offload=True) == 40
    )
