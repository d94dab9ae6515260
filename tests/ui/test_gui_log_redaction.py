"""A study opened in the window has its identifiers removed from the log (Xvfb).

``voxrad ask`` and ``voxrad info`` tell the log redactor whose study is open; the desktop
app must too, or the README's "logs drop the study's identifiers" holds only on the command
line.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "records"))

from study_support import PATIENT_ID, write_ct

from voxrad.assistant.privacy.gate import log_redactor
from voxrad.core.settings import load_settings
from voxrad.main import configure_logging
from voxrad.ui.main_window import MainWindow

pytestmark = pytest.mark.gl


@pytest.fixture
def log_file(voxrad_home: Path) -> Iterator[Path]:
    """The app's own log set-up (file handler with the redactor), undone afterwards."""
    path = configure_logging(load_settings())
    yield path
    log_redactor().set_identity(None)
    root = logging.getLogger("voxrad")
    for handler in list(root.handlers):
        root.removeHandler(handler)
        handler.close()


def test_a_study_opened_in_the_window_is_redacted_from_the_log(
    qtbot: Any, tmp_path: Path, log_file: Path
) -> None:
    write_ct(tmp_path / "study", slices=3, size=32)
    win = MainWindow(show_dialogs=False)
    win.show()
    qtbot.waitExposed(win)
    try:
        with qtbot.waitSignal(win.volume_loaded, timeout=60_000):
            win.open_path(tmp_path / "study")
        # A slip of the kind the redactor is the second line of defence for.
        logging.getLogger("voxrad.ui.test").warning(
            "could not read /pacs/cache/%s/img1.dcm", PATIENT_ID
        )
        for handler in logging.getLogger("voxrad").handlers:
            handler.flush()
        text = log_file.read_text(encoding="utf-8")
        assert "could not read /pacs/cache/" in text
        assert PATIENT_ID not in text and "99173" not in text
    finally:
        win.close()  # VTK windows are finalised in closeEvent, before Qt deletes the widgets
        win.deleteLater()
