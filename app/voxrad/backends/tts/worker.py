"""A Speaker on its own thread, with barge-in: :meth:`SpeechWorker.stop` silences it at once."""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Sequence

from voxrad.backends.tts.base import Speaker
from voxrad.core.errors import VoxRadError

logger = logging.getLogger(__name__)

_CLOSE = object()


class SpeechWorker:
    """Owns one Speaker for its whole life on a dedicated thread.

    :meth:`speak` replaces whatever is being said (a new answer interrupts the old one);
    :meth:`stop` is barge-in (push-to-talk pressed, or "stop" said). Both return at once.
    ``on_error`` receives a VoxRadError raised by the engine (on the worker thread).
    """

    def __init__(
        self,
        speaker: Speaker,
        *,
        on_sentence: Callable[[int, str], None] | None = None,
        on_error: Callable[[VoxRadError], None] | None = None,
    ) -> None:
        self.speaker = speaker
        self.on_sentence = on_sentence
        self.on_error = on_error
        self._queue: queue.Queue[tuple[list[str], threading.Event] | object] = queue.Queue()
        self._lock = threading.Lock()
        self._cancel = threading.Event()
        #: Set while nothing is being said (for tests and for "is it talking?").
        self.idle = threading.Event()
        self.idle.set()
        self.loaded = threading.Event()
        self._thread = threading.Thread(target=self._run, name="voxrad-speech", daemon=True)
        self._thread.start()

    def speak(self, sentences: Sequence[str]) -> None:
        """Say ``sentences`` (prepared with ``voxrad.assistant.speech.speakable``)."""
        with self._lock:
            self._cancel.set()
            self._cancel = threading.Event()
            self.idle.clear()
            self._queue.put((list(sentences), self._cancel))

    def stop(self) -> None:
        """Barge-in: stop speaking now and forget what was queued."""
        with self._lock:
            self._cancel.set()

    def close(self, timeout: float = 5.0) -> None:
        """Stop speaking, release the engine and end the thread (bounded by ``timeout``)."""
        self.stop()
        self._queue.put(_CLOSE)
        self._thread.join(timeout)
        if self._thread.is_alive():
            logger.warning("tts: speech thread did not stop within %.1f s", timeout)

    def _run(self) -> None:
        try:
            self.speaker.load()
        except VoxRadError as exc:
            logger.warning("tts: engine unavailable: %s", exc)
            if self.on_error is not None:
                self.on_error(exc)
        finally:
            self.loaded.set()
        while True:
            item = self._queue.get()
            if item is _CLOSE:
                self.speaker.close()
                self.idle.set()
                return
            assert isinstance(item, tuple)
            sentences: list[str] = item[0]
            cancel: threading.Event = item[1]
            if not cancel.is_set():
                try:
                    self.speaker.say(sentences, cancel=cancel, on_sentence=self.on_sentence)
                except VoxRadError as exc:
                    logger.warning("tts: %s", exc)
                    if self.on_error is not None:
                        self.on_error(exc)
            with self._lock:
                if self._queue.empty():
                    self.idle.set()
