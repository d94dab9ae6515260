"""Study loading off the GUI thread: immutable requests with ids, results by signal.

The worker lives on its own QThread for the window's lifetime. It never touches widgets: it
emits ``progress``, ``first_slice``, ``opened``, ``loaded`` or ``errored`` with the request id,
and the window drops anything whose id is not the latest (a newer open or a cancel).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field

import numpy as np
from PySide6.QtCore import QObject, QThread, Signal, Slot

from voxrad.core.errors import LoadCancelledError, VoxRadError

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class LoadRequest:
    """Open ``path`` and load series number ``series`` (None: the largest volume)."""

    request_id: int
    path: str
    series: int | None = None
    cancel: threading.Event = field(default_factory=threading.Event, compare=False)


class LoadWorker(QObject):
    """Opens studies and builds volumes; one request at a time, on its own thread."""

    progress = Signal(int, int, int, str)  # request id, done, total, stage
    opened = Signal(int, object)  # request id, imaging.study.Study
    first_slice = Signal(int, int, object)  # request id, slice index, 2-D image
    loaded = Signal(int, int, object)  # request id, series number, core.volume.Volume
    errored = Signal(int, str)  # request id, message for the clinician
    cancelled = Signal(int)

    @Slot(object)
    def load(self, request: LoadRequest) -> None:
        from voxrad.imaging.registry import open_study

        rid = request.request_id
        start = time.perf_counter()

        def progress(done: int, total: int, stage: str) -> None:
            self.progress.emit(rid, done, total, stage)

        try:
            study = open_study(request.path, progress=progress, cancel=request.cancel)
            self.opened.emit(rid, study)
            number = request.series
            if number is None:
                number = study.series.index(study.find())
            series = study.series[number]

            def first(index: int, image: np.ndarray) -> None:
                self.first_slice.emit(rid, index, image)

            volume = series.load_volume(
                progress=progress, cancel=request.cancel, on_first_slice=first
            )
        except LoadCancelledError:
            logger.info("load %d cancelled", rid)
            self.cancelled.emit(rid)
            return
        except VoxRadError as exc:
            logger.info("load %d failed: %s", rid, type(exc).__name__)
            self.errored.emit(rid, exc.user_message())
            return
        except Exception as exc:  # the window must survive any reader bug
            logger.exception("load %d failed unexpectedly", rid)
            self.errored.emit(
                rid,
                f"The study could not be opened ({type(exc).__name__}). "
                "The log has details for IT; other studies can still be opened.",
            )
            return
        logger.info("load %d done in %.2f s", rid, time.perf_counter() - start)
        self.loaded.emit(rid, number, volume)


class LoadThread(QObject):
    """Owns the worker thread; ``submit`` queues a request onto it."""

    _requested = Signal(object)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.worker_thread = QThread()
        self.worker_thread.setObjectName("voxrad-loader")
        self.worker = LoadWorker()
        self.worker.moveToThread(self.worker_thread)
        self._requested.connect(self.worker.load)
        self.worker_thread.start()
        self._next_id = 0
        self.current: LoadRequest | None = None

    def submit(self, path: str, series: int | None = None) -> LoadRequest:
        """Cancel whatever is loading and start loading ``path``."""
        self.cancel()
        self._next_id += 1
        request = LoadRequest(self._next_id, path, series)
        self.current = request
        self._requested.emit(request)
        return request

    def is_current(self, request_id: int) -> bool:
        return self.current is not None and self.current.request_id == request_id

    def cancel(self) -> None:
        if self.current is not None:
            self.current.cancel.set()

    def finish(self, request_id: int) -> None:
        if self.is_current(request_id):
            self.current = None

    def shutdown(self, wait_ms: int = 5000) -> None:
        """Stop the thread, waiting at most ``wait_ms`` (a stuck read is logged, not waited on)."""
        self.cancel()
        self.worker_thread.quit()
        if not self.worker_thread.wait(wait_ms):
            logger.warning("loader thread did not stop within %d ms", wait_ms)
