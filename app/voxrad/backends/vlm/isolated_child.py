"""The child side of :class:`~voxrad.backends.vlm.isolated.IsolatedVLM`, and what crosses the pipe.

The child (started with ``spawn``, so this module is what it imports) builds the real engine,
loads it and answers requests until told to close. Errors cross as (class, message, hint) so
the parent raises the same :class:`~voxrad.core.errors.VoxRadError`; log records cross as plain
fields and are re-emitted through the parent's loggers (and their identifier redactor).
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from multiprocessing.connection import Connection
from typing import TYPE_CHECKING, Any, cast

from voxrad.backends.vlm.base import GenerationCancelledError
from voxrad.backends.vlm.engines import build_engine
from voxrad.core.errors import BackendError, VoxRadError

if TYPE_CHECKING:
    from multiprocessing.synchronize import Event as ProcessEvent

    from voxrad.backends.vlm.engines import ModelSpec
    from voxrad.core.settings import PrivacySettings, VlmSettings

logger = logging.getLogger(__name__)


# -- errors across the pipe ---------------------------------------------------------------------
def error_payload(exc: BaseException) -> tuple[Any, ...]:
    """What the parent needs to raise the same error: VoxRadErrors keep class, message, hint."""
    if isinstance(exc, MemoryError):
        return ("memory",)
    if isinstance(exc, VoxRadError):
        extra = {
            k: v
            for k, v in vars(exc).items()
            if k not in ("message", "hint") and isinstance(v, str | int | float | bool | None)
        }
        cls = type(exc)
        return ("error", cls.__module__, cls.__qualname__, exc.message, exc.hint, extra)
    return ("crash", type(exc).__name__)


def rebuild_error(message: tuple[Any, ...]) -> BaseException:
    """The exception a child's error reply stands for, raised in the parent."""
    kind = message[0]
    if kind == "memory":
        return MemoryError("The model ran out of memory.")
    if kind == "crash":
        return BackendError(
            f"The model engine failed while answering ({message[1]}).",
            hint="It restarts for the next question. See the log for details.",
        )
    if kind != "error":
        return BackendError(f"The model engine answered {kind!r}, which VoxRad does not expect.")
    _, module_name, qualname, text, hint, extra = message
    # Only classes of modules this process already has: the pipe never imports anything.
    cls: Any = sys.modules.get(module_name)
    for part in str(qualname).split("."):
        cls = getattr(cls, part, None)
    if not (isinstance(cls, type) and issubclass(cls, VoxRadError)):
        return BackendError(text, hint=hint)
    # Not cls(text, hint=...): subclasses such as DependencyMissingError take other arguments.
    exc = cls.__new__(cls)
    Exception.__init__(exc, text)
    exc.message, exc.hint = text, hint
    vars(exc).update(extra)
    return exc


# -- logging across the pipe --------------------------------------------------------------------
def forward_level() -> int:
    """The lowest level any logger here would record: the child forwards from there (the app
    sets it on the ``voxrad`` logger, tests on others), and :func:`emit_record` checks each record
    against its own logger's level again."""
    levels = [logging.getLogger().getEffectiveLevel()]
    for item in list(logging.Logger.manager.loggerDict.values()):
        if isinstance(item, logging.Logger) and item.level != logging.NOTSET:
            levels.append(item.level)
    return min(levels)


def emit_record(fields: dict[str, Any]) -> None:
    """Re-emit a child's record through this process's logger of the same name."""
    record = logging.makeLogRecord(fields)
    target = logging.getLogger(record.name)
    if target.isEnabledFor(record.levelno):
        target.handle(record)


class _PipeHandler(logging.Handler):
    """Sends each record (message formatted, traceback as text) to the parent."""

    def __init__(self, send: Any) -> None:
        super().__init__()
        self._send = send

    def emit(self, record: logging.LogRecord) -> None:
        try:
            fields = dict(vars(record))
            fields["msg"] = record.getMessage()
            fields["args"] = None
            if record.exc_info:
                fields["exc_text"] = logging.Formatter().formatException(record.exc_info)
            fields["exc_info"] = None
            plain = (str, int, float, bool, type(None))
            self._send(("log", {k: v for k, v in fields.items() if isinstance(v, plain)}))
        except Exception:
            self.handleError(record)


# -- the child ----------------------------------------------------------------------------------
def child_main(
    conn: Connection,
    cancel: ProcessEvent,
    target: str,
    spec: ModelSpec,
    settings: VlmSettings,
    privacy: PrivacySettings,
    *,
    log_level: int = logging.INFO,
) -> None:
    """The child's whole life: load, answer requests until told to close, free the model."""
    lock = threading.Lock()  # native threads may log while the main thread streams pieces

    def send(message: tuple[Any, ...]) -> None:
        try:
            with lock:
                conn.send(message)
        except OSError:
            os._exit(0)  # the parent is gone: nobody is left to answer

    if sys.platform != "win32":
        # Ctrl+C in a terminal reaches the whole process group: the parent decides what
        # stops, and closes this process.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    root.addHandler(_PipeHandler(send))
    root.setLevel(log_level)

    try:
        model = build_engine(target, spec, settings, privacy)
        model.load()
    except BaseException as exc:
        if not isinstance(exc, VoxRadError | MemoryError):
            logger.exception("model engine could not be loaded")
        send(error_payload(exc))
        return
    info = {
        "name": model.name,
        "gpu_layers": getattr(model, "gpu_layers", 0),
        "timings": dict(getattr(model, "timings", {}) or {}),
    }
    send(("loaded", info))
    try:
        while True:
            try:
                message = conn.recv()
            except (EOFError, OSError):
                return  # the parent is gone
            if message[0] != "generate":
                return
            root.setLevel(message[2])
            try:
                result = model.generate(
                    message[1],
                    on_token=lambda piece: send(("token", piece)),
                    # The engines only call is_set(), which a process-shared event has too.
                    cancel=cast("threading.Event", cancel),
                )
            except GenerationCancelledError as exc:
                send(error_payload(exc))
            except BaseException as exc:
                if not isinstance(exc, VoxRadError | MemoryError):
                    logger.exception("model engine failed while answering")
                send(error_payload(exc))
            else:
                send(("result", result))
    finally:
        model.close()
