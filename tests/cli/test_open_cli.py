"""``voxrad open``: a missing path is a clear message, not a window or a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from voxrad.cli import main


def test_open_missing_path_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["open", str(tmp_path / "nope")])
    assert code == 1
    err = capsys.readouterr().err
    assert "does not exist" in err and "Check the path" in err


def test_open_is_listed_in_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "open a study in the viewer" in capsys.readouterr().out
