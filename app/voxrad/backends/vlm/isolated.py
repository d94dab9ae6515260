"""Any local engine in a child process, so a native crash cannot take the viewer down.

llama.cpp and CUDA end the process on some failures: ggml calls ``abort()`` when the GPU runs
out of memory inside a compute graph, and a bug in a chat handler can segfault. In the app's
process that closes the viewer. :class:`IsolatedVLM` runs the real engine (built from the
registry's factory) in a child started with the ``spawn`` method (``fork`` copies locks held by
other threads and CUDA state, which is unsafe), and speaks the same
:class:`~voxrad.backends.vlm.base.VisionLanguageModel` protocol:

* ``load()`` returns when the child reports the model loaded, or raises the child's
  :class:`~voxrad.core.errors.VoxRadError` (class, message and hint cross the pipe).
* ``generate()`` sends the request (text and pixels) and re-emits the streamed pieces to
  ``on_token``; the caller's ``cancel`` is passed on to a process-shared event that the child's
  engine checks between tokens.
* A child that dies (abort, segfault, the OOM killer) becomes a :class:`BackendError` with a
  message a clinician can act on; the exit code goes to the log. The next ``generate`` or
  ``load`` starts a fresh child.
* The child's log records are re-emitted through the parent's loggers, so the parent's
  handlers (and their identifier redactor) see them.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import signal
import threading
import time
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from typing import TYPE_CHECKING, Any, NoReturn

from voxrad.backends.vlm.base import (
    GenerationRequest,
    GenerationResult,
    TokenCallback,
)
from voxrad.backends.vlm.isolated_child import (
    child_main,
    emit_record,
    forward_level,
    rebuild_error,
)
from voxrad.core.errors import BackendError

if TYPE_CHECKING:
    from multiprocessing.synchronize import Event as ProcessEvent

    from voxrad.backends.vlm.engines import ModelSpec
    from voxrad.core.settings import PrivacySettings, VlmSettings

logger = logging.getLogger(__name__)

CRASHED = "The model engine stopped unexpectedly (it may have run out of memory)."
CRASHED_HINT = (
    "It restarts for the next question; if this repeats, choose a smaller model or fewer GPU "
    "layers in Settings."
)
#: A load that crashes is not retried by itself (the model thread remembers a failed load until
#: the settings change), so its hint points to Settings only.
CRASHED_LOADING = (
    "The model engine stopped while loading the model (it may have run out of memory)."
)
CRASHED_LOADING_HINT = "Choose a smaller model or fewer GPU layers in Settings, then ask again."
#: The cut-off note's reason when the engine died after some of the answer had come.
CRASHED_MID_ANSWER = (
    "the model engine stopped while answering (it may have run out of memory); it restarts "
    "for the next question."
)
#: The caller's ``cancel`` is a ``threading.Event``, which cannot be waited on together with a
#: pipe: while a generation runs the wait wakes this often only to look at it (pieces and a
#: dying child wake it at once). Well under the protocol's 200 ms.
CANCEL_CHECK_S = 0.04
#: How long ``close()`` waits for the child to free the model before terminating it.
CLOSE_TIMEOUT_S = 10.0
_KILL_TIMEOUT_S = 3.0


class EngineStoppedError(BackendError):
    """The engine's process died (abort, segfault, the OOM killer)."""


class IsolatedVLM:
    """The engine ``target`` (a registry ``"module:factory"``) run in a child process.

    Parameters
    ----------
    target
        The factory's import string, as in :data:`voxrad.backends.vlm.registry.BACKENDS`;
        the child imports it (the child gets this process's ``sys.path``).
    spec, settings, privacy
        Passed to the factory in the child.
    """

    #: A child process on this workstation: nothing leaves it.
    is_remote = False

    def __init__(
        self,
        target: str,
        spec: ModelSpec,
        settings: VlmSettings,
        privacy: PrivacySettings,
    ) -> None:
        self.target = target
        self.spec = spec
        self.settings = settings
        self.privacy = privacy
        self.name = spec.name
        self.gpu_layers = 0
        self.timings: dict[str, float] = {}
        self._context = multiprocessing.get_context("spawn")
        self._process: BaseProcess | None = None
        self._conn: Connection | None = None
        self._cancel: ProcessEvent | None = None
        #: Set by a successful load, cleared by close: a child that died restarts on generate.
        self._wanted = False

    # -- life cycle ---------------------------------------------------------------------------
    @property
    def pid(self) -> int | None:
        """The child's process id while it runs."""
        return self._process.pid if self._process is not None else None

    def load(self) -> None:
        """Start the child and load the model there (raises what the engine's load raises)."""
        if self._process is not None:
            return
        start = time.perf_counter()
        ctx = self._context
        parent_conn, child_conn = ctx.Pipe(duplex=True)
        cancel = ctx.Event()
        process = ctx.Process(
            target=child_main,
            args=(child_conn, cancel, self.target, self.spec, self.settings, self.privacy),
            kwargs={"log_level": forward_level()},
            name=f"voxrad-vlm-{self.spec.name}",
            # A daemon child is terminated by multiprocessing's exit handler, so the app
            # never hangs on it at exit even when close() was not reached.
            daemon=True,
        )
        process.start()
        child_conn.close()  # our copy: the child's death must read as end-of-file here
        self._process, self._conn, self._cancel = process, parent_conn, cancel
        try:
            message = self._receive(loading=True)
        except BaseException:
            self._discard()
            raise
        if message[0] != "loaded":
            self._discard()
            raise rebuild_error(message)
        info: dict[str, Any] = message[1]
        self.name = str(info.get("name") or self.spec.name)
        self.gpu_layers = int(info.get("gpu_layers") or 0)
        self.timings = dict(info.get("timings") or {})
        self._wanted = True
        logger.info(
            "model engine process %d ready in %.1f s", process.pid, time.perf_counter() - start
        )

    def close(self) -> None:
        """Ask the child to free the model and exit; terminate it if it does not. Safe twice."""
        self._wanted = False
        process, conn = self._process, self._conn
        if process is None or conn is None:
            return
        with contextlib.suppress(OSError):  # a child already gone needs no asking
            conn.send(("close",))
        deadline = time.monotonic() + CLOSE_TIMEOUT_S
        while (remaining := deadline - time.monotonic()) > 0:
            ready = wait([conn, process.sentinel], remaining)
            if conn not in ready:
                break  # exited, or the bound passed
            try:
                message = conn.recv()
            except (EOFError, OSError):
                break
            if message[0] == "log":
                emit_record(message[1])
        process.join(max(0.0, deadline - time.monotonic()))
        if process.is_alive():
            logger.warning("model engine process %d did not exit; terminating it", process.pid)
        self._discard()

    # -- generation ---------------------------------------------------------------------------
    def generate(
        self,
        request: GenerationRequest,
        *,
        on_token: TokenCallback | None = None,
        cancel: threading.Event | None = None,
    ) -> GenerationResult:
        idle = self._process
        if idle is not None and wait([idle.sentinel], 0):
            # Killed between questions (the OOM killer, a user): this question starts a
            # fresh one instead of failing. (The sentinel, not is_alive(): it is ready as soon
            # as the child's files close, which may be before it can be reaped.)
            idle.join(_KILL_TIMEOUT_S)
            logger.warning("model engine process ended while idle (%s)", _how(idle))
            self._discard()
        if self._process is None:
            if not self._wanted:
                raise BackendError(f"The model {self.name} is not loaded.", hint="Load it first.")
            logger.info("starting a fresh model engine process after a failure")
            self.load()
        assert self._conn is not None and self._cancel is not None
        self._cancel.clear()  # the child is idle: a late cancel of the last question is void
        if cancel is not None and cancel.is_set():
            self._cancel.set()
        try:
            # With this process's logging level now (it may have changed since the load).
            self._conn.send(("generate", request, forward_level()))
        except OSError:
            self._died()
        pieces: list[str] = []

        def relay(piece: str) -> None:
            pieces.append(piece)
            if on_token is not None:
                on_token(piece)

        try:
            message = self._receive(on_token=relay, cancel=cancel)
        except EngineStoppedError:
            if not pieces or (cancel is not None and cancel.is_set()):
                raise
            # The clinician saw these pieces arrive: they come back marked as a fragment,
            # not thrown away and not passed off as the whole answer.
            logger.warning("answer cut off: the engine process died after %d pieces", len(pieces))
            return GenerationResult(
                text="".join(pieces),
                finish_reason="engine",
                finish_detail=CRASHED_MID_ANSWER,
                completion_tokens=len(pieces),
                model=self.name,
            )
        except BaseException:
            if self._process is not None and self._cancel is not None:
                # on_token raised while the child still answers: stop it and read up to its
                # last reply, so the next request does not receive this one's pieces.
                self._cancel.set()
                with contextlib.suppress(BackendError):
                    self._receive()
            raise
        if message[0] == "result":
            result: GenerationResult = message[1]
            return result
        raise rebuild_error(message)

    # -- the pipe -----------------------------------------------------------------------------
    def _receive(
        self,
        *,
        on_token: TokenCallback | None = None,
        cancel: threading.Event | None = None,
        loading: bool = False,
    ) -> tuple[Any, ...]:
        """The child's next reply, re-emitting log records and pieces until it comes."""
        process, conn, shared = self._process, self._conn, self._cancel
        assert process is not None and conn is not None and shared is not None
        while True:
            watching = cancel is not None and not shared.is_set()
            ready = wait([conn, process.sentinel], CANCEL_CHECK_S if watching else None)
            if watching and cancel is not None and cancel.is_set():
                shared.set()
            if conn in ready:
                try:
                    message: tuple[Any, ...] = conn.recv()
                except (EOFError, OSError):
                    self._died(loading)
                kind = message[0]
                if kind == "log":
                    emit_record(message[1])
                elif kind == "token":
                    if on_token is not None:
                        on_token(message[1])
                else:
                    return message
            elif process.sentinel in ready:
                self._died(loading)

    def _died(self, loading: bool = False) -> NoReturn:
        """The child is gone: log how, clean up, raise the clinician's message."""
        process = self._process
        if process is not None:
            process.join(_KILL_TIMEOUT_S)
            logger.error("model engine process %s ended unexpectedly (%s)", self.pid, _how(process))
        self._discard()
        if loading:
            raise BackendError(CRASHED_LOADING, hint=CRASHED_LOADING_HINT)
        raise EngineStoppedError(CRASHED, hint=CRASHED_HINT)

    def _discard(self) -> None:
        """Make sure the child is gone and reaped, and forget it."""
        process, conn = self._process, self._conn
        self._process = self._conn = None
        self._cancel = None
        if conn is not None:
            conn.close()
        if process is None:
            return
        if process.is_alive():
            process.terminate()
            process.join(_KILL_TIMEOUT_S)
        if process.is_alive():
            process.kill()
            process.join()
        else:
            process.join()
        with contextlib.suppress(ValueError):  # reaped by someone else's waitpid: nothing left
            process.close()


def _how(process: BaseProcess) -> str:
    """How a child ended, for the log: its exit code or the signal that killed it."""
    code = process.exitcode
    if code is not None and code < 0:
        try:
            return f"signal {signal.Signals(-code).name}"
        except ValueError:
            return f"signal {-code}"
    return f"exit code {code}"
