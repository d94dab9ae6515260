"""Shared fixtures. Every test runs with VOXRAD_HOME in a temporary folder, so no test reads
or writes the real user's settings, logs or models."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = (REPO.parent / "shared" / "data").resolve()


@pytest.fixture(autouse=True)
def voxrad_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path_factory.mktemp("voxrad-home")
    monkeypatch.setenv("VOXRAD_HOME", str(home))
    for key in list(os.environ):
        if key.startswith("VOXRAD_") and key not in ("VOXRAD_HOME", "VOXRAD_TEST_ARTIFACTS"):
            monkeypatch.delenv(key)
    return home


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.fail(f"real test data not found at {SHARED_DATA} (../shared/data)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    path = Path(os.environ.get("VOXRAD_TEST_ARTIFACTS", REPO / "test-artifacts"))
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="session")
def tiny_hf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random-weight Gemma 3 vision-language model (transformers layout), built once
    per session for every test folder that needs it."""
    from vlm_support import build_tiny_gemma3

    return build_tiny_gemma3(tmp_path_factory.mktemp("tiny-gemma3") / "hf")


@pytest.fixture(scope="session")
def tiny_gguf(tiny_hf: Path) -> tuple[Path, Path]:
    """The tiny model converted to GGUF + mmproj by llama.cpp's own converter (once)."""
    from vlm_support import convert_to_gguf, fetch_llama_sdist

    source = fetch_llama_sdist()
    if source is None:
        pytest.fail("llama-cpp-python's sdist (for convert_hf_to_gguf.py) could not be fetched")
    return convert_to_gguf(tiny_hf, tiny_hf.parent / "gguf", source)


@pytest.fixture(scope="session")
def tiny_qwen_gguf(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A tiny random-weight Qwen2.5-VL model converted to GGUF + mmproj (once per session)."""
    from vlm_support import build_tiny_qwen25vl, convert_to_gguf, fetch_llama_sdist

    source = fetch_llama_sdist()
    if source is None:
        pytest.fail("llama-cpp-python's sdist (for convert_hf_to_gguf.py) could not be fetched")
    folder = build_tiny_qwen25vl(tmp_path_factory.mktemp("tiny-qwen25vl") / "hf")
    return convert_to_gguf(folder, folder.parent / "gguf", source, name="tiny-qwen25vl")
