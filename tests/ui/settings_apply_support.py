"""Shared by the settings-apply and first-run tests: a window whose assistant the real
build_assistant made over fake engines that count what they build and close."""

from __future__ import annotations

from typing import Any

from assistant_support import (
    FakeAnswerer,
    FakeMicrophone,
    FakeSpeaker,
    FakeTranscriber,
    show_small_ct,
)
from PySide6.QtWidgets import QApplication

from voxrad.core.errors import VoxRadError
from voxrad.core.settings import Settings, load_settings
from voxrad.ui.assistant_bridge import AssistantBridge
from voxrad.ui.assistant_setup import Engines, build_assistant
from voxrad.ui.main_window import MainWindow
from voxrad.ui.theme import apply_dark_theme


class FakeVoiceSpeaker(FakeSpeaker):
    """A :class:`FakeSpeaker` with the voice it was built for, counting its closes."""

    def __init__(self, voice: str) -> None:
        super().__init__()
        self.voice = voice
        self.closed = 0

    def close(self) -> None:
        self.closed += 1


class FakeSettingsMicrophone(FakeMicrophone):
    """A :class:`FakeMicrophone` remembering the device and mode it was opened with."""

    def __init__(self, settings: Settings, on_utterance: Any, on_error: Any) -> None:
        super().__init__(on_utterance, on_error)
        self.device = settings.audio.input_device
        self.hands_free = settings.assistant.hands_free


class FakeEngines:
    """Builds fake engines from the settings they are given and keeps each one built, so a
    test counts loads (one build, one load) and closes per engine."""

    def __init__(self) -> None:
        self.transcribers: list[FakeTranscriber] = []
        self.answerers: list[FakeAnswerer] = []
        self.speakers: list[FakeVoiceSpeaker] = []
        self.microphones: list[FakeSettingsMicrophone] = []
        self.microphone_error: VoxRadError | None = None

    def engines(self) -> Engines:
        return Engines(self._transcriber, self._answerer, self._speaker, self._microphone)

    def counts(self) -> tuple[int, int, int]:
        return len(self.transcribers), len(self.answerers), len(self.speakers)

    def _transcriber(self, settings: Settings) -> FakeTranscriber:
        transcriber = FakeTranscriber("lung window")
        transcriber.model = settings.asr.model  # type: ignore[attr-defined]
        self.transcribers.append(transcriber)
        return transcriber

    def _answerer(self, settings: Settings) -> FakeAnswerer:
        answerer = FakeAnswerer(f"Answered by {settings.vlm.model}.")
        answerer.privacy = settings.privacy  # type: ignore[attr-defined]
        self.answerers.append(answerer)
        return answerer

    def _speaker(self, settings: Settings) -> FakeVoiceSpeaker:
        self.speakers.append(FakeVoiceSpeaker(settings.tts.voice))
        return self.speakers[-1]

    def _microphone(self, settings: Settings, on_utterance: Any, on_error: Any) -> FakeMicrophone:
        if self.microphone_error is not None:
            raise self.microphone_error
        self.microphones.append(FakeSettingsMicrophone(settings, on_utterance, on_error))
        return self.microphones[-1]


def make_live_window(
    qtbot: Any, fakes: FakeEngines, made: list[MainWindow], settings: Settings | None = None
) -> tuple[MainWindow, AssistantBridge]:
    """A shown window whose assistant build_assistant made from ``settings`` (the settings
    file's by default, as the app does), with a small CT open; the engines are loaded."""
    apply_dark_theme(QApplication.instance())  # type: ignore[arg-type]
    win = MainWindow(show_dialogs=False)
    made.append(win)
    settings = load_settings() if settings is None else settings
    bridge = build_assistant(win, settings, engines=fakes.engines())
    bridge.start()
    show_small_ct(qtbot, win)
    qtbot.waitUntil(lambda: fakes.counts() == (1, 1, 1), timeout=10_000)
    return win, bridge


def changed(settings: Settings, section: str, **values: Any) -> Settings:
    data = settings.model_dump()
    data[section].update(values)
    return Settings.model_validate(data)
