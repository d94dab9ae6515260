"""A Transcriber on its own thread: load, warm-up and every transcription happen there.

CTranslate2 models may be used from several threads, but VoxRad's rule is one backend, one
thread (see STYLE.md): the GUI and the capture worker hand audio over and get a Future back.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np

from voxrad.backends.asr.base import SAMPLE_RATE, Transcriber, Transcript

logger = logging.getLogger(__name__)


class TranscriberThread:
    """Owns ``transcriber`` on a dedicated thread; requests run one at a time, in order."""

    def __init__(self, transcriber: Transcriber) -> None:
        self.transcriber = transcriber
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="voxrad-asr")
        self._closed = False
        self._pending: list[Future[Transcript]] = []

    def load(self) -> Future[None]:
        """Load and warm up the model on the worker thread; errors come out of the Future."""
        return self._executor.submit(self.transcriber.load)

    def transcribe(
        self,
        audio: np.ndarray,
        *,
        sample_rate: int = SAMPLE_RATE,
        context: Sequence[str] = (),
        wake_phrase: str = "",
        partial: bool = False,
    ) -> Future[Transcript]:
        """Queue one utterance; the Future holds the Transcript or the VoxRadError.
        ``partial``: see :meth:`Transcriber.transcribe`."""
        # ``partial`` is passed only when set: a transcriber written before it still works.
        extra = {"partial": True} if partial else {}
        future = self._executor.submit(
            self.transcriber.transcribe,
            audio,
            sample_rate=sample_rate,
            context=tuple(context),
            wake_phrase=wake_phrase,
            **extra,
        )
        self._pending = [f for f in self._pending if not f.done()] + [future]
        return future

    def close(self, timeout: float = 10.0) -> None:
        """Drop queued requests, close the model on its thread, and end the thread."""
        if self._closed:
            return
        self._closed = True
        for future in self._pending:
            future.cancel()  # only those not yet started; a running one finishes
        done = self._executor.submit(self.transcriber.close)
        self._executor.shutdown(wait=False)
        try:
            done.result(timeout)
        except TimeoutError:
            logger.warning("asr: model did not close within %.1f s", timeout)
