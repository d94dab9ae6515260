"""Menus and keyboard shortcuts of the main window (shortcuts show next to each entry)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import partial
from typing import Protocol, cast

from PySide6.QtCore import QObject
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import QMenuBar, QStatusBar

from voxrad.core.errors import VoxRadError
from voxrad.core.windowing import CT_PRESETS, WindowPreset
from voxrad.render.volume_scene import VOLUME_PRESETS
from voxrad.ui.slice_view import TOOLS, SliceView
from voxrad.ui.view_area import ViewArea

logger = logging.getLogger(__name__)


class MenuWindow(Protocol):
    """What the menus need of the main window (a protocol, so this module sits below it)."""

    view_area: ViewArea

    def menuBar(self) -> QMenuBar: ...  # noqa: N802 (Qt names)
    def statusBar(self) -> QStatusBar: ...  # noqa: N802 (Qt names)
    def addAction(self, action: QAction) -> None: ...  # noqa: N802 (Qt names)
    def removeAction(self, action: QAction) -> None: ...  # noqa: N802 (Qt names)
    def open_dialog(self, folder: bool = False) -> None: ...
    def open_demo(self) -> int: ...
    def export_view(self) -> object: ...
    def cancel_load(self) -> None: ...
    def close(self) -> bool: ...


_TOOL_KEYS = {
    "navigate": "Esc",
    "point": "P",
    "box": "B",
    "outline": "O",
    "distance": "D",
    "ellipse": "E",
}


def build_menus(win: MenuWindow) -> dict[str, object]:
    """Create every menu; returns actions (and the recent-studies menu) by name."""
    area = win.view_area
    actions: dict[str, object] = {}
    bar = win.menuBar()
    owner = cast(QObject, win)  # the window is a QMainWindow: it parents the actions

    def add(menu, name: str, text: str, slot: Callable[[], object], key: str = "") -> QAction:  # type: ignore[no-untyped-def]
        action = QAction(text, owner)
        if key:
            action.setShortcut(QKeySequence(key))
        action.triggered.connect(lambda _=False: guarded(win, text, slot))
        menu.addAction(action)
        win.addAction(action)  # shortcuts then work wherever focus is in the window
        actions[name] = action
        return action

    def slice_view():  # type: ignore[no-untyped-def]
        return area.active_slice_view()

    def on_slice(fn: Callable[[SliceView], object]) -> Callable[[], None]:
        def run() -> None:
            view = slice_view()
            if view is not None and view.scene.volume is not None:
                fn(view)

        return run

    file_menu = bar.addMenu("&File")
    add(file_menu, "open", "&Open file...", lambda: win.open_dialog(False), "Ctrl+O")
    add(file_menu, "open_folder", "Open &folder...", lambda: win.open_dialog(True), "Ctrl+Shift+O")
    add(file_menu, "demo", "Open &sample study", win.open_demo)
    actions["recent_menu"] = file_menu.addMenu("&Recent studies")
    file_menu.addSeparator()
    add(file_menu, "export", "&Export view as PNG...", win.export_view, "Ctrl+E")
    add(file_menu, "cancel", "&Cancel loading", win.cancel_load, "Ctrl+.")
    file_menu.addSeparator()
    add(file_menu, "quit", "&Quit", win.close, "Ctrl+Q")

    view_menu = bar.addMenu("&View")
    add(view_menu, "layout_1x1", "Layout &1x1", lambda: area.set_layout("1x1"), "Ctrl+1")
    add(view_menu, "layout_2x2", "Layout &2x2", lambda: area.set_layout("2x2"), "Ctrl+2")
    view_menu.addSeparator()
    for name, key in (
        ("axial", "Alt+A"),
        ("coronal", "Alt+C"),
        ("sagittal", "Alt+S"),
        ("3d", "Alt+3"),
    ):
        add(view_menu, f"show_{name}", f"Show {name.capitalize() if name != '3d' else '3D'}",
            partial(area.show_view, name), key)  # fmt: skip
    view_menu.addSeparator()
    # Arrow keys are handled by the view itself (a window-wide shortcut would steal them from
    # lists); the tab in the text shows the key in the menu.
    add(view_menu, "next_slice", "Next slice\tDown / wheel", on_slice(lambda v: v.step(1)))
    add(view_menu, "prev_slice", "Previous slice\tUp / wheel", on_slice(lambda v: v.step(-1)))
    add(view_menu, "zoom_in", "Zoom &in", on_slice(lambda v: v.zoom(1.25)), "+")
    add(view_menu, "zoom_out", "Zoom &out", on_slice(lambda v: v.zoom(0.8)), "-")
    add(view_menu, "reset", "&Reset view", _reset(area), "R")
    add(view_menu, "invert", "&Invert", on_slice(_toggle_invert), "I")

    window_menu = bar.addMenu("&Window")
    actions["window_menu"] = window_menu
    add(window_menu, "window_default", "Default window", on_slice(_default_window), "0")
    window_menu.addSeparator()

    def fill_presets(presets: tuple[WindowPreset, ...]) -> None:
        """Number keys 1-9: the file's own windows first, then the standard CT table."""
        for name in [n for n in actions if n.startswith("preset_")]:
            old = actions.pop(name)
            window_menu.removeAction(old)  # type: ignore[arg-type]
            win.removeAction(old)  # type: ignore[arg-type]
            old.deleteLater()  # type: ignore[attr-defined]
        for n, preset in enumerate(presets[:9], start=1):
            origin = " (from file)" if preset.source == "dicom" else ""
            add(window_menu, f"preset_{preset.name.lower()}",
                f"{preset.name.capitalize()}{origin}  (W {preset.width:g} / L {preset.center:g})",
                on_slice(partial(_apply_preset, preset=preset)), str(n))  # fmt: skip

    fill_presets(CT_PRESETS)
    actions["fill_presets"] = fill_presets

    tools_menu = bar.addMenu("&Tools")
    group = QActionGroup(owner)
    for tool in TOOLS:
        action = add(tools_menu, f"tool_{tool}", tool.capitalize(),
                     partial(area.set_tool, tool), _TOOL_KEYS[tool])  # fmt: skip
        action.setCheckable(True)
        action.setChecked(tool == "navigate")
        group.addAction(action)
    tools_menu.addSeparator()
    add(tools_menu, "clear_measurements", "Clear measurements", area.clear_measurements)
    tools_menu.addSeparator()
    add(tools_menu, "settings", "&Settings...", lambda: _settings(win), "Ctrl+,")

    render_menu = bar.addMenu("&3D")
    for n, vp in enumerate(VOLUME_PRESETS, start=1):
        add(render_menu, f"volume_{vp.name}", vp.title, partial(_volume_preset, area, vp.name),
            f"Shift+{n}")  # fmt: skip

    help_menu = bar.addMenu("&Help")
    add(help_menu, "about", "About VoxRad", lambda: _about(win))
    return actions


def guarded(win, what: str, slot: Callable[[], object]) -> None:  # type: ignore[no-untyped-def]
    """Run a user action; a failure is logged and reported, and the window stays alive."""
    try:
        slot()
    except VoxRadError as exc:
        win.statusBar().showMessage(exc.user_message(), 10_000)
    except Exception as exc:
        logger.exception("action %r failed", what)
        win.statusBar().showMessage(
            f"{what.replace('&', '')} failed ({type(exc).__name__}); details are in the log.",
            10_000,
        )


def _reset(area):  # type: ignore[no-untyped-def]
    def run() -> None:
        widget = area.active_widget()
        if widget is not None:
            widget.reset_view()

    return run


def _apply_preset(view: SliceView, preset: WindowPreset) -> None:
    view.set_window(preset.center, preset.width)


def _toggle_invert(view) -> None:  # type: ignore[no-untyped-def]
    view.scene.set_invert(not view.scene.inverted)
    view.scene.set_window(view.scene.center, view.scene.width)  # refreshes the W/L text
    view.refresh()


def _default_window(view) -> None:  # type: ignore[no-untyped-def]
    view.set_window(*view.scene.volume.default_window())


def _volume_preset(area, name: str) -> None:  # type: ignore[no-untyped-def]
    area.show_view("3d") if area.layout_name == "1x1" else None
    widget = area.volume_view
    if widget is not None:
        widget.set_preset(name)


def _settings(win) -> None:  # type: ignore[no-untyped-def]
    from voxrad.ui.settings_dialog import open_settings_dialog

    # Saved settings go out through the window's signal; whoever runs the assistant applies
    # them (ui.assistant_setup), so the dialog needs no knowledge of the assistant.
    win.settings_dialog = open_settings_dialog(win)  # kept: a window-modal dialog lives on


def _about(win) -> None:  # type: ignore[no-untyped-def]
    from PySide6.QtWidgets import QMessageBox

    from voxrad import __version__
    from voxrad.core.paths import release_notes

    box = QMessageBox(win)
    box.setWindowTitle("About VoxRad")
    box.setIcon(QMessageBox.Icon.Information)
    box.setText(f"VoxRad {__version__}\n\nDecision support, not a diagnosis. Not a medical device.")
    notes = release_notes()
    if notes:
        box.setInformativeText("What changed: see Show Details.")
        box.setDetailedText(notes)
    box.exec()
