"""Settings saved while VoxRad runs apply at once (Xvfb): the push-to-talk key and its menu
reminder, the microphone, and only the engines whose settings changed, with the conversation
kept. The assistant is built by the real build_assistant over engines that are fakes counting
what they build and close (tests/assistant/pipeline_fakes.py)."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from assistant_support import ask
from PySide6.QtCore import Qt
from settings_apply_support import FakeEngines, changed, make_live_window
from settings_fakes import FakeLevelSources

from voxrad.assistant.loop.turns import PipelineEvent
from voxrad.core.errors import MicrophoneError
from voxrad.core.settings import Settings
from voxrad.ui.assistant_bridge import AssistantBridge
from voxrad.ui.assistant_setup import (
    AppliedSettings,
    apply_saved_settings,
    compare_settings,
    live_settings,
)
from voxrad.ui.main_window import MainWindow
from voxrad.ui.settings_dialog import SettingsDialog, open_settings_dialog

pytestmark = pytest.mark.gl


@pytest.fixture
def fakes() -> FakeEngines:
    return FakeEngines()


def spoken_turn(qtbot: Any, bridge: AssistantBridge) -> None:
    """Hold and release push-to-talk (the fake microphone hears one utterance); wait until
    its command turn finished (it went through the speech engine)."""

    def done(e: PipelineEvent) -> bool:
        return e.kind == "finished" and e.turn is not None and e.turn.source == "voice"

    with qtbot.waitSignal(bridge.event_received, timeout=10_000, check_params_cb=done):
        bridge.talk.press()
        bridge.talk.release()


def test_a_saved_talk_key_talks_at_once_the_old_one_not_and_the_menu_shows_it(
    qtbot: Any, fakes: FakeEngines, made: list[MainWindow], tmp_path: Path
) -> None:
    win, bridge = make_live_window(qtbot, fakes, made)
    first = ask(qtbot, bridge, "is there a nodule?")
    win.activateWindow()
    qtbot.waitUntil(win.isActiveWindow, timeout=5_000)
    factory = partial(SettingsDialog, level_source_factory=FakeLevelSources())
    dialog = open_settings_dialog(win, factory)
    dialog.set_value("assistant.push_to_talk_key", "F9")
    with qtbot.waitSignal(dialog.saved, timeout=5_000):
        assert dialog.save()
    assert win.statusBar().currentMessage() == "Settings saved and applied."
    assert bridge.menu_actions["hold_to_talk"].text() == "Hold to talk\tF9 / mouse side button"
    talk_tip = win.conversation_panel.talk_button.toolTip()
    assert "F9" in talk_tip and "side button" in talk_tip
    win.activateWindow()
    qtbot.waitUntil(win.isActiveWindow, timeout=5_000)
    [mic] = fakes.microphones  # the key changed, not the microphone
    qtbot.keyPress(win, Qt.Key.Key_F4)
    qtbot.keyRelease(win, Qt.Key.Key_F4)
    assert mic.presses == 0
    done = lambda e: e.kind == "finished" and e.turn is not None and e.turn.source == "voice"  # noqa: E731
    with qtbot.waitSignal(bridge.event_received, timeout=10_000, check_params_cb=done):
        qtbot.keyPress(win, Qt.Key.Key_F9)
        qtbot.keyRelease(win, Qt.Key.Key_F9)
    assert mic.presses == 1
    assert first in win.conversation_panel.turns
    assert fakes.counts() == (1, 1, 1)  # no engine reloaded for a key
    # The side button switched off: the reminder no longer offers it.
    live = live_settings(win)
    assert live is not None
    apply_saved_settings(win, changed(live.current, "assistant", side_button_talk=False))
    assert not bridge.talk.side_button_talk
    assert bridge.menu_actions["hold_to_talk"].text() == "Hold to talk\tF9"
    assert win.conversation_panel.talk_button.toolTip() == "Hold to talk (or hold F9)"


def test_a_new_voice_reloads_only_the_speech_engine_and_the_next_reply_uses_it(
    qtbot: Any, fakes: FakeEngines, made: list[MainWindow]
) -> None:
    win, bridge = make_live_window(qtbot, fakes, made)
    first = ask(qtbot, bridge, "is there a nodule?")
    qtbot.waitUntil(lambda: bool(fakes.speakers[0].said), timeout=10_000)
    live = live_settings(win)
    assert live is not None
    message = apply_saved_settings(win, changed(live.current, "tts", voice="english", rate=150))
    assert message == "Settings saved and applied. Loading in the background: voice."
    second = ask(qtbot, bridge, "and the heart?")
    qtbot.waitUntil(lambda: len(fakes.speakers) == 2 and bool(fakes.speakers[1].said))
    old, new = fakes.speakers
    assert (old.voice, new.voice) == ("", "english")
    assert old.closed == 1 and new.closed == 0
    assert new.said == ["Answered by medgemma-1.5-4b-it."]
    assert fakes.counts() == (1, 1, 2)
    assert fakes.answerers[0].closed == 0 and fakes.transcribers[0].closed == 0
    assert len(fakes.microphones) == 1 and fakes.microphones[0].stopped == 0
    panel = win.conversation_panel
    assert first in panel.turns and second in panel.turns
    assert panel.turns[first].answer.text() == "Answered by medgemma-1.5-4b-it."


def test_a_new_answer_model_reloads_only_the_answerer(
    qtbot: Any, fakes: FakeEngines, made: list[MainWindow]
) -> None:
    win, bridge = make_live_window(qtbot, fakes, made)
    first = ask(qtbot, bridge, "is there a nodule?")
    live = live_settings(win)
    assert live is not None
    apply_saved_settings(win, changed(live.current, "vlm", model="qwen2.5-vl-3b", gpu_layers=8))
    assert "Loading in the background: answer model." in win.statusBar().currentMessage()
    second = ask(qtbot, bridge, "is the heart enlarged?")
    panel = win.conversation_panel
    assert panel.turns[second].answer.text() == "Answered by qwen2.5-vl-3b."
    assert panel.turns[first].answer.text() == "Answered by medgemma-1.5-4b-it."
    assert fakes.counts() == (1, 2, 1)
    assert fakes.answerers[0].closed == 1
    assert fakes.speakers[0].closed == 0 and fakes.transcribers[0].closed == 0
    # A speech-model change reloads the transcriber alone; the next utterance uses it.
    apply_saved_settings(win, changed(live.current, "asr", model="base.en"))
    spoken_turn(qtbot, bridge)
    assert fakes.counts() == (2, 2, 1)
    assert fakes.transcribers[0].closed == 1
    assert fakes.transcribers[1].model == "base.en"  # type: ignore[attr-defined]


def test_a_new_microphone_device_or_mode_replaces_the_microphone(
    qtbot: Any, fakes: FakeEngines, made: list[MainWindow]
) -> None:
    win, bridge = make_live_window(qtbot, fakes, made)
    live = live_settings(win)
    assert live is not None
    apply_saved_settings(win, changed(live.current, "audio", input_device="USB headset"))
    old, new = fakes.microphones
    assert old.stopped == 1 and new.stopped == 0
    assert bridge.talk.microphone is new and new.device == "USB headset"
    spoken_turn(qtbot, bridge)
    assert (old.presses, new.presses) == (0, 1)
    apply_saved_settings(win, changed(live.current, "assistant", hands_free=True))
    assert fakes.microphones[-1].hands_free and new.stopped == 1
    # A wake phrase is the pipeline's, not the microphone's: no reopening for it.
    apply_saved_settings(win, changed(live.current, "audio", wake_phrase="Hey Rad"))
    assert len(fakes.microphones) == 3
    assert bridge.pipeline.options.wake_phrase == "Hey Rad"
    assert fakes.counts() == (1, 1, 1)
    # A device that cannot be opened: the panel says so, the status bar too; typing works.
    fakes.microphone_error = MicrophoneError("The microphone 'Bad mic' was not found.")
    message = apply_saved_settings(win, changed(live.current, "audio", input_device="Bad mic"))
    assert "The microphone could not be opened" in message
    assert "'Bad mic' was not found" in win.conversation_panel.notice.text()
    assert bridge.talk.microphone is None
    turn = ask(qtbot, bridge, "is there a nodule?")
    assert win.conversation_panel.turns[turn].answer.text() == "Answered by medgemma-1.5-4b-it."


def test_an_unchanged_save_reloads_nothing(
    qtbot: Any, fakes: FakeEngines, made: list[MainWindow]
) -> None:
    win, bridge = make_live_window(qtbot, fakes, made)
    first = ask(qtbot, bridge, "is there a nodule?")
    live = live_settings(win)
    assert live is not None
    options = bridge.pipeline.options
    message = apply_saved_settings(win, Settings.model_validate(live.current.model_dump()))
    assert message == "Settings saved (nothing changed)."
    assert bridge.pipeline.options is options
    # Any reload would have been queued before these turns' jobs: none happened.
    spoken_turn(qtbot, bridge)
    second = ask(qtbot, bridge, "is the heart enlarged?")
    qtbot.waitUntil(lambda: len(fakes.speakers[0].said) == 2, timeout=10_000)
    assert fakes.counts() == (1, 1, 1)
    assert [len(fakes.microphones), fakes.microphones[0].stopped] == [1, 0]
    engines = (fakes.transcribers[0], fakes.answerers[0], fakes.speakers[0])
    assert [e.closed for e in engines] == [0, 0, 0]
    assert first in win.conversation_panel.turns and second in win.conversation_panel.turns


def test_the_remote_server_banner_follows_the_saved_engine(
    qtbot: Any, fakes: FakeEngines, made: list[MainWindow]
) -> None:
    win, _bridge = make_live_window(qtbot, fakes, made)
    panel = win.conversation_panel
    assert not panel.remote_banner.isVisible()
    live = live_settings(win)
    assert live is not None
    server = changed(live.current, "vlm", backend="openai", server_url="https://ai.site.example/v1")
    apply_saved_settings(win, changed(server, "privacy", allow_remote_backends=True))
    assert panel.remote_banner.isVisible() and "ai.site.example" in panel.remote_banner.text()
    # The answerer is rebuilt with the new engine and the privacy opt-in that goes with it.
    qtbot.waitUntil(lambda: fakes.counts() == (1, 2, 1), timeout=10_000)
    assert fakes.answerers[1].privacy.allow_remote_backends  # type: ignore[attr-defined]
    apply_saved_settings(win, changed(live.current, "vlm", backend="llama-cpp"))
    assert not panel.remote_banner.isVisible()


def test_without_an_assistant_the_status_bar_says_settings_apply_at_restart(
    qtbot: Any, tmp_path: Path
) -> None:
    win = MainWindow(show_dialogs=False)
    qtbot.addWidget(win)
    apply_saved_settings(win, Settings())
    assert "apply at restart" in win.statusBar().currentMessage()


# --- what a save changes (no window) ---------------------------------------------------------

Change = Callable[[Settings], Settings]


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (lambda s: changed(s, "audio", wake_phrase="Hey Rad"), {"options"}),
        (lambda s: changed(s, "commands", synonyms={"chest please": "lung window"}), {"options"}),
        (lambda s: changed(s, "assistant", busy_policy="cancel"), {"options"}),
        (lambda s: changed(s, "assistant", live_transcript=False), {"options"}),
        (lambda s: changed(s, "audio", silence_s=1.5), {"microphone"}),
        (lambda s: changed(s, "privacy", mask_text_bands=False), {"vlm"}),
        (lambda s: changed(s, "vlm", separate_process=False), {"vlm"}),
        (lambda s: changed(s, "models", directory="/srv/models"), {"asr", "vlm"}),
        (lambda s: changed(s, "asr", lexicon_path="/site/lexicon.txt"), {"asr"}),
        (lambda s: changed(s, "tts", rate=200), {"tts"}),
        (lambda s: changed(s, "tts", enabled=False), set()),
        (lambda s: changed(s, "assistant", muted=True), set()),
    ],
)
def test_compare_settings_names_only_what_changed(edit: Change, expected: set[str]) -> None:
    old = Settings()
    changes = compare_settings(old, edit(old), speech_output=True)
    flags = ("talk_key", "side_button", "options", "microphone", "asr", "vlm", "tts")
    assert {f for f in flags if getattr(changes, f)} == expected
    assert changes.any


def test_speech_switched_on_or_off_and_start_muted_wait_for_a_restart() -> None:
    old = changed(Settings(), "tts", enabled=False)
    on = changed(old, "tts", enabled=True, voice="english")
    changes = compare_settings(old, on, speech_output=False)
    assert not changes.tts  # no speech engine to reload: it is built at the next start
    assert AppliedSettings(changes).message() == (
        "Settings saved. Applies when VoxRad restarts: spoken replies on/off."
    )
    start_muted = changed(Settings(), "assistant", muted=True)
    muted = compare_settings(Settings(), start_muted, speech_output=True)
    assert AppliedSettings(muted, muted_at_start=True).message() == (
        "Settings saved. Speech starts muted from the next start; the mute button works now."
    )
