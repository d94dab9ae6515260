"""Push-to-talk and the microphone: what turns a held key or button into an utterance.

A configurable key (F4 by default; a foot pedal sends a key too), the mouse's side buttons
and the panel's button start listening while held; pressing while the reply is spoken
stops it (barge-in). The microphone calls back on its capture thread: utterances, and the
speech so far for the live transcript, go straight to the (thread-safe) pipeline; a lost
device is re-emitted as a queued signal.
Split from :mod:`voxrad.ui.assistant_bridge`, which applies what the pipeline answers.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

from PySide6.QtCore import QEvent, QObject, Qt, Signal
from PySide6.QtGui import QKeyEvent, QKeySequence, QMouseEvent
from PySide6.QtWidgets import QApplication, QWidget

from voxrad.assistant.loop.pipeline import AssistantPipeline
from voxrad.audio.endpointer import PartialUtterance
from voxrad.core.errors import VoxRadError
from voxrad.ui.conversation_panel import ConversationPanel

logger = logging.getLogger(__name__)

DEFAULT_TALK_KEY = "F4"
NO_MICROPHONE = "No microphone is available: type questions and commands below."
_SIDE_BUTTONS = (Qt.MouseButton.BackButton, Qt.MouseButton.ForwardButton)


class MicrophoneLike(Protocol):
    """What push-to-talk needs of :class:`voxrad.audio.capture.Microphone`."""

    def start(self) -> None: ...
    def press(self) -> None: ...
    def release(self) -> None: ...
    def stop(self, timeout: float = 2.0) -> None: ...


@runtime_checkable
class LiveMicrophone(MicrophoneLike, Protocol):
    """A microphone that can also hand out the speech recorded so far (optional: a
    microphone without these attributes simply gives no live transcript)."""

    on_partial: Callable[[PartialUtterance], object] | None
    partial_interval_s: float


#: Builds a microphone from (on_utterance, on_error) callbacks.
MicrophoneFactory = Callable[[Callable[[Any], None], Callable[[VoxRadError], None]], MicrophoneLike]


class PushToTalk(QObject):
    """Owns the microphone and the push-to-talk inputs of one window.

    Parameters
    ----------
    window
        The main window: keys and side buttons count only while it is the active window.
    panel
        The conversation panel (its talk button; notices about the microphone).
    pipeline
        Receives listening starts and stops and the finished utterances.
    microphone_factory
        Builds the microphone; None means there is none (typing still works).
    talk_key
        The push-to-talk key, in :class:`QKeySequence` text ("F4").
    """

    microphone_lost = Signal(str)  # from the capture thread

    def __init__(
        self,
        window: QWidget,
        panel: ConversationPanel,
        pipeline: AssistantPipeline,
        *,
        microphone_factory: MicrophoneFactory | None,
        talk_key: str = DEFAULT_TALK_KEY,
    ) -> None:
        super().__init__(window)
        self.window = window
        self.panel = panel
        self.pipeline = pipeline
        self.microphone: MicrophoneLike | None = None
        self.microphone_factory = microphone_factory
        self.talk_key = QKeySequence()
        self._side_button_talk = True
        self._talking = False
        self.microphone_lost.connect(self._on_microphone_lost, Qt.ConnectionType.QueuedConnection)
        panel.talk_pressed.connect(self.press)
        panel.talk_released.connect(self.release)
        self.set_talk_key(talk_key)
        app = QApplication.instance()
        if app is not None:
            app.installEventFilter(self)

    def set_talk_key(self, key: str) -> None:
        """Use ``key`` ("F4", "Ctrl+Space") from now on; the panel's button says which."""
        if self._talking:
            self.release()  # a key changed while held must not leave the microphone open
        self.talk_key = QKeySequence(key)
        self.panel.set_talk_key(self.talk_key.toString(), side_button=self._side_button_talk)

    @property
    def side_button_talk(self) -> bool:
        """The mouse's side buttons act as push-to-talk (settings: assistant.side_button_talk)."""
        return self._side_button_talk

    @side_button_talk.setter
    def side_button_talk(self, on: bool) -> None:
        self._side_button_talk = on
        self.panel.set_talk_key(self.talk_key.toString(), side_button=on)

    def start_microphone(self) -> bool:
        """Open the microphone; when there is none, say so (typing still works)."""
        if self.microphone_factory is None:
            self.panel.set_notice(NO_MICROPHONE)
            return False
        try:
            mic = self.microphone_factory(self._on_utterance, self._on_microphone_error)
            mic.start()
        except VoxRadError as exc:
            logger.warning("microphone unavailable: %s", exc.message)
            self.panel.set_notice(exc.user_message())
            return False
        except Exception:
            logger.exception("microphone failed to start")
            self.panel.set_notice(NO_MICROPHONE)
            return False
        self.microphone = mic
        self._attach_live_transcript()
        return True

    def _attach_live_transcript(self) -> None:
        """Let the microphone hand the speech so far to the pipeline (set here, after the
        factory built it, so the factory needs no part in it), with the pipeline's options
        of now: called on each start, press and utterance, so a changed setting applies from
        the next utterance, push-to-talk or hands-free. Two attribute writes, any thread."""
        mic = self.microphone
        if not isinstance(mic, LiveMicrophone):
            return
        options = self.pipeline.options
        mic.partial_interval_s = options.live_transcript_interval_s
        mic.on_partial = self.pipeline.submit_partial if options.live_transcript else None

    def replace_microphone(self, factory: MicrophoneFactory | None) -> bool:
        """Close the microphone and open one from ``factory`` (another device or mode)."""
        if self._talking:
            self.release()
        self.stop_microphone()
        self.microphone_factory = factory
        return self.start_microphone()

    def stop_microphone(self) -> None:
        mic, self.microphone = self.microphone, None
        if mic is not None:
            mic.stop()
            self.pipeline.live_transcript.clear()  # an utterance cut off: no live text stays

    def shutdown(self) -> None:
        app = QApplication.instance()
        if app is not None:
            app.removeEventFilter(self)
        self.stop_microphone()

    # -- pressing ------------------------------------------------------------------------------
    def press(self) -> None:
        """Start listening; stops any speech (barge-in)."""
        if self._talking:
            return
        self._talking = True
        self.pipeline.start_listening()
        # Retried on each press: a microphone plugged in (again) later is picked up.
        if self.microphone is None and not self.start_microphone():
            self.pipeline.stop_listening()
            return
        self.panel.set_notice("")
        self._attach_live_transcript()
        self.microphone.press()  # type: ignore[union-attr]

    def release(self) -> None:
        if not self._talking:
            return
        self._talking = False
        if self.microphone is not None:
            self.microphone.release()
        self.pipeline.stop_listening()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt override)
        kind = event.type()
        if kind in (QEvent.Type.KeyPress, QEvent.Type.KeyRelease):
            key_event: QKeyEvent = event  # type: ignore[assignment]
            if self._is_talk_key(key_event):
                if not key_event.isAutoRepeat():
                    pressed = kind == QEvent.Type.KeyPress
                    self.press() if pressed else self.release()
                return True
        elif kind in (QEvent.Type.MouseButtonPress, QEvent.Type.MouseButtonRelease):
            mouse: QMouseEvent = event  # type: ignore[assignment]
            if (
                self.side_button_talk
                and mouse.button() in _SIDE_BUTTONS
                and self.window.isActiveWindow()
            ):
                pressed = kind == QEvent.Type.MouseButtonPress
                self.press() if pressed else self.release()
                return True
        return False

    def _is_talk_key(self, event: QKeyEvent) -> bool:
        if self.talk_key.isEmpty() or not self.window.isActiveWindow():
            return False
        combo = event.keyCombination()
        return bool(self.talk_key[0].key() == combo.key())  # type: ignore[index]

    # -- microphone (capture thread) -----------------------------------------------------------
    def _on_utterance(self, utterance: Any) -> None:
        # Anything but a push-to-talk release was endpointed by the VAD (hands-free): the
        # pipeline then expects the wake phrase.
        hands_free = utterance.reason != "released"
        self._attach_live_transcript()
        self.pipeline.submit_audio(
            utterance.audio, sample_rate=utterance.sample_rate, hands_free=hands_free
        )

    def _on_microphone_error(self, error: VoxRadError) -> None:
        self.pipeline.microphone_failed(error)
        self.microphone_lost.emit(error.user_message())

    def _on_microphone_lost(self, message: str) -> None:
        self.stop_microphone()
        self.panel.set_notice(message)
