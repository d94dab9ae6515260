from __future__ import annotations

from voxrad import __version__
from voxrad.core import paths


def test_release_notes_start_with_the_newest_sections() -> None:
    notes = paths.release_notes(max_releases=2)
    assert notes.startswith("## [")
    assert notes.count("\n## [") == 1  # exactly two sections
    assert f"## [{__version__}]" in paths.release_notes(max_releases=3)


def test_shipped_files_found_from_the_install_root() -> None:
    root = paths.install_root()
    assert (root / "CHANGELOG.md").is_file()
    assert (root / "models" / "catalog.json").is_file()
    assert (root / "assets" / "sample-ct").is_dir()
