"""Composition root: logging, settings, process-level hooks, and the GUI launch.

Nothing else in VoxRad configures logging handlers or installs exception hooks.
"""

from __future__ import annotations

import logging
import logging.handlers
import sys
import threading
from pathlib import Path
from types import TracebackType

from voxrad import __version__
from voxrad.assistant.privacy.gate import log_redactor
from voxrad.core import paths
from voxrad.core.settings import Settings

logger = logging.getLogger("voxrad")

_LOG_FORMAT = "%(asctime)s %(levelname)-7s %(threadName)s %(name)s: %(message)s"


def configure_logging(settings: Settings, *, debug: bool = False, console: bool = False) -> Path:
    """Log to a rotating file in the user log dir; optionally to stderr too.

    Patient data and transcript text are logged only at DEBUG (a rule every module keeps);
    the default level is INFO.
    """
    directory = paths.log_dir()
    directory.mkdir(parents=True, exist_ok=True)
    log_file = directory / "voxrad.log"
    root = logging.getLogger("voxrad")
    for handler in list(root.handlers):
        root.removeHandler(handler)
        handler.close()
    level = logging.DEBUG if debug else getattr(logging, settings.logging.level)
    root.setLevel(level)
    root.propagate = False
    file_handler = logging.handlers.RotatingFileHandler(
        log_file,
        maxBytes=settings.logging.max_bytes,
        backupCount=settings.logging.backups,
        encoding="utf-8",
    )
    file_handler.setFormatter(logging.Formatter(_LOG_FORMAT))
    # Second line of defence behind "no patient data above DEBUG": the open study's own
    # identifiers are removed from every record that reaches a handler.
    redactor = log_redactor()
    file_handler.addFilter(redactor)
    root.addHandler(file_handler)
    if console or debug:
        stream = logging.StreamHandler(sys.stderr)
        stream.setLevel(logging.DEBUG if debug else logging.WARNING)
        stream.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        stream.addFilter(redactor)
        root.addHandler(stream)
    logging.captureWarnings(True)
    return log_file


def install_exception_hooks() -> None:
    """Log uncaught exceptions of the main thread and of worker threads instead of dying quietly."""

    def excepthook(
        kind: type[BaseException], value: BaseException, tb: TracebackType | None
    ) -> None:
        if issubclass(kind, KeyboardInterrupt):
            sys.__excepthook__(kind, value, tb)
            return
        logger.critical("uncaught exception", exc_info=(kind, value, tb))

    def thread_hook(args: threading.ExceptHookArgs) -> None:
        if args.exc_type is SystemExit:
            return
        name = args.thread.name if args.thread is not None else "?"
        logger.critical(
            "uncaught exception in thread %s",
            name,
            exc_info=(args.exc_type, args.exc_value, args.exc_traceback),  # type: ignore[arg-type]
        )

    sys.excepthook = excepthook
    threading.excepthook = thread_hook


def run_gui(study: str | None = None, *, demo: bool = False) -> int:
    """Launch the desktop window, optionally opening ``study`` or the bundled sample study."""
    logger.info("GUI requested (version %s)", __version__)
    try:
        from voxrad.ui.app import run_app
    except ImportError as exc:
        from voxrad.core.errors import DependencyMissingError

        raise DependencyMissingError("The desktop viewer (PySide6, VTK)", "gui") from exc
    return run_app(study, demo=demo)
