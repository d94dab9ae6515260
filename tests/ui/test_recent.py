"""Recent-studies list (kept under VOXRAD_HOME by the autouse fixture)."""

from __future__ import annotations

from pathlib import Path

from voxrad.core import paths
from voxrad.ui.recent import MAX_RECENT, add_recent, load_recent


def test_newest_first_without_duplicates_and_capped(tmp_path: Path) -> None:
    for n in range(MAX_RECENT + 3):
        add_recent(str(tmp_path / f"s{n}"))
    add_recent(str(tmp_path / "s5"))
    items = load_recent()
    assert items[0].endswith("s5") and len(items) == MAX_RECENT
    assert len(set(items)) == len(items)


def test_damaged_file_gives_empty_list() -> None:
    target = paths.config_dir() / "recent-studies.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text("{not json", encoding="utf-8")
    assert load_recent() == []
