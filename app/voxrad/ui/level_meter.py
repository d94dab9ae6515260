"""A microphone input level meter for the settings dialog and the first-run set-up.

The level comes from a :class:`LevelSource` (the real one opens the microphone through
:class:`voxrad.audio.capture.Microphone`, never pressing push-to-talk, so nothing is recorded
or transcribed). Levels arrive on the capture thread and reach the widget through a queued
signal; the widget never blocks waiting for sound.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Protocol

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QProgressBar, QWidget

from voxrad.audio.endpointer import Level
from voxrad.core.errors import VoxRadError
from voxrad.core.settings import AudioSettings

logger = logging.getLogger(__name__)

#: The meter's scale in dBFS: quieter than this shows as empty.
FLOOR_DB = -60


class LevelSource(Protocol):
    """Something that reports input levels until stopped (from any thread)."""

    def start(self, on_level: Callable[[Level], None]) -> None: ...

    def stop(self) -> None: ...


LevelSourceFactory = Callable[[str], LevelSource]


class MicrophoneLevelSource:
    """The levels of the named input device (empty name: the system default)."""

    def __init__(self, device: str = "") -> None:
        self.device = device
        self._mic: Any = None

    def start(self, on_level: Callable[[Level], None]) -> None:
        """Open the device.

        Raises
        ------
        MicrophoneError
            No such device, or it cannot be opened.
        """
        from voxrad.audio.capture import Microphone

        audio = AudioSettings(input_device=self.device)
        self._mic = Microphone(audio, on_utterance=lambda _u: None, on_level=on_level)
        self._mic.start()

    def stop(self) -> None:
        mic, self._mic = self._mic, None
        if mic is not None:
            mic.stop()


class LevelMeter(QProgressBar):
    """Shows the latest block's RMS level (dBFS) and whether it clipped."""

    level_received = Signal(object)  # from the capture thread
    level_shown = Signal(float)  # the dBFS now shown (GUI thread)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setRange(FLOOR_DB, 0)
        self.setValue(FLOOR_DB)
        self.setTextVisible(True)
        self.setFormat("No sound yet")
        self.setAccessibleName("Microphone input level")
        self._source: LevelSource | None = None
        self.level_received.connect(self.show_level, Qt.ConnectionType.QueuedConnection)

    def show_level(self, level: Level) -> None:
        db = max(float(FLOOR_DB), min(0.0, level.rms_dbfs))
        self.setValue(round(db))
        self.setFormat(f"{db:.0f} dB" + ("  clipping: speak softer" if level.clipped else ""))
        self.level_shown.emit(db)

    def attach(self, source: LevelSource) -> str:
        """Start ``source`` and follow it; returns "" or a message when it cannot start."""
        self.detach()
        try:
            source.start(self.level_received.emit)
        except VoxRadError as exc:
            self.setValue(FLOOR_DB)
            self.setFormat("No microphone")
            return exc.user_message()
        self._source = source
        self.setFormat("Listening...")
        return ""

    def detach(self) -> None:
        source, self._source = self._source, None
        if source is not None:
            try:
                source.stop()
            except Exception:  # closing a failed device must not stop the dialog closing
                logger.exception("level source did not stop cleanly")
