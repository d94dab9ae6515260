"""Start the Qt application and the main window."""

from __future__ import annotations

import logging
import os
import sys
import time

from voxrad.core.errors import DisplayUnavailableError

logger = logging.getLogger(__name__)


def prepare_environment() -> None:
    """Process-level fixes that must precede QApplication.

    QVTKRenderWindowInteractor draws through GLX: on a Wayland session Qt must use its X11
    (xcb) platform through XWayland, or VTK views come out black.
    """
    if sys.platform.startswith("linux") and os.environ.get("WAYLAND_DISPLAY"):
        os.environ.setdefault("QT_QPA_PLATFORM", "xcb")


def check_display() -> None:
    """Fail with a clear message instead of Qt aborting the process when there is no screen."""
    if not sys.platform.startswith("linux") or os.environ.get("QT_QPA_PLATFORM"):
        return
    if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        raise DisplayUnavailableError("No graphical display found for the VoxRad window.")


def run_app(path: str | None = None, *, demo: bool = False) -> int:
    """Show the main window, open ``path`` (or the sample study) and run the event loop."""
    start = time.perf_counter()
    check_display()
    prepare_environment()
    from PySide6.QtWidgets import QApplication

    from voxrad.ui.main_window import MainWindow
    from voxrad.ui.theme import apply_dark_theme

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("VoxRad")
    apply_dark_theme(app)  # type: ignore[arg-type]
    window = MainWindow()
    _start_assistant(window)
    window.show()
    logger.info("window shown in %.2f s", time.perf_counter() - start)
    from voxrad.ui.first_run import maybe_first_run

    window.first_run = maybe_first_run(window)  # type: ignore[attr-defined]
    if path:
        window.open_path(path)
    elif demo:
        window.open_demo()
    return int(app.exec())


def _start_assistant(window: object) -> None:
    """The assistant with the engines from settings; a failure leaves the viewer usable."""
    from voxrad.core.errors import VoxRadError
    from voxrad.core.settings import load_settings
    from voxrad.ui.assistant_setup import build_assistant

    panel = window.conversation_panel  # type: ignore[attr-defined]
    try:
        build_assistant(window, load_settings()).start()  # type: ignore[arg-type]
    except VoxRadError as exc:
        logger.warning("assistant not started: %s", exc.message)
        panel.set_notice(f"The assistant could not start: {exc.user_message()}")
    except Exception:
        logger.exception("assistant not started")
        panel.set_notice("The assistant could not start; see the log. The viewer still works.")
