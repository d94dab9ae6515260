"""``voxrad ask`` and ``voxrad models`` without a model installed: clear messages, no answers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from voxrad.cli import main


def test_no_model_installed_names_what_to_install(
    capsys: pytest.CaptureFixture[str], shared_data: Path
) -> None:
    image = shared_data / "cxr" / "nih-00000001_000-cardiomegaly.png"
    assert main(["ask", str(image), "Is the heart enlarged?"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""  # never an invented answer
    assert "is not installed" in captured.err
    assert "voxrad models pull medgemma-1.5-4b-it" in captured.err


def test_bad_region(capsys: pytest.CaptureFixture[str], shared_data: Path) -> None:
    image = shared_data / "cxr" / "nih-00000001_000-cardiomegaly.png"
    assert main(["ask", str(image), "What?", "--region", "1,2,three,4"]) == 1
    assert "X,Y,W,H" in capsys.readouterr().err


def test_unknown_backend(capsys: pytest.CaptureFixture[str], shared_data: Path) -> None:
    image = shared_data / "cxr" / "nih-00000001_000-cardiomegaly.png"
    assert main(["ask", str(image), "What?", "--backend", "magic"]) == 1
    assert "llama-cpp" in capsys.readouterr().err


def test_models_import_list_verify_remove(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    fake = tmp_path / "fake"
    fake.mkdir()
    (fake / "medgemma-1.5-4b-it-Q4_K_M.gguf").write_bytes(b"w" * 1000)
    (fake / "mmproj-F16.gguf").write_bytes(b"p" * 100)
    assert main(["models", "import", str(fake)]) == 1  # not the files the catalog pins
    assert "not the" in capsys.readouterr().err
    usb = tmp_path / "usb"
    usb.mkdir()
    (usb / "Lingshu-7B.Q4_K_M.gguf").write_bytes(b"w" * 1000)
    (usb / "Lingshu-7B.mmproj-f16.gguf").write_bytes(b"p" * 100)
    assert main(["models", "import", str(usb)]) == 0
    assert "imported lingshu-7b" in capsys.readouterr().out
    assert main(["models", "--json", "list"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)["models"]}
    assert rows["lingshu-7b"]["installed"] is True
    assert rows["medgemma-1.5-4b-it"]["installed"] is False  # the refused copy was not kept
    assert main(["models", "verify"]) == 0
    assert "ok" in capsys.readouterr().out
    assert main(["models", "remove", "lingshu-7b"]) == 0
    assert "removed" in capsys.readouterr().out


def test_models_pull_unknown_name(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["models", "pull", "no-such-model"]) == 1
    assert "Known models" in capsys.readouterr().err
