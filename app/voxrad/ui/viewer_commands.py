"""Voice and typed commands carried out on the viewer (GUI thread only).

Each :class:`~voxrad.assistant.commands.grammar.Action` maps onto what the menus already do, so a
spoken "lung window" and the Window menu's entry behave the same. What the viewer cannot do
raises a :class:`VoxRadError` whose message the conversation panel shows.
"""

from __future__ import annotations

from voxrad.assistant.commands.grammar import Action, Command
from voxrad.core.errors import VoxRadError
from voxrad.core.windowing import CT_PRESETS, find_preset
from voxrad.ui.main_window import MainWindow
from voxrad.ui.slice_view import SliceView


def apply_viewer_command(window: MainWindow, command: Command) -> None:
    """Carry out ``command`` on ``window``'s views (not the finding and overlay commands,
    which the assistant bridge handles)."""
    a, area = command.action, window.view_area
    if a is Action.UNDO:
        raise VoxRadError("Undo is not available by voice; use the View or Window menu.")
    if a in (Action.NEXT_SERIES, Action.PREVIOUS_SERIES):
        _step_series(window, 1 if a is Action.NEXT_SERIES else -1)
        return
    if area.volume is None:
        raise VoxRadError("Open a study first; then the viewer can do that.")
    view = area.active_slice_view() or area.views["axial"]
    count = int(command.arg("count", 1) or 1)
    if a is Action.NEXT_SLICE:
        view.step(count)
    elif a is Action.PREVIOUS_SLICE:
        view.step(-count)
    elif a is Action.GO_TO_SLICE:
        view.go_to(int(command.arg("index", 1) or 1) - 1)  # slices are shown from 1
    elif a is Action.FIRST_SLICE:
        view.go_to(0)
    elif a is Action.LAST_SLICE:
        view.go_to(view.scene.slice_count - 1)
    elif a is Action.MIDDLE_SLICE:
        view.go_to(view.scene.slice_count // 2)
    elif a is Action.WINDOW:
        _window(view, str(command.arg("preset", "default")))
    elif a is Action.ZOOM_IN:
        view.zoom(1.25)
    elif a is Action.ZOOM_OUT:
        view.zoom(0.8)
    elif a is Action.RESET_VIEW:
        widget = area.active_widget()
        if widget is not None:
            widget.reset_view()
    elif a is Action.ORIENTATION:
        area.show_view(str(command.arg("plane", "axial")))
    elif a is Action.VIEW_3D:
        area.show_view("3d")
    elif a is Action.LAYOUT:
        cells = int(command.arg("rows", 1) or 1) * int(command.arg("columns", 1) or 1)
        area.set_layout("1x1" if cells <= 1 else "2x2")
    elif a is Action.MEASURE:
        window.actions_by_name["tool_distance"].trigger()  # type: ignore[attr-defined]
    else:
        raise VoxRadError(f"The viewer cannot {str(a).replace('_', ' ')} yet.")


def _window(view: SliceView, name: str) -> None:
    volume = view.scene.volume
    if volume is None:
        return
    if name == "default":
        view.set_window(*volume.default_window())
        return
    preset = find_preset(volume.presets(), name) or find_preset(CT_PRESETS, name)
    if preset is None:
        raise VoxRadError(f"There is no {name} window for this image.")
    view.set_window(preset.center, preset.width)


def _step_series(window: MainWindow, delta: int) -> None:
    series = window.series_list
    row = series.currentRow() + delta
    if series.count() < 2 or not 0 <= row < series.count():
        raise VoxRadError("There is no other series in this direction.")
    series.setCurrentRow(row)
    series.itemActivated.emit(series.item(row))
