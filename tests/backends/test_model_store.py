"""The model catalog and the models folder: pull (through a fake hub), verify, import, remove."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest

from voxrad.backends import model_store
from voxrad.backends.catalog import (
    Catalog,
    CatalogError,
    ModelEntry,
    UnknownModelError,
    find_installed,
    load_catalog,
    require_installed,
)
from voxrad.backends.model_store import (
    ChecksumMismatchError,
    InsufficientDiskError,
    ModelAccessError,
    RemoteFile,
    RepoListing,
)
from voxrad.core.errors import ModelNotInstalledError
from voxrad.core.families import family_format


def test_catalog_lists_the_required_models() -> None:
    catalog = load_catalog()
    names = {e.name for e in catalog.models}
    assert {"medgemma-1.5-4b-it", "lingshu-7b", "qwen2.5-vl-7b-instruct"} <= names
    # LLaVA-Med has no public GGUF with a projector made for it (see the README).
    assert not any("llava" in n for n in names)
    assert {"tiny.en", "large-v3-turbo"} <= names
    default = [e for e in catalog.of_kind("vlm") if e.recommended]
    assert [e.name for e in default] == ["medgemma-1.5-4b-it"]
    for entry in catalog.of_kind("vlm"):
        assert family_format(entry.family) is not None, entry.name
        assert entry.licence and entry.hf_repo
        if entry.backend == "llama-cpp":
            assert {f.role for f in entry.files} == {"weights", "mmproj"}
        for f in entry.files:  # checksums are null or real sha256 hex, never placeholders
            assert f.sha256 is None or (len(f.sha256) == 64 and int(f.sha256, 16) >= 0)
            if entry.backend == "llama-cpp":
                assert f.name and not f.pattern, (entry.name, f)  # exact names, no globs
    assert any(e.backend == "transformers" for e in catalog.models)


def test_unknown_name_lists_the_known_ones() -> None:
    with pytest.raises(UnknownModelError) as info:
        load_catalog().get("gpt-17")
    assert "medgemma-1.5-4b-it" in info.value.hint


def test_damaged_catalog(tmp_path: Path) -> None:
    bad = tmp_path / "catalog.json"
    bad.write_text('{"models": [{"name": 1}]}')
    with pytest.raises(CatalogError):
        load_catalog(bad)


class FakeHub:
    """A model hub in memory: files with contents, optionally gated or lying about sha256."""

    def __init__(
        self, files: dict[str, bytes], *, gated: bool = False, sha_override: str | None = None
    ):
        self.files = files
        self.gated = gated
        self.sha_override = sha_override
        self.downloads: list[str] = []

    def list_files(self, repo: str, revision: str, token: str | None) -> RepoListing:
        if self.gated and token is None:
            raise ModelAccessError(f"The model {repo} is gated: its terms must be accepted.")
        files = [
            RemoteFile(n, len(b), self.sha_override or hashlib.sha256(b).hexdigest())
            for n, b in self.files.items()
        ]
        return RepoListing(commit="c0ffee" * 6 + "c0ff", files=files)

    def download(
        self, repo: str, filename: str, revision: str, folder: Path, token: str | None
    ) -> Path:
        assert revision == "c0ffee" * 6 + "c0ff"  # every file from the one listed commit
        self.downloads.append(filename)
        path = folder / filename
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(self.files[filename])
        return path


def _entry(**kw: object) -> ModelEntry:
    data: dict[str, object] = {
        "name": "tiny-vlm",
        "title": "Tiny",
        "kind": "vlm",
        "family": "medgemma",
        "backend": "llama-cpp",
        "hf_repo": "someone/tiny-GGUF",
        "files": [
            {"role": "weights", "name": "tiny-Q4_K_M.gguf"},
            {"role": "mmproj", "name": "mmproj-tiny-F16.gguf"},
        ],
        "ram_gb": 1,
        "licence": "Apache-2.0",
    }
    data.update(kw)
    return ModelEntry.model_validate(data)


HUB_FILES = {
    "tiny-Q4_K_M.gguf": b"weights" * 100,
    "tiny-Q8_0.gguf": b"other" * 100,
    "mmproj-tiny-F16.gguf": b"projector" * 50,
    "README.md": b"# tiny",
}


def test_pull_downloads_only_the_catalog_files_and_records_them(tmp_path: Path) -> None:
    hub = FakeHub(HUB_FILES)
    entry = _entry()
    manifest = model_store.pull(entry, tmp_path, hub=hub)
    assert sorted(hub.downloads) == ["mmproj-tiny-F16.gguf", "tiny-Q4_K_M.gguf"]
    assert {f.role: f.sha256 for f in manifest.files}["weights"] == hashlib.sha256(
        HUB_FILES["tiny-Q4_K_M.gguf"]
    ).hexdigest()
    installed = find_installed(entry, tmp_path)
    assert installed is not None
    assert installed.path_of("weights") == tmp_path / "tiny-vlm" / "tiny-Q4_K_M.gguf"
    assert model_store.verify(entry, tmp_path).status == "ok"


def test_pull_rejects_a_corrupted_download(tmp_path: Path) -> None:
    hub = FakeHub(HUB_FILES, sha_override="0" * 64)
    with pytest.raises(ChecksumMismatchError):
        model_store.pull(_entry(), tmp_path, hub=hub)
    assert not (tmp_path / "tiny-vlm" / "tiny-Q4_K_M.gguf").exists()  # the bad file is gone


def test_catalog_checksum_wins_over_the_hub(tmp_path: Path) -> None:
    entry = _entry(
        files=[
            {"role": "weights", "name": "tiny-Q4_K_M.gguf", "sha256": "1" * 64},
            {"role": "mmproj", "name": "mmproj-tiny-F16.gguf"},
        ]
    )
    with pytest.raises(ChecksumMismatchError):
        model_store.pull(entry, tmp_path, hub=FakeHub(HUB_FILES))


def test_gated_model_explains_token_and_terms(tmp_path: Path) -> None:
    with pytest.raises(ModelAccessError) as info:
        model_store.pull(_entry(gated=True), tmp_path, hub=FakeHub(HUB_FILES, gated=True))
    assert "token" in info.value.hint and "terms" in info.value.hint


def test_a_glob_for_one_file_is_refused() -> None:
    with pytest.raises(ValueError, match="named exactly"):
        _entry(files=[{"role": "weights", "name": "*.gguf"}])
    with pytest.raises(ValueError, match="named exactly"):
        _entry(files=[{"role": "weights", "pattern": "*Q4_K_M.gguf"}])


def test_a_file_missing_from_the_repository_is_an_error(tmp_path: Path) -> None:
    entry = _entry(files=[{"role": "weights", "name": "tiny-Q5_K_M.gguf"}])
    with pytest.raises(model_store.ModelStoreError, match="holds 0"):
        model_store.pull(entry, tmp_path, hub=FakeHub(HUB_FILES))
    assert not (tmp_path / "tiny-vlm").exists()


def test_free_disk_check(tmp_path: Path) -> None:
    free = shutil.disk_usage(tmp_path).free
    with pytest.raises(InsufficientDiskError):
        model_store.check_disk(tmp_path / "not" / "yet", free)
    model_store.check_disk(tmp_path, 1000)


def test_verify_finds_a_damaged_file_and_remove_deletes(tmp_path: Path) -> None:
    entry = _entry()
    model_store.pull(entry, tmp_path, hub=FakeHub(HUB_FILES))
    (tmp_path / "tiny-vlm" / "tiny-Q4_K_M.gguf").write_bytes(b"bitrot")
    result = model_store.verify(entry, tmp_path)
    assert result.status == "damaged" and "changed" in result.detail
    assert model_store.remove(entry, tmp_path)
    assert model_store.verify(entry, tmp_path).status == "not installed"
    assert not model_store.remove(entry, tmp_path)


def test_import_hand_copied_files_and_require_installed(tmp_path: Path) -> None:
    usb = tmp_path / "usb"
    usb.mkdir()
    for name in ("tiny-Q4_K_M.gguf", "mmproj-tiny-F16.gguf"):
        (usb / name).write_bytes(HUB_FILES[name])
    models = tmp_path / "models"
    entry = _entry()
    catalog = Catalog(models=[entry])
    with pytest.raises(ModelNotInstalledError) as info:
        require_installed(entry, models)
    assert "voxrad models pull tiny-vlm" in info.value.hint
    manifest = model_store.import_path(usb / "tiny-Q4_K_M.gguf", models, catalog)
    assert manifest.source == "import" and len(manifest.files) == 2
    assert (
        require_installed(entry, models).path_of("mmproj")
        == models / "tiny-vlm" / "mmproj-tiny-F16.gguf"
    )
    assert model_store.verify(entry, models).status == "ok"


def test_import_of_unknown_files_asks_for_a_name(tmp_path: Path) -> None:
    (tmp_path / "something.bin").write_bytes(b"x")
    with pytest.raises(model_store.ModelStoreError, match="cannot tell"):
        model_store.import_path(tmp_path, tmp_path / "models", Catalog(models=[_entry()]))


def test_whisper_folder_import_uses_the_speech_folder_name(tmp_path: Path) -> None:
    src = tmp_path / "ct2"
    src.mkdir()
    (src / "model.bin").write_bytes(b"m")
    (src / "config.json").write_text("{}")
    catalog = load_catalog()
    manifest = model_store.import_path(src, tmp_path / "models", catalog, name="tiny.en")
    assert (tmp_path / "models" / "faster-whisper-tiny.en" / "model.bin").is_file()
    assert {f.path for f in manifest.files} == {"model.bin", "config.json"}
    assert model_store.verify(catalog.get("tiny.en"), tmp_path / "models").status == "ok"
