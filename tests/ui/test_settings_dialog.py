"""The settings dialog in a real window (Xvfb): values round-trip through the settings file,
invalid values are refused with a message, the level meter follows fed audio, the menu opens
it, and build_assistant applies the assistant section."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PySide6.QtWidgets import QApplication
from settings_fakes import FakeDeadMicrophone, FakeLevelSources

from voxrad.core.settings import AssistantSettings, Settings, load_settings
from voxrad.ui.main_window import MainWindow
from voxrad.ui.settings_dialog import FIELDS, SettingsDialog

pytestmark = pytest.mark.gl


@pytest.fixture
def sources() -> FakeLevelSources:
    return FakeLevelSources()


@pytest.fixture
def dialog(qtbot: Any, tmp_path: Path, sources: FakeLevelSources) -> Iterator[SettingsDialog]:
    dlg = SettingsDialog(
        load_settings(tmp_path / "settings.json"),
        path=tmp_path / "settings.json",
        level_source_factory=sources,
    )
    qtbot.addWidget(dlg)
    dlg.show()
    qtbot.waitExposed(dlg)
    yield dlg
    dlg.reject()


def test_every_bound_field_exists_in_the_schema() -> None:
    settings = Settings()
    for name in FIELDS:
        section, field = name.split(".")
        assert field in type(getattr(settings, section)).model_fields, name


def test_values_round_trip_through_the_settings_file(
    dialog: SettingsDialog, qtbot: Any, tmp_path: Path
) -> None:
    lexicon = tmp_path / "lexicon.txt"
    lexicon.write_text("pneumothorax\n", encoding="utf-8")
    edits = {
        "audio.input_device": "USB headset",
        "assistant.push_to_talk_key": "F9",
        "assistant.hands_free": True,
        "audio.wake_phrase": "Hey Rad",
        "asr.model": "base.en",
        "asr.lexicon_path": str(lexicon),
        "vlm.backend": "openai",
        "vlm.gpu_layers": 12,
        "vlm.separate_process": False,
        "vlm.server_url": "https://vlm.hospital.example/v1",
        "tts.voice": "english",
        "tts.rate": 150,
        "assistant.muted": True,
        "assistant.live_transcript": False,
        "assistant.live_transcript_interval_s": 1.5,
    }
    for name, value in edits.items():
        dialog.set_value(name, value)
    with qtbot.waitSignal(dialog.saved, timeout=5000):
        assert dialog.save()
    stored = json.loads((tmp_path / "settings.json").read_text(encoding="utf-8"))
    assert stored["assistant"]["push_to_talk_key"] == "F9"
    assert stored["vlm"]["gpu_layers"] == 12
    reread = load_settings(tmp_path / "settings.json")
    again = SettingsDialog(
        reread, path=tmp_path / "x.json", level_source_factory=FakeLevelSources()
    )
    qtbot.addWidget(again)
    for name, value in edits.items():
        assert again.value(name) == value, name
    # Fields the dialog does not show are kept as they were.
    assert reread.vlm.context_tokens == Settings().vlm.context_tokens
    again.reject()


@pytest.mark.parametrize(
    ("name", "value", "words"),
    [
        ("assistant.push_to_talk_key", "Ctrl+Q, F4", "Push-to-talk key is not one key"),
        ("vlm.server_url", "vlm.hospital.example", "must start with http"),
        ("asr.lexicon_path", "/no/such/lexicon.txt", "Site lexicon file is not a file"),
        ("tts.rate", 30, "Speech rate (words/min): Input should be greater than or equal to 60"),
        (
            "assistant.live_transcript_interval_s",
            0.1,
            "Live transcript update (s): Input should be greater than or equal to 0.3",
        ),
    ],
)
def test_an_invalid_value_is_refused_with_a_message_and_not_saved(
    dialog: SettingsDialog, tmp_path: Path, name: str, value: object, words: str
) -> None:
    dialog.set_value(name, value)
    assert not dialog.save()
    assert words in dialog.error_label.text()
    assert dialog.isVisible()
    assert not (tmp_path / "settings.json").exists()


def test_cancel_discards(dialog: SettingsDialog, tmp_path: Path) -> None:
    dialog.set_value("tts.rate", 300)
    dialog.reject()
    assert not (tmp_path / "settings.json").exists()


def test_level_meter_follows_fed_audio_and_lets_the_device_go(
    dialog: SettingsDialog, qtbot: Any, sources: FakeLevelSources
) -> None:
    source = sources.made[-1]
    rng = np.random.default_rng(0)
    with qtbot.waitSignal(dialog.meter.level_shown, timeout=5000) as quiet:
        source.feed(np.zeros(512, np.float32))
    assert quiet.args == [-60.0]
    assert dialog.meter.value() == -60
    loud = (0.3 * rng.standard_normal(512)).astype(np.float32)
    with qtbot.waitSignal(dialog.meter.level_shown, timeout=5000) as heard:
        source.feed(loud)
    assert -15 < heard.args[0] < -5  # 0.3 RMS is about -10 dBFS
    assert dialog.meter.value() > -15
    dialog.reject()
    assert source.stopped


def test_choosing_another_microphone_restarts_the_meter_on_it(
    dialog: SettingsDialog, sources: FakeLevelSources
) -> None:
    combo = dialog.widgets["audio.input_device"]
    combo.textActivated.emit("USB headset")  # type: ignore[attr-defined]
    assert sources.made[0].stopped
    assert sources.made[-1].device == "USB headset"


def test_tools_menu_opens_the_dialog(qtbot: Any, tmp_path: Path) -> None:
    win = MainWindow(show_dialogs=False)
    qtbot.addWidget(win)
    action = win.actions_by_name["settings"]
    assert action.shortcut().toString() == "Ctrl+,"
    action.trigger()
    dialog = win.settings_dialog  # type: ignore[attr-defined]
    assert isinstance(dialog, SettingsDialog)
    dialog.reject()
    win.close()


def test_build_assistant_applies_the_assistant_section(qtbot: Any) -> None:
    from voxrad.ui.assistant_setup import build_assistant

    prefs = AssistantSettings(
        push_to_talk_key="F9",
        side_button_talk=False,
        busy_policy="cancel",
        max_queued=1,
        history_turns=2,
        muted=True,
    )
    settings = Settings.model_validate({**Settings().model_dump(), "assistant": prefs.model_dump()})
    windows = []
    for key in (None, "F6"):
        win = MainWindow(show_dialogs=False)
        windows.append(win)
        bridge = build_assistant(win, settings, talk_key=key)
        assert bridge.talk.talk_key.toString() == (key or "F9")
        assert not bridge.talk.side_button_talk
        opts = bridge.pipeline.options
        assert (opts.busy_policy, opts.max_queued, opts.history_turns) == ("cancel", 1, 2)
        assert win.conversation_panel.mute_button.isChecked()
    for win in windows:
        win.close()
        win.deleteLater()
    QApplication.processEvents()


def test_no_microphone_is_a_message_and_saving_still_works(qtbot: Any, tmp_path: Path) -> None:
    dlg = SettingsDialog(
        Settings(), path=tmp_path / "settings.json", level_source_factory=FakeDeadMicrophone
    )
    qtbot.addWidget(dlg)
    assert "No microphone was found" in dlg.mic_note.text()
    assert dlg.save()
    assert (tmp_path / "settings.json").exists()
