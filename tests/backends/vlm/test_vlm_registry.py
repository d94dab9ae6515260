"""Which engine and which model files a setting means, and the errors when it means none."""

from __future__ import annotations

from pathlib import Path

import pytest

from voxrad.backends.catalog import UnknownModelError
from voxrad.backends.vlm.llama_cpp import LlamaCppVLM
from voxrad.backends.vlm.openai_compat import OpenAICompatVLM
from voxrad.backends.vlm.registry import create_vlm, resolve_model
from voxrad.core.errors import BackendError, ModelNotInstalledError
from voxrad.core.families import guess_family
from voxrad.core.settings import PrivacySettings, VlmSettings


def test_default_model_not_installed_says_how_to_install(tmp_path: Path) -> None:
    with pytest.raises(ModelNotInstalledError) as info:
        resolve_model(VlmSettings(), tmp_path)
    assert "voxrad models pull medgemma-1.5-4b-it" in info.value.hint
    assert "voxrad models import" in info.value.hint


def test_gguf_path_finds_its_projector(tmp_path: Path) -> None:
    weights = tmp_path / "Lingshu-7B.Q4_K_M.gguf"
    weights.write_bytes(b"x")
    (tmp_path / "Lingshu-7B.mmproj-f16.gguf").write_bytes(b"y")
    spec = resolve_model(VlmSettings(model=str(weights)), tmp_path)
    assert spec.family == "lingshu"
    assert spec.mmproj_path == tmp_path / "Lingshu-7B.mmproj-f16.gguf"
    model = create_vlm(spec, VlmSettings())
    assert isinstance(model, LlamaCppVLM)
    assert model.options.family == "lingshu"


def test_unknown_names_and_engines(tmp_path: Path) -> None:
    with pytest.raises(UnknownModelError, match="no model called"):
        resolve_model(VlmSettings(model="gpt-17"), tmp_path)
    with pytest.raises(UnknownModelError, match="does not exist"):
        resolve_model(VlmSettings(model=str(tmp_path / "missing.gguf")), tmp_path)
    with pytest.raises(UnknownModelError, match="speech model"):
        resolve_model(VlmSettings(model="tiny.en"), tmp_path)
    with pytest.raises(BackendError) as info:
        resolve_model(VlmSettings(backend="magic"), tmp_path)
    assert "llama-cpp" in info.value.hint


def test_openai_engine_needs_no_local_files(tmp_path: Path) -> None:
    settings = VlmSettings(
        backend="openai", server_url="http://127.0.0.1:9/v1", server_model="qwen2.5-vl-7b"
    )
    spec = resolve_model(settings, tmp_path)
    assert spec.family == "qwen2.5-vl" and spec.model_path is None
    assert isinstance(create_vlm(spec, settings, PrivacySettings()), OpenAICompatVLM)


def test_family_guess_from_file_names() -> None:
    assert guess_family("medgemma-1.5-4b-it-Q4_K_M.gguf") == "medgemma"
    assert guess_family("Qwen2.5-VL-7B-Instruct-Q4_K_M.gguf") == "qwen2.5-vl"
    assert guess_family("llava-med-v1.5-mistral-7b.Q4_K_M.gguf") == "llava-med"


def test_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from voxrad.core.settings import load_settings

    monkeypatch.setenv("VOXRAD_VLM__BACKEND", "openai")
    monkeypatch.setenv("VOXRAD_VLM__GPU_LAYERS", "12")
    settings = load_settings()
    assert settings.vlm.backend == "openai" and settings.vlm.gpu_layers == 12
