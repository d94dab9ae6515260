"""The shipped catalog against recorded listings of the real Hugging Face repositories.

The listings (``hub_listings/``, sources in its README) hold the decoys that made the old
catalog's globs fail on a real hub: ``mmproj-BF16.gguf`` beside ``mmproj-F16.gguf``, other
quantisations, ``UD-`` files. Every llama.cpp entry must resolve to exactly its two files, with
the sizes and checksums pinned, and ``pull --dry-run`` must say what a pull would fetch.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from voxrad.backends import model_store
from voxrad.backends.catalog import ModelEntry, load_catalog
from voxrad.backends.model_store import (
    ChecksumMismatchError,
    ModelStoreError,
    RemoteFile,
    RepoListing,
)

LISTINGS = Path(__file__).with_name("hub_listings")


class RecordedHub:
    """A hub that lists what the real repository holds; it downloads ``content`` only."""

    def __init__(self, content: dict[str, bytes] | None = None) -> None:
        self.content = content or {}
        self.listed: list[tuple[str, str]] = []
        self.downloads: list[str] = []

    def list_files(self, repo: str, revision: str, token: str | None) -> RepoListing:
        self.listed.append((repo, revision))
        data = json.loads((LISTINGS / (repo.replace("/", "__") + ".json")).read_text())
        if data["commit"] is not None and len(revision) == 40:
            assert revision == data["commit"], f"{repo}: the catalog pins another revision"
        files = [RemoteFile(f["name"], f["size"], f["sha256"]) for f in data["files"]]
        return RepoListing(data["commit"] or revision, files)

    def download(
        self, repo: str, filename: str, revision: str, folder: Path, token: str | None
    ) -> Path:
        self.downloads.append(filename)
        path = folder / filename
        path.write_bytes(self.content[filename])
        return path


def _gguf_entries() -> list[ModelEntry]:
    return [e for e in load_catalog().models if e.backend == "llama-cpp"]


def _old_glob_matches(listing: str, glob: str) -> list[str]:
    import fnmatch

    data = json.loads((LISTINGS / listing).read_text())
    return [f["name"] for f in data["files"] if fnmatch.fnmatch(f["name"], glob)]


def test_the_old_globs_were_ambiguous_on_the_real_listing() -> None:
    # Why the recommended model could not be installed: the catalog's 'mmproj*F16.gguf'.
    hits = _old_glob_matches("unsloth__medgemma-1.5-4b-it-GGUF.json", "mmproj*F16.gguf")
    assert sorted(hits) == ["mmproj-BF16.gguf", "mmproj-F16.gguf"]


@pytest.mark.parametrize("entry", _gguf_entries(), ids=lambda e: e.name)
def test_every_gguf_entry_resolves_to_exactly_its_two_files(
    entry: ModelEntry, tmp_path: Path
) -> None:
    hub = RecordedHub()
    plan = model_store.plan(entry, tmp_path, hub=hub)
    assert [(f.role, f.name) for f in plan.files] == [
        (spec.role, spec.name) for spec in entry.files
    ]
    assert not any(f.present for f in plan.files)
    assert hub.downloads == []  # a plan downloads nothing
    assert hub.listed == [(entry.hf_repo, entry.revision)]


def test_medgemma_pull_fetches_the_two_pinned_files(tmp_path: Path) -> None:
    entry = load_catalog().get("medgemma-1.5-4b-it")
    assert entry.recommended and entry.pinned_revision
    plan = model_store.plan(entry, tmp_path, hub=RecordedHub())
    assert [(f.name, f.size, f.checksum_from) for f in plan.files] == [
        ("medgemma-1.5-4b-it-Q4_K_M.gguf", 2_489_894_976, "catalog"),
        ("mmproj-F16.gguf", 851_252_224, "catalog"),
    ]
    assert plan.download_bytes == 2_489_894_976 + 851_252_224
    assert plan.commit == "3855f948626b7ae42bccd082757f15078c53e758"
    assert entry.checksums == "pinned"


def test_qwen_pull_skips_the_q8_projector(tmp_path: Path) -> None:
    entry = load_catalog().get("qwen2.5-vl-7b-instruct")
    names = [f.name for f in model_store.plan(entry, tmp_path, hub=RecordedHub()).files]
    assert names == ["Qwen2.5-VL-7B-Instruct-Q4_K_M.gguf", "mmproj-Qwen2.5-VL-7B-Instruct-f16.gguf"]


def test_lingshu_says_its_checksum_is_recorded_on_first_download(tmp_path: Path) -> None:
    entry = load_catalog().get("lingshu-7b")
    assert entry.checksums == "recorded on first download"
    plan = model_store.plan(entry, tmp_path, hub=RecordedHub())
    assert [f.checksum_from for f in plan.files] == ["none", "none"]
    assert plan.unknown_sizes == 2


def test_large_v3_turbo_comes_from_its_new_home() -> None:
    entry = load_catalog().get("large-v3-turbo")
    assert entry.hf_repo == "dropbox-dash/faster-whisper-large-v3-turbo"
    assert entry.revision == "0c94664816ec82be77b20e824c8e8675995b0029"


def test_a_pinned_file_replaced_upstream_is_refused_before_download(tmp_path: Path) -> None:
    entry = load_catalog().get("medgemma-1.5-4b-it")

    class ChangedHub(RecordedHub):
        def list_files(self, repo: str, revision: str, token: str | None) -> RepoListing:
            listing = super().list_files(repo, revision, token)
            files = [
                RemoteFile(f.name, f.size, "ab" * 32) if f.name == "mmproj-F16.gguf" else f
                for f in listing.files
            ]
            return RepoListing(listing.commit, files)

    hub = ChangedHub()
    with pytest.raises(ChecksumMismatchError, match="not the file VoxRad's catalog pins"):
        model_store.pull(entry, tmp_path, hub=hub)
    assert hub.downloads == []


def test_a_resized_file_is_refused_before_download(tmp_path: Path) -> None:
    entry = load_catalog().get("qwen2.5-vl-7b-instruct")

    class ResizedHub(RecordedHub):
        def list_files(self, repo: str, revision: str, token: str | None) -> RepoListing:
            listing = super().list_files(repo, revision, token)
            files = [RemoteFile(f.name, 12345, None) for f in listing.files]
            return RepoListing(listing.commit, files)

    with pytest.raises(ModelStoreError, match="12,345 bytes"):
        model_store.pull(entry, tmp_path, hub=ResizedHub())


def test_a_download_that_is_not_the_pinned_file_is_deleted(tmp_path: Path) -> None:
    # The listing is right but the bytes that arrive are not (a proxy, a truncated cache).
    entry = load_catalog().get("medgemma-1.5-4b-it")
    hub = RecordedHub({"medgemma-1.5-4b-it-Q4_K_M.gguf": b"GGUF not the real weights"})
    with pytest.raises(ChecksumMismatchError):
        model_store.pull(entry, tmp_path, hub=hub)
    assert not (tmp_path / entry.install_dir / "medgemma-1.5-4b-it-Q4_K_M.gguf").exists()


def test_matching_ignores_case_on_every_platform(tmp_path: Path) -> None:
    entry = load_catalog().get("medgemma-1.5-4b-it")
    folder = tmp_path / entry.install_dir
    folder.mkdir()
    (folder / "MEDGEMMA-1.5-4B-IT-Q4_K_M.GGUF").write_bytes(b"w")
    (folder / "MMPROJ-F16.gguf").write_bytes(b"p")
    (folder / "mmproj-BF16.gguf").write_bytes(b"decoy")
    from voxrad.backends.catalog import find_installed

    installed = find_installed(entry, tmp_path)
    assert installed is not None
    assert installed.path_of("mmproj") == folder / "MMPROJ-F16.gguf"
    listing = [RemoteFile("MMPROJ-F16.GGUF"), RemoteFile("medgemma-1.5-4b-it-q4_k_m.gguf")]
    assert [r.name for _, r in model_store.match_files(entry, listing)] == [
        "medgemma-1.5-4b-it-q4_k_m.gguf",
        "MMPROJ-F16.GGUF",
    ]


def test_import_refuses_a_copy_that_is_not_the_pinned_file(tmp_path: Path) -> None:
    usb = tmp_path / "usb"
    usb.mkdir()
    (usb / "medgemma-1.5-4b-it-Q4_K_M.gguf").write_bytes(b"w")
    (usb / "mmproj-F16.gguf").write_bytes(b"p")
    with pytest.raises(ChecksumMismatchError, match="not the"):
        model_store.import_path(usb, tmp_path / "models", load_catalog())


def _run_cli(args: list[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> tuple[int, str]:
    import contextlib
    import io

    from voxrad.cli import main

    monkeypatch.setattr(model_store, "HuggingFaceHub", RecordedHub)
    monkeypatch.setenv("VOXRAD_HOME", str(tmp_path / "home"))
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(args)
    return code, out.getvalue()


def test_cli_dry_run_prints_files_sizes_total_and_free_disk(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    code, text = _run_cli(
        ["models", "pull", "medgemma-1.5-4b-it", "--dry-run"], monkeypatch, tmp_path
    )
    assert code == 0, text
    assert "medgemma-1.5-4b-it-Q4_K_M.gguf" in text and "2,489,894,976 bytes" in text
    assert "mmproj-F16.gguf" in text and "BF16" not in text
    assert "to download: 3.34 GB" in text and "free:" in text
    assert "nothing was downloaded" in text
    assert not list((tmp_path / "home").rglob("*.gguf"))


def test_cli_dry_run_json(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    code, text = _run_cli(
        ["models", "--json", "pull", "lingshu-7b", "--dry-run"], monkeypatch, tmp_path
    )
    data: dict[str, Any] = json.loads(text)
    assert code == 0
    assert [f["name"] for f in data["files"]] == [
        "Lingshu-7B.Q4_K_M.gguf",
        "Lingshu-7B.mmproj-f16.gguf",
    ]
    assert data["revision"] == "main"


def test_cli_list_says_which_checksums_are_recorded_on_first_download(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    code, text = _run_cli(["models", "--json", "list"], monkeypatch, tmp_path)
    assert code == 0
    rows = {r["name"]: r for r in json.loads(text)["models"]}
    assert rows["medgemma-1.5-4b-it"]["checksums"] == "pinned"
    assert rows["lingshu-7b"]["checksums"] == "recorded on first download"
