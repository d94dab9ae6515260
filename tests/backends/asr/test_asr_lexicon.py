"""Vocabulary biasing inputs, model lookup and the engine registry (no model needed)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from voxrad.backends.asr.faster_whisper import resolve_model_path, to_mono_16k
from voxrad.backends.asr.lexicon import (
    all_terms,
    build_prompt,
    is_prompt_copy,
    load_lexicon,
    rejoin_split_terms,
    study_regions,
    study_vocabulary,
    study_words,
)
from voxrad.backends.asr.registry import create_transcriber
from voxrad.core.errors import BackendError, ModelNotInstalledError, SettingsError
from voxrad.core.settings import AsrSettings


def test_lexicon_file(tmp_path: Path) -> None:
    path = tmp_path / "site.txt"
    path.write_text("# drugs\nmetoprolol\n\nPneumothorax  # finding\nmetoprolol\n", "utf-8")
    assert load_lexicon(path) == ("metoprolol", "Pneumothorax")


def test_missing_lexicon_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="cannot be read") as info:
        load_lexicon(tmp_path / "nope.txt")
    assert "asr.lexicon_path" in info.value.hint


def test_study_words() -> None:
    words = study_words("MR", "BRAIN", ["AX T2 FLAIR", "DWI_b1000", "Ax T1 post contrast"])
    assert words[:2] == ("MRI", "brain")
    assert "flair" in words and "contrast" in words
    assert "ax" not in words  # too short to help


def test_prompt_priority_and_budget() -> None:
    prompt = build_prompt(["pneumothorax"], ["metoprolol", "PNEUMOTHORAX"], all_terms())
    assert prompt is not None and prompt.startswith("Glossary: pneumothorax, metoprolol,")
    assert prompt.lower().count("pneumothorax") == 1
    long = [f"term{i:03d}" for i in range(500)]
    capped = build_prompt(["studyword"], long, max_chars=120)
    assert capped is not None and len(capped) <= 120 and "studyword" in capped
    assert build_prompt([], ()) is None


def test_unknown_model_names_the_fix(tmp_path: Path) -> None:
    with pytest.raises(ModelNotInstalledError, match="large-v3-turbo") as info:
        resolve_model_path("large-v3-turbo", tmp_path)
    assert "voxrad models" in info.value.hint


def test_model_found_in_models_folder(tmp_path: Path) -> None:
    folder = tmp_path / "faster-whisper-base.en"
    folder.mkdir()
    (folder / "model.bin").write_bytes(b"x")
    assert resolve_model_path("base.en", tmp_path) == folder
    assert resolve_model_path(str(folder)) == folder


def test_registry_lists_known_engines() -> None:
    with pytest.raises(BackendError, match="Unknown speech") as info:
        create_transcriber(AsrSettings(backend="dragon"))
    assert "faster-whisper" in info.value.hint


def test_audio_conversion() -> None:
    stereo = np.zeros((44_100, 2), dtype=np.int16)
    stereo[:, 0] = 16_384
    mono = to_mono_16k(stereo, 44_100)
    assert mono.dtype == np.float32 and mono.shape == (16_000,)
    assert float(np.median(mono)) == pytest.approx(0.25, abs=0.01)
    with pytest.raises(BackendError):
        to_mono_16k(np.zeros((2, 2, 2)), 16_000)


def test_vocabulary_follows_the_study_region() -> None:
    abdomen = study_vocabulary(study_words("CT", "ABDOMEN", ["Abdomen pelvis portal venous"]))
    assert {"kidney", "spleen", "pancreas", "adrenal", "gallbladder", "appendix"} <= set(abdomen)
    assert "lung window" in abdomen  # a CT word
    assert "emphysema" not in abdomen and "pneumothorax" not in abdomen
    chest = study_vocabulary(study_words("CT", "CHEST"))
    assert "pneumothorax" in chest and "kidney" not in chest
    assert study_regions(study_words("MR", "LSPINE", ["SAG T2"])) == ("spine",)
    # Nothing open: common findings, without those measured to replace another finding.
    general = study_vocabulary(())
    assert "pneumothorax" in general and "pleural effusion" in general and "axial" in general
    assert not {"emphysema", "pulmonary embolism", "aneurysm", "hemorrhage"} & set(general)


def test_prompt_copy_is_recognised() -> None:
    prompt = build_prompt(("CT", "chest"), study_vocabulary(("CT", "chest")))
    assert prompt is not None
    assert is_prompt_copy("Glossary, pneumothorax, pleural effusion,", prompt)
    assert is_prompt_copy("pneumothorax, pleural effusion, pulmonary embolism.", prompt)
    # A question that uses prompt terms is speech, not a copy.
    assert not is_prompt_copy("Is there a pneumothorax or pleural effusion?", prompt)
    assert not is_prompt_copy("Any pneumothorax, pleural effusion or pulmonary embolism?", prompt)
    assert not is_prompt_copy("Is there a pleural effusion?", prompt)
    assert not is_prompt_copy("Glossary words without a prompt.", None)


def test_split_terms_are_rejoined_and_nothing_else_changes() -> None:
    terms = ("pneumothorax", "gallbladder", "hydronephrosis", "left lung")
    assert rejoin_split_terms("Is there a pneumo thorax?", terms) == "Is there a pneumothorax?"
    assert rejoin_split_terms("stones in the gall-bladder", terms) == "stones in the gallbladder"
    assert rejoin_split_terms("hydro nephrosis on the right", terms) == (
        "hydronephrosis on the right"
    )
    text = "The left lung, right kidney and the bladder: no change."
    assert rejoin_split_terms(text, terms) == text
