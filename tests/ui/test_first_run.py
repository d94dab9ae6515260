"""The first-run set-up in a real window (Xvfb): shown only without a settings file, skippable
(and then not shown again), the microphone check, the models with their pull commands, a
failed download reported as a message, and a site server URL checked and saved; the running
assistant follows it (a model installed here, the settings saved on leaving)."""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from assistant_support import ask
from PySide6.QtCore import Qt
from settings_apply_support import FakeEngines, changed, make_live_window
from settings_fakes import (
    FakeCrashingHub,
    FakeDeadMicrophone,
    FakeFileHub,
    FakeLevelSources,
    FakeOfflineHub,
)

from voxrad.backends.catalog import Catalog, ModelEntry, ModelFile, find_installed
from voxrad.backends.model_store import Hub
from voxrad.core.settings import Settings, load_settings
from voxrad.ui.first_run import FirstRunDialog, maybe_first_run, needs_first_run
from voxrad.ui.main_window import MainWindow

pytestmark = pytest.mark.gl

FAKE_VLM = ModelEntry(
    name="fake-vlm",
    title="A fake model",
    kind="vlm",
    family="gemma3",
    backend="llama-cpp",
    hf_repo="test/fake-vlm",
    files=[ModelFile(role="weights", name="model-Q4_K_M.gguf")],
    ram_gb=0.1,
    licence="test",
)


@pytest.fixture
def window(qtbot: Any) -> Iterator[MainWindow]:
    win = MainWindow(show_dialogs=False)
    qtbot.addWidget(win)
    win.show()
    yield win
    win.close()


def make_dialog(
    qtbot: Any, path: Path, hub: Hub | None = None, sources: FakeLevelSources | None = None
) -> FirstRunDialog:
    dialog = FirstRunDialog(
        Settings(),
        path=path,
        hub=hub or FakeOfflineHub(),
        level_source_factory=sources or FakeLevelSources(),
    )
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    return dialog


def test_shown_only_without_a_settings_file_and_skipping_stops_it_returning(
    window: MainWindow, qtbot: Any, tmp_path: Path
) -> None:
    path = tmp_path / "settings.json"
    assert needs_first_run(path)
    dialog = maybe_first_run(window, path)
    assert dialog is not None
    qtbot.waitExposed(dialog)
    assert not dialog.isModal()  # the viewer stays usable beside it
    assert window.isEnabled()
    dialog.skip_button.click()
    assert not dialog.isVisible()
    assert path.exists()  # the defaults were written
    assert load_settings(path).vlm.backend == Settings().vlm.backend
    assert maybe_first_run(window, path) is None


def test_not_shown_when_settings_exist(window: MainWindow, tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    path.write_text("{}", encoding="utf-8")
    assert not needs_first_run(path)
    assert maybe_first_run(window, path) is None


def test_microphone_check_moves_the_meter(qtbot: Any, tmp_path: Path) -> None:
    sources = FakeLevelSources()
    dialog = make_dialog(qtbot, tmp_path / "settings.json", sources=sources)
    tone = (0.5 * np.sin(np.linspace(0, 200, 512))).astype(np.float32)
    with qtbot.waitSignal(dialog.meter.level_shown, timeout=5000) as shown:
        sources.made[-1].feed(tone)
    assert shown.args[0] > -10  # a 0.5 sine is about -9 dBFS
    dialog.skip()
    assert sources.made[-1].stopped


def test_models_listed_with_status_and_the_exact_pull_command(qtbot: Any, tmp_path: Path) -> None:
    dialog = make_dialog(qtbot, tmp_path / "settings.json")
    names = [
        dialog.model_list.item(i).data(Qt.ItemDataRole.UserRole)
        for i in range(dialog.model_list.count())
    ]
    assert "tiny.en" in names and "medgemma-1.5-4b-it" in names
    row = names.index("tiny.en")
    dialog.model_list.setCurrentRow(row)
    assert dialog.command_label.text() == "voxrad models pull tiny.en"
    # The test models folder (under the tmp VOXRAD_HOME) is empty.
    assert "not installed" in dialog.model_list.item(row).text()
    dialog.skip()


@pytest.mark.parametrize(
    ("hub", "words"),
    [
        (FakeOfflineHub(), "The model hub could not be reached"),
        (FakeCrashingHub(), "failed (TypeError); details are in the log"),
    ],
)
def test_a_failed_download_is_a_message_and_the_dialog_stays_usable(
    qtbot: Any, tmp_path: Path, hub: FakeOfflineHub, words: str
) -> None:
    dialog = make_dialog(qtbot, tmp_path / "settings.json", hub=hub)
    names = [
        dialog.model_list.item(i).data(Qt.ItemDataRole.UserRole)
        for i in range(dialog.model_list.count())
    ]
    dialog.model_list.setCurrentRow(names.index("tiny.en"))
    with qtbot.waitSignal(dialog.download_failed, timeout=10_000):
        dialog.download_button.click()
        assert not dialog.download_button.isEnabled()  # one download at a time
    assert words in dialog.status_label.text()
    assert hub.asked == ["Systran/faster-whisper-tiny.en"]
    assert dialog.download_button.isEnabled()
    assert not dialog.progress.isVisible()
    dialog.skip()


def test_site_server_url_is_checked_then_saved(qtbot: Any, tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    dialog = make_dialog(qtbot, path)
    dialog.use_server.setChecked(True)
    dialog.server_url.setText("vlm.hospital.example")
    assert not dialog.finish()
    assert "must start with http" in dialog.error_label.text()
    assert not path.exists()
    dialog.server_url.setText("https://vlm.hospital.example/v1")
    assert dialog.finish()
    saved = load_settings(path)
    assert saved.vlm.backend == "openai"
    assert saved.vlm.server_url == "https://vlm.hospital.example/v1"
    assert saved.privacy.allow_remote_backends


def test_a_download_reports_progress_and_marks_the_model_installed(
    qtbot: Any, tmp_path: Path
) -> None:
    entry = FAKE_VLM
    dialog = FirstRunDialog(
        Settings(),
        path=tmp_path / "settings.json",
        catalog=Catalog(models=[entry]),
        hub=FakeFileHub(),
        level_source_factory=FakeLevelSources(),
    )
    qtbot.addWidget(dialog)
    assert "not installed" in dialog.model_list.item(0).text()
    with (
        qtbot.waitSignal(dialog.download_progress, timeout=10_000) as progress,
        qtbot.waitSignal(dialog.download_finished, timeout=10_000),
    ):
        dialog.download_button.click()
    assert progress.args[1] == "fake-vlm: model-Q4_K_M.gguf"
    assert dialog.status_label.text() == "fake-vlm is installed."
    text = dialog.model_list.item(0).text()
    assert "installed" in text and "not installed" not in text
    assert find_installed(entry, dialog.models_dir) is not None
    dialog.skip()


def test_no_microphone_is_a_message_and_set_up_goes_on(qtbot: Any, tmp_path: Path) -> None:
    dialog = FirstRunDialog(
        Settings(),
        path=tmp_path / "settings.json",
        hub=FakeOfflineHub(),
        level_source_factory=FakeDeadMicrophone,
    )
    qtbot.addWidget(dialog)
    assert "No microphone was found" in dialog.mic_note.text()
    assert dialog.meter.format() == "No microphone"
    assert dialog.finish()
    assert (tmp_path / "settings.json").exists()


# --- the running assistant follows the set-up ---------------------------------------------


def fake_set_up(win: MainWindow, path: Path) -> FirstRunDialog:
    """maybe_first_run's dialog over a one-model catalog and a hub serving it."""
    factory = partial(
        FirstRunDialog,
        catalog=Catalog(models=[FAKE_VLM]),
        hub=FakeFileHub(),
        level_source_factory=FakeLevelSources(),
    )
    dialog = maybe_first_run(win, path, factory)
    assert dialog is not None
    return dialog


def test_the_model_the_settings_name_loads_as_soon_as_it_is_installed(
    qtbot: Any, tmp_path: Path, made: list[MainWindow]
) -> None:
    fakes = FakeEngines()
    # The assistant started before the model was there (its load failed, and is remembered).
    win, bridge = make_live_window(qtbot, fakes, made, changed(Settings(), "vlm", model="fake-vlm"))
    dialog = fake_set_up(win, tmp_path / "settings.json")
    with qtbot.waitSignal(dialog.model_installed, timeout=10_000) as installed:
        dialog.download_button.click()
    assert installed.args == ["vlm", "fake-vlm"]
    qtbot.waitUntil(lambda: fakes.counts() == (1, 2, 1), timeout=10_000)
    assert fakes.answerers[0].closed == 1
    assert dialog.finish()
    assert load_settings(tmp_path / "settings.json").vlm.model == "fake-vlm"
    assert win.statusBar().currentMessage() == ""  # nothing else changed: no message
    turn = ask(qtbot, bridge, "is there a nodule?")
    assert win.conversation_panel.turns[turn].answer.text() == "Answered by fake-vlm."
    assert fakes.counts() == (1, 2, 1)


def test_finish_makes_a_model_downloaded_in_the_set_up_the_one_used(
    qtbot: Any, tmp_path: Path, made: list[MainWindow]
) -> None:
    fakes = FakeEngines()
    win, bridge = make_live_window(qtbot, fakes, made, Settings())
    first = ask(qtbot, bridge, "is there a nodule?")
    dialog = fake_set_up(win, tmp_path / "settings.json")
    with qtbot.waitSignal(dialog.download_finished, timeout=10_000):
        dialog.download_button.click()
    # Not the model the settings name: nothing reloads yet (a reload would precede this turn).
    turn = ask(qtbot, bridge, "is the heart enlarged?")
    panel = win.conversation_panel
    assert panel.turns[turn].answer.text() == "Answered by medgemma-1.5-4b-it."
    assert fakes.counts() == (1, 1, 1)
    assert dialog.finish()
    saved = load_settings(tmp_path / "settings.json")
    assert (saved.vlm.model, saved.vlm.backend) == ("fake-vlm", "llama-cpp")
    assert "Loading in the background: answer model." in win.statusBar().currentMessage()
    turn = ask(qtbot, bridge, "is the heart enlarged?")
    assert panel.turns[turn].answer.text() == "Answered by fake-vlm."
    assert fakes.counts() == (1, 2, 1)
    assert first in panel.turns


def test_a_site_server_chosen_in_the_set_up_is_used_and_marked_at_once(
    qtbot: Any, tmp_path: Path, made: list[MainWindow]
) -> None:
    fakes = FakeEngines()
    win, _bridge = make_live_window(qtbot, fakes, made, Settings())
    dialog = fake_set_up(win, tmp_path / "settings.json")
    dialog.use_server.setChecked(True)
    dialog.server_url.setText("https://ai.site.example/v1")
    assert dialog.finish()
    banner = win.conversation_panel.remote_banner
    assert banner.isVisible() and "ai.site.example" in banner.text()
    qtbot.waitUntil(lambda: fakes.counts() == (1, 2, 1), timeout=10_000)
    assert fakes.answerers[0].closed == 1


def test_skipping_the_set_up_leaves_the_running_assistant_alone(
    qtbot: Any, tmp_path: Path, made: list[MainWindow]
) -> None:
    fakes = FakeEngines()
    win, bridge = make_live_window(qtbot, fakes, made, Settings())
    dialog = fake_set_up(win, tmp_path / "settings.json")
    with qtbot.waitSignal(dialog.saved, timeout=5_000):
        dialog.skip()
    assert win.statusBar().currentMessage() == ""
    ask(qtbot, bridge, "is there a nodule?")
    assert fakes.counts() == (1, 1, 1)
