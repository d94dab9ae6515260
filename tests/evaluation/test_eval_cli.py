"""``voxrad eval``: clear messages without a model, and the whole command with a scripted one."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from eval_fakes import FakeAnswerer, Scripted

from voxrad.cli import main
from voxrad.evaluation.answerer import EngineAnswerer, image_volume


def test_without_an_installed_model_it_says_so(
    shared_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # VOXRAD_HOME is a fresh folder (conftest): its models folder is empty.
    code = main(
        ["eval", "vqa", "--dataset", str(shared_data / "vqa-rad-sample"), "--out", str(tmp_path)]
    )
    err = capsys.readouterr().err
    assert code == 1
    assert "not installed" in err and "voxrad models pull" in err
    assert not (tmp_path / "results.jsonl").exists()


def test_without_a_model_engine_it_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    from voxrad.core.errors import ModelNotInstalledError
    from voxrad.core.settings import Settings

    monkeypatch.setitem(sys.modules, "voxrad.backends.vlm.registry", None)  # import fails
    with pytest.raises(ModelNotInstalledError, match="engine is not installed") as info:
        EngineAnswerer.from_settings(Settings())
    assert "voxrad models pull" in info.value.hint


def test_a_wrong_dataset_fails_before_any_model_is_loaded(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_load(*args: object, **kwargs: object) -> None:
        raise AssertionError("the model must not be loaded for a wrong dataset")

    monkeypatch.setattr(EngineAnswerer, "from_settings", classmethod(no_load))
    code = main(["eval", "grounding", "--dataset", str(tmp_path / "nope")])
    assert code == 1
    assert "does not exist" in capsys.readouterr().err


def test_limit_must_be_positive(shared_data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["eval", "vqa", "--dataset", str(shared_data / "vqa-rad-sample"), "--limit", "0"])
    assert code == 2 and "--limit" in capsys.readouterr().err


def test_eval_vqa_json_with_a_scripted_model(
    shared_data: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # "yes" to everything: the closed questions whose truth is yes are right (1198, 55, 56).
    fake = FakeAnswerer({"any": Scripted("yes", 0.5)}, key=lambda question, image: "any")

    def make(
        cls: type,
        settings: object,
        *,
        model: str | None = None,
        backend: str | None = None,
        seed: int = 0,
    ) -> object:
        assert (model, backend, seed) == ("my-model", "llama-cpp", 7)
        return fake

    monkeypatch.setattr(EngineAnswerer, "from_settings", classmethod(make))
    out = tmp_path / "run"
    code = main(
        [
            "eval",
            "vqa",
            "--dataset",
            str(shared_data / "vqa-rad-sample"),
            "--model",
            "my-model",
            "--seed",
            "7",
            "--backend",
            "llama-cpp",
            "--out",
            str(out),
            "--json",
        ]
    )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    payload = json.loads(captured.out)
    assert payload["folder"] == str(out)
    overall = payload["summary"]["conditions"]["image"]["overall"]
    assert overall["closed_accuracy"] == pytest.approx(3 / 7)
    assert fake.closed
    assert (out / "report.md").is_file() and (out / "summary.json").is_file()
    assert "eval vqa [" in captured.err  # the progress bar is on stderr, JSON alone on stdout


def test_the_engine_sees_the_dataset_pixels_as_a_colour_image() -> None:
    rgb = np.random.default_rng(0).integers(0, 256, size=(5, 7, 3), dtype=np.uint8)
    volume = image_volume(rgb)
    assert volume.shape == (1, 5, 7) and volume.is_color
    assert np.array_equal(volume.voxels[0], rgb)
    with pytest.raises(ValueError, match="uint8"):
        image_volume(rgb.astype(np.float32))


def test_ctrl_c_keeps_the_finished_items_and_says_how_to_continue(
    shared_data: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake = FakeAnswerer(
        {"any": Scripted("yes", 0.5)}, key=lambda question, image: "any", interrupt_after=4
    )
    monkeypatch.setattr(EngineAnswerer, "from_settings", classmethod(lambda cls, s, **kw: fake))
    out = tmp_path / "run"
    sample = str(shared_data / "vqa-rad-sample")
    code = main(["eval", "vqa", "--dataset", sample, "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 130
    assert str(out) in err and "same command again" in err
    assert len((out / "results.jsonl").read_text().splitlines()) == 3
    assert fake.closed  # the model is freed on the way out
