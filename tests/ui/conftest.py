import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from xvfb_support import xvfb_session


@pytest.fixture(scope="session", autouse=True)
def x_display() -> Iterator[str]:
    """A real X display (Xvfb) for every test in this folder."""
    with xvfb_session() as display:
        yield display


@pytest.fixture(scope="session")
def qapp_args(x_display: str) -> list[str]:
    return ["voxrad-tests", "-platform", "xcb"]


@pytest.fixture
def made() -> Iterator[list[Any]]:
    """Main windows a test made: closed (which shuts their assistant down) afterwards."""
    windows: list[Any] = []
    yield windows
    from PySide6.QtWidgets import QApplication

    for win in windows:
        win.close()
        win.deleteLater()
    QApplication.processEvents()
