"""One thread per backend: the backend is created, loaded, used and closed on that thread.

llama.cpp contexts, CTranslate2 models and pyttsx3 engines must not be shared across threads
(STYLE.md section 3), so each backend gets a :class:`BackendWorker` that owns it for its whole
life. Jobs are callables run in order; a :class:`Job` is the handle the caller waits on.
A failed load is remembered and reported to every job until :meth:`BackendWorker.reload`, and a
job that raises a :class:`BackendError` or ``MemoryError`` closes the backend so the next job
loads it afresh (a crashed or out-of-memory model is not reused half-broken).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Any, Generic, Protocol, TypeVar

from voxrad.backends.vlm.base import GenerationCancelledError
from voxrad.core.errors import BackendError, VoxRadError

logger = logging.getLogger(__name__)


class Loadable(Protocol):
    def load(self) -> None: ...

    def close(self) -> None: ...


B = TypeVar("B", bound=Loadable)
R = TypeVar("R")

_STOP = object()


class Job(Generic[R]):
    """A job's outcome: wait on :attr:`done`, then read :attr:`result` or :attr:`error`.

    ``started`` / ``ended`` are ``time.perf_counter()`` values taken around the backend call;
    ``submitted`` is when it was queued. From ``submitted`` to ``ended`` the caller waits on the
    backend's thread (loading the model, earlier jobs, this job): the pipeline subtracts that
    span, not only the call itself, from a turn's wall time to get the app's own overhead.
    """

    def __init__(self, fn: Callable[[Any], R], name: str) -> None:
        self.fn = fn
        self.name = name
        self.done = threading.Event()
        self.result: R | None = None
        self.error: BaseException | None = None
        self.submitted = time.perf_counter()
        self.started: float | None = None
        self.ended: float | None = None
        self._callbacks: list[Callable[[Job[R]], None]] = []
        self._lock = threading.Lock()

    def add_done_callback(self, callback: Callable[[Job[R]], None]) -> None:
        """Run ``callback(job)`` when the job ends (at once if it has), on the ending thread."""
        with self._lock:
            if not self.done.is_set():
                self._callbacks.append(callback)
                return
        callback(self)

    def _finish(self) -> None:
        with self._lock:
            self.done.set()
            callbacks, self._callbacks = self._callbacks, []
        for callback in callbacks:
            try:
                callback(self)
            except Exception:
                logger.exception("job %s: done callback failed", self.name)

    @property
    def seconds(self) -> float:
        if self.started is None or self.ended is None:
            return 0.0
        return self.ended - self.started


class BackendWorker(Generic[B]):
    """A thread that owns one backend instance.

    Parameters
    ----------
    name
        Thread name (``voxrad-asr``, ``voxrad-vlm``, ``voxrad-tts``) for logs and debugging.
    factory
        Builds the backend, called on the worker thread.
    """

    def __init__(self, name: str, factory: Callable[[], B]) -> None:
        self.name = name
        self._factory = factory
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._backend: B | None = None
        self._load_error: VoxRadError | None = None
        self.loaded = threading.Event()
        self.loading = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._started = False

    def start(self, *, load_now: bool = True) -> None:
        """Start the thread; with ``load_now`` the backend loads at once (warm start)."""
        if self._started:
            return
        self._started = True
        self._thread.start()
        if load_now:
            self._queue.put(None)

    @property
    def load_error(self) -> VoxRadError | None:
        return self._load_error

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def submit(self, fn: Callable[[B], R], name: str = "") -> Job[R]:
        """Run ``fn(backend)`` on the worker thread after earlier jobs."""
        job: Job[R] = Job(fn, name or self.name)
        if not self._started:
            self.start(load_now=False)
        self._queue.put(job)
        return job

    def reload(self, *, load_now: bool = False) -> None:
        """Close the backend and forget a failed load (after the user installed a model or
        changed it in Settings); it loads again on the next job, or at once with ``load_now``.
        Jobs already queued finish on the old backend first."""
        self._queue.put(_Reload)
        if load_now:
            self._queue.put(None)

    def stop(self, timeout: float = 5.0) -> bool:
        """Close the backend and end the thread; False (and a log line) when it did not end in
        ``timeout`` seconds (a backend stuck in native code; the daemon thread is abandoned)."""
        if not self._started:
            return True
        self._queue.put(_STOP)
        self._thread.join(timeout)
        if self._thread.is_alive():
            logger.warning("%s did not stop within %.1f s; abandoning it", self.name, timeout)
            return False
        return True

    # --- the worker thread ------------------------------------------------------------------

    def _run(self) -> None:
        try:
            while True:
                item = self._queue.get()
                if item is _STOP:
                    break
                if item is _Reload:
                    self._close()
                    self._load_error = None
                    continue
                if item is None:
                    self._ensure_loaded()
                    continue
                self._run_job(item)
        finally:
            self._close()
            self._drain()

    def _ensure_loaded(self) -> B | None:
        if self._backend is not None:
            return self._backend
        if self._load_error is not None:
            return None
        self.loading.set()
        t0 = time.perf_counter()
        try:
            backend = self._factory()
            backend.load()
        except VoxRadError as exc:
            self._load_error = exc
            logger.warning("%s: load failed: %s", self.name, exc.message)
            return None
        except Exception as exc:  # a backend bug must not kill the worker
            logger.exception("%s: load crashed", self.name)
            engine = self.name.removeprefix("voxrad-")
            self._load_error = BackendError(
                f"The {engine} engine could not start ({type(exc).__name__}).",
                hint="See the log for details; choose another model or engine in Settings.",
            )
            return None
        finally:
            self.loading.clear()
        self._backend = backend
        self.loaded.set()
        logger.info("%s loaded in %.2f s", self.name, time.perf_counter() - t0)
        return backend

    def _run_job(self, job: Job[Any]) -> None:
        backend = self._ensure_loaded()
        if backend is None:
            job.error = self._load_error
            job.ended = time.perf_counter()
            job._finish()
            return
        job.started = time.perf_counter()
        try:
            job.result = job.fn(backend)
        except (BackendError, MemoryError) as exc:
            job.error = exc
            if not isinstance(exc, GenerationCancelledError):
                why = type(exc).__name__
                logger.warning("%s: %s failed (%s); reloading next time", self.name, job.name, why)
                self._close()
        except BaseException as exc:
            job.error = exc
        finally:
            job.ended = time.perf_counter()
            job._finish()

    def _close(self) -> None:
        backend, self._backend = self._backend, None
        self.loaded.clear()
        if backend is None:
            return
        try:
            backend.close()
        except Exception:
            logger.exception("%s: close failed", self.name)

    def _drain(self) -> None:
        """Fail jobs still queued at shutdown so nobody waits on them forever."""
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return
            if isinstance(item, Job):
                item.error = BackendError("VoxRad is shutting down.")
                item._finish()


class _Reload:
    """Queue marker: forget the failed load."""
