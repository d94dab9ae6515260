"""Real llama.cpp models through the child-process engine: the Gemma 3 270M Q4_K_M package says
exactly what it says in this process, and the tiny Gemma 3 VLM answers about an image."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from vlm_support import check_answers_about_the_image
from voxrad.backends.vlm.base import ChatMessage, GenerationRequest, ImageInput
from voxrad.backends.vlm.isolated import IsolatedVLM
from voxrad.backends.vlm.llama_cpp import LlamaCppVLM
from voxrad.backends.vlm.registry import BACKENDS, ModelSpec
from voxrad.core.settings import PrivacySettings, VlmSettings

pytestmark = pytest.mark.models


def _ask(
    text: str, *, max_tokens: int = 16, images: tuple[ImageInput, ...] = ()
) -> GenerationRequest:
    return GenerationRequest((ChatMessage("user", (*images, text)),), max_tokens=max_tokens)


def _isolated(spec: ModelSpec, context_tokens: int) -> IsolatedVLM:
    settings = VlmSettings(model=str(spec.model_path), context_tokens=context_tokens)
    return IsolatedVLM(BACKENDS["llama-cpp"], spec, settings, PrivacySettings())


def test_gemma_270m_greedy_text_is_the_same_as_in_process(
    gemma270m: Path, gemma_llm: LlamaCppVLM
) -> None:
    model = _isolated(ModelSpec("g270", "gemma3", "llama-cpp", gemma270m), 1024)
    model.load()
    try:
        for prompt in ("The capital of France is", "Name three colours."):
            here = gemma_llm.generate(_ask(prompt))
            pieces: list[str] = []
            there = model.generate(_ask(prompt), on_token=pieces.append)
            assert there.text == here.text
            assert "".join(pieces) == there.text and len(pieces) > 1
            assert there.tokens == here.tokens
            assert there.token_logprobs == pytest.approx(here.token_logprobs, abs=1e-4)
            assert there.timings["first_token"] > 0
    finally:
        model.close()


@pytest.mark.slow
def test_tiny_gemma3_vlm_answers_about_an_image_in_a_child(
    tiny_gguf: tuple[Path, Path],
) -> None:
    weights, mmproj = tiny_gguf
    model = _isolated(ModelSpec("tiny", "medgemma", "llama-cpp", weights, mmproj), 512)
    model.load()
    try:
        # The pixels cross the pipe: another image changes the answer's distribution.
        check_answers_about_the_image(model)
    finally:
        model.close()


@pytest.mark.slow
def test_tiny_gemma3_through_transformers_in_a_child(tiny_hf: Path) -> None:
    """The other local engine: NF4 weights (on the CPU here) in the child process."""
    spec = ModelSpec("tiny-hf", "medgemma", "transformers", tiny_hf)
    model = IsolatedVLM(
        BACKENDS["transformers"], spec, VlmSettings(backend="transformers"), PrivacySettings()
    )
    model.load()
    try:
        image = ImageInput(np.zeros((64, 64, 3), np.uint8))
        pieces: list[str] = []
        result = model.generate(
            _ask("Is there a nodule?", max_tokens=6, images=(image,)), on_token=pieces.append
        )
        assert result.completion_tokens > 0
        assert "".join(pieces) == result.text
    finally:
        model.close()
