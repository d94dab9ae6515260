import sys
from collections.abc import Iterator
from pathlib import Path

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
