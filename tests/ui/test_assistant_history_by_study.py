"""A study's conversation follows the study, not the folder it was opened from (Xvfb).

The same DICOM study copied to another folder (a PACS cache, a CD copied to disk) keeps its
StudyInstanceUID and SeriesInstanceUID: its saved conversation must reopen with it. A
conversation saved by an older VoxRad under the file path and series number is still found.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import Any

import pytest
from assistant_support import ask, make_window

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "records"))

from study_support import write_ct

from voxrad.assistant.history.store import ConversationStore
from voxrad.assistant.loop.turns import TurnRecord
from voxrad.core.conversation import Answer, Question
from voxrad.ui.assistant_bridge import AssistantBridge
from voxrad.ui.main_window import MainWindow

pytestmark = pytest.mark.gl


def _open(qtbot: Any, win: MainWindow, folder: Path) -> None:
    with qtbot.waitSignal(win.volume_loaded, timeout=60_000):
        win.open_path(folder)


def _shown(bridge: AssistantBridge) -> list[str]:
    panel = bridge.panel
    return [panel.turns[k].transcript.text() for k in sorted(panel.turns)]


def test_the_same_study_from_another_folder_finds_its_conversation(
    qtbot: Any, made: list[MainWindow], tmp_path: Path
) -> None:
    first, copy = tmp_path / "first", tmp_path / "pacs-cache" / "copy"
    write_ct(first, slices=3, size=32)
    shutil.copytree(first, copy)
    win, bridge = make_window(qtbot, store=ConversationStore(tmp_path / "conversations.sqlite3"))
    made.append(win)
    _open(qtbot, win, first)
    assert _shown(bridge) == []
    ask(qtbot, bridge, "is there a nodule?")
    _open(qtbot, win, copy)
    assert _shown(bridge) == ["is there a nodule?"]


def test_a_conversation_filed_under_the_path_is_still_found(
    qtbot: Any, made: list[MainWindow], tmp_path: Path
) -> None:
    first, copy = tmp_path / "first", tmp_path / "copy"
    write_ct(first, slices=3, size=32)
    shutil.copytree(first, copy)
    path = tmp_path / "conversations.sqlite3"
    with ConversationStore(path) as old:  # as VoxRad filed it before: path and series number
        old.append(
            f"{first}#series0",
            TurnRecord(
                1,
                "typed",
                "question",
                "is the liver normal?",
                question=Question("is the liver normal?"),
                answer=Answer("Yes."),
                created=1.0,
            ),
        )
    win, bridge = make_window(qtbot, store=ConversationStore(path))
    made.append(win)
    _open(qtbot, win, first)
    assert _shown(bridge) == ["is the liver normal?"]
    _open(qtbot, win, copy)  # now filed under the study: found from anywhere
    assert _shown(bridge) == ["is the liver normal?"]
