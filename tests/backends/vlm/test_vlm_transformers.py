"""The transformers engine on tiny random-weight Gemma 3 and LLaVA 1.5 models built here:
NF4 through bitsandbytes (on this CPU), streaming, log-probabilities, images, cancel."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from vlm_support import measure_cancel
from voxrad.backends.vlm.base import ChatMessage, GenerationRequest, ImageInput
from voxrad.backends.vlm.transformers_bnb import (
    NO_GPU_NOTICE,
    TransformersOptions,
    TransformersVLM,
)
from voxrad.core.errors import ModelNotInstalledError

pytestmark = [
    pytest.mark.models,
    # bitsandbytes looks for optional CPU kernels and says so when they are absent.
    pytest.mark.filterwarnings("ignore:.*kernels.*:UserWarning"),
]


def _ask(image: np.ndarray, max_tokens: int = 6) -> GenerationRequest:
    return GenerationRequest(
        (
            ChatMessage("system", ("Be brief.",)),
            ChatMessage("user", (ImageInput(image), "Is there a nodule?")),
        ),
        max_tokens=max_tokens,
    )


@pytest.fixture(scope="module")
def nf4(tiny_hf: Path) -> Iterator[TransformersVLM]:
    model = TransformersVLM(TransformersOptions(tiny_hf, name="tiny"))
    model.load()
    yield model
    model.close()


def test_nf4_quantizes_on_the_cpu_and_says_so(nf4: TransformersVLM) -> None:
    assert nf4.quantized
    assert nf4.device == "cpu"
    assert nf4.notice == NO_GPU_NOTICE
    layers = [type(m).__name__ for m in nf4._model.modules()]
    assert layers.count("Linear4bit") >= 10  # vision and language linears are 4-bit
    weight = next(m for m in nf4._model.modules() if type(m).__name__ == "Linear4bit").weight
    assert weight.quant_state.quant_type == "nf4"
    assert weight.quant_state.nested  # double quantisation


def test_answers_about_the_image_with_streaming_and_logprobs(nf4: TransformersVLM) -> None:
    rng = np.random.default_rng(0)
    pieces: list[str] = []
    first = nf4.generate(
        _ask(rng.integers(0, 255, (48, 80, 3), dtype=np.uint8)), on_token=pieces.append
    )
    assert first.completion_tokens == 6
    assert first.finish_reason == "length"
    assert "".join(pieces) == first.text
    assert first.token_logprobs is not None and all(v <= 0 for v in first.token_logprobs)
    assert first.timings["first_token"] > 0
    other = nf4.generate(_ask(np.full((48, 80, 3), 255, np.uint8)))
    # Different pixels, different answer distribution: the image reaches the model.
    assert other.token_logprobs != first.token_logprobs


def test_cancel_within_200_ms(tiny_hf: Path) -> None:
    # Cancel takes effect between tokens, so its latency is at most one decode step.
    # bitsandbytes' CPU NF4 kernels take ~0.1 s per step even for this tiny model (its fast
    # kernels are a separate package), so the mechanism is timed on unquantised weights.
    model = TransformersVLM(TransformersOptions(tiny_hf, quantize="none"))
    model.load()
    try:
        request = _ask(np.zeros((64, 64, 3), np.uint8), max_tokens=1000)
        latency, raised = measure_cancel(model, request)
    finally:
        model.close()
    assert raised == "GenerationCancelledError"
    assert latency < 0.2


def test_unquantized_mode_runs_and_agrees_with_nf4_on_the_first_tokens(
    tiny_hf: Path, nf4: TransformersVLM
) -> None:
    full = TransformersVLM(TransformersOptions(tiny_hf, quantize="none"))
    full.load()
    try:
        assert not full.quantized
        image = np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)
        a = full.generate(_ask(image, 3))
        b = nf4.generate(_ask(image, 3))
        assert a.token_logprobs is not None and b.token_logprobs is not None
        # 4-bit weights shift the distribution a little, not wholesale.
        assert abs(a.token_logprobs[0] - b.token_logprobs[0]) < 0.2
    finally:
        full.close()


def test_tiny_llava_in_nf4_sees_the_image(tiny_llava: Path) -> None:
    model = TransformersVLM(TransformersOptions(tiny_llava, name="tiny-llava"))
    model.load()
    try:
        assert model.quantized
        assert sum(type(m).__name__ == "Linear4bit" for m in model._model.modules()) >= 10
        noise = np.random.default_rng(0).integers(0, 255, (60, 90, 3), dtype=np.uint8)
        pieces: list[str] = []
        a = model.generate(_ask(noise, 5), on_token=pieces.append)
        b = model.generate(_ask(np.full((60, 90, 3), 255, np.uint8), 5))
        assert a.completion_tokens == 5 and "".join(pieces) == a.text
        assert a.token_logprobs != b.token_logprobs
    finally:
        model.close()


def test_missing_folder_says_not_installed(tmp_path: Path) -> None:
    with pytest.raises(ModelNotInstalledError):
        TransformersVLM(TransformersOptions(tmp_path)).load()
