"""The VoxRad main window: series browser, view area, conversation panel, status bar."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QCloseEvent, QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import (
    QDockWidget,
    QFileDialog,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from voxrad import __version__
from voxrad.assistant.privacy.gate import log_redactor
from voxrad.core import paths
from voxrad.core.session import Session
from voxrad.core.study import PatientIdentity, SeriesInfo
from voxrad.core.volume import Volume
from voxrad.core.windowing import CT_PRESETS
from voxrad.ui.conversation_panel import ConversationPanel
from voxrad.ui.menus import build_menus
from voxrad.ui.recent import add_recent, load_recent
from voxrad.ui.view_area import ViewArea
from voxrad.ui.workers import LoadThread

logger = logging.getLogger(__name__)

SAMPLE_STUDY = paths.install_root() / "assets" / "sample-ct"


class MainWindow(QMainWindow):
    """Everything the user sees; loading happens on :class:`LoadThread`."""

    volume_loaded = Signal(object)  # core.volume.Volume
    load_failed = Signal(str)
    load_cancelled = Signal()
    region_picked = Signal(object)  # core.region.Region: for the conversation panel
    #: Settings just saved in the Settings dialog (core.settings.Settings): the assistant's
    #: composition (ui.assistant_setup) applies them; the window does not know how.
    settings_saved = Signal(object)

    def __init__(self, *, show_dialogs: bool = True) -> None:
        super().__init__()
        self.setWindowTitle(f"VoxRad {__version__} - decision support, not a diagnosis")
        self.resize(1400, 900)
        self.setAcceptDrops(True)
        self.show_dialogs = show_dialogs
        self.study: object = None
        self.series_number: int | None = None
        self.study_path: str | None = None
        self.last_error = ""
        #: What is on screen, Qt-free: the viewer writes it, the assistant reads it.
        self.session = Session()

        central = QWidget(self)
        column = QVBoxLayout(central)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(0)
        self.banner = QLabel("", central)
        self.banner.setObjectName("warnings")
        self.banner.setWordWrap(True)
        self.banner.hide()
        self.view_area = ViewArea(central)
        column.addWidget(self.banner)
        column.addWidget(self.view_area, 1)
        self.setCentralWidget(central)

        self.series_list = QListWidget()
        self.series_list.itemActivated.connect(self._series_chosen)
        self.series_list.itemClicked.connect(self._series_chosen)
        self._dock("Series", self.series_list, Qt.DockWidgetArea.LeftDockWidgetArea)
        measure_box = QWidget()
        measure_layout = QVBoxLayout(measure_box)
        measure_layout.setContentsMargins(0, 0, 0, 0)
        self.measure_list = QListWidget()
        delete = QPushButton("Delete measurement")
        delete.clicked.connect(self.delete_selected_measurement)
        measure_layout.addWidget(self.measure_list)
        measure_layout.addWidget(delete)
        self._dock("Measurements", measure_box, Qt.DockWidgetArea.LeftDockWidgetArea)
        self.conversation_panel = ConversationPanel()
        #: The AssistantBridge (ui.assistant_setup); None when the assistant is not set up.
        self.assistant: object = None
        self.conversation_dock = self._dock(
            "Conversation", self.conversation_panel, Qt.DockWidgetArea.RightDockWidgetArea
        )

        status = self.statusBar()
        self.hover_label = QLabel("")
        self.progress = QProgressBar()
        self.progress.setMaximumWidth(220)
        self.progress.hide()
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.hide()
        self.cancel_button.clicked.connect(self.cancel_load)
        status.addWidget(self.hover_label, 1)
        status.addPermanentWidget(self.progress)
        status.addPermanentWidget(self.cancel_button)

        self.loader = LoadThread(self)
        w = self.loader.worker
        w.progress.connect(self._on_progress)
        w.opened.connect(self._on_opened)
        w.first_slice.connect(self._on_first_slice)
        w.loaded.connect(self._on_loaded)
        w.errored.connect(self._on_error)
        w.cancelled.connect(self._on_cancelled)
        self.view_area.hovered.connect(self.hover_label.setText)
        self.view_area.region_picked.connect(self._on_region)
        self.view_area.measurements_changed.connect(self._refresh_measurements)
        for view in self.view_area.views.values():
            view.slice_changed.connect(self._sync_session)
            view.window_changed.connect(self._sync_session)
        # First of its slots: whoever else hears of the volume finds the session up to date.
        self.volume_loaded.connect(self._show_in_session)
        self.actions_by_name = build_menus(self)
        self._refresh_recent()

    def _dock(self, title: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(title.lower())
        dock.setWidget(widget)
        dock.setFeatures(
            QDockWidget.DockWidgetFeature.DockWidgetMovable
            | QDockWidget.DockWidgetFeature.DockWidgetClosable
        )
        self.addDockWidget(area, dock)
        return dock

    # -- opening -------------------------------------------------------------------------------
    def open_path(self, path: str | Path, series: int | None = None) -> int:
        """Start loading ``path`` in the background; returns the request id."""
        self.study_path = str(path)
        if series is None:
            self.series_list.clear()
        self.progress.setRange(0, 0)
        self.progress.show()
        self.cancel_button.show()
        self.statusBar().showMessage(f"Opening {Path(path).name} ...")
        return self.loader.submit(str(path), series).request_id

    def open_demo(self) -> int:
        return self.open_path(SAMPLE_STUDY)

    def open_dialog(self, folder: bool = False) -> None:
        if folder:
            path = QFileDialog.getExistingDirectory(self, "Open study folder")
        else:
            path, _ = QFileDialog.getOpenFileName(
                self, "Open study", "", "Images (*.dcm *.nii *.nii.gz *.png *.jpg *.zip *);;All (*)"
            )
        if path:
            self.open_path(path)

    def cancel_load(self) -> None:
        self.loader.cancel()

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802 (Qt override)
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802 (Qt override)
        urls = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
        if urls:
            event.acceptProposedAction()
            self.open_path(urls[0])

    def _series_chosen(self, item: QListWidgetItem) -> None:
        number = item.data(Qt.ItemDataRole.UserRole)
        if self.study_path and number is not None and number != self.series_number:
            self.open_path(self.study_path, int(number))

    def shown_series(self) -> tuple[PatientIdentity | None, SeriesInfo | None]:
        """The open study's identity and the chosen series' header summary (None: unknown).

        For the assistant: the privacy gate strips the identity from what leaves, the audit
        log records the series' UIDs. Never shown or logged here.
        """
        study, number = self.study, self.series_number
        identity = getattr(study, "identity", None)
        series = getattr(study, "series", None) or []
        info = None
        if number is not None and 0 <= number < len(series):
            info = getattr(series[number], "info", None)
        return (
            identity if isinstance(identity, PatientIdentity) else None,
            info if isinstance(info, SeriesInfo) else None,
        )

    def _show_in_session(self, volume: Volume) -> None:
        identity, info = self.shown_series()
        self.session.show_study(volume, identity=identity, series=info)
        self._sync_session()

    def _sync_session(self, *_args: object) -> None:
        """Write the acquired view's slice and window to the session (GUI thread)."""
        scene = self.view_area.acquired_view().scene
        if self.session.state.view.volume is None or scene.volume is None:
            return
        self.session.show_slice(int(scene.slice_index))
        self.session.show_window(float(scene.center), float(scene.width))

    # -- worker results (main thread) ----------------------------------------------------------
    def _on_progress(self, rid: int, done: int, total: int, stage: str) -> None:
        if not self.loader.is_current(rid):
            return
        self.progress.setRange(0, max(total, 0))
        self.progress.setValue(done)
        self.progress.setFormat(f"{stage} %v/%m")

    def _on_opened(self, rid: int, study: object) -> None:
        if not self.loader.is_current(rid):
            return
        self.study = study
        # From here on the log handlers drop this study's identifiers (README: "logs drop
        # the study's identifiers"), as `voxrad ask` and `voxrad info` do for theirs.
        identity = getattr(study, "identity", None)
        log_redactor().set_identity(identity if isinstance(identity, PatientIdentity) else None)
        if self.series_list.count():
            return
        for n, series in enumerate(study.series):  # type: ignore[attr-defined]
            info = series.info
            k, j, i = info.shape
            text = f"{info.modality} {info.description or '(no description)'}\n{k} x {j} x {i}"
            if info.warnings:
                text = "\u26a0 " + text
            item = QListWidgetItem(text)
            item.setData(Qt.ItemDataRole.UserRole, n)
            item.setToolTip("\n".join(info.warnings) or info.kind)
            self.series_list.addItem(item)

    def _on_first_slice(self, rid: int, index: int, image: np.ndarray) -> None:
        """Show the first decoded (middle) slice while the rest loads."""
        if self.loader.is_current(rid) and image.ndim in (2, 3):
            self.show_preview(image)

    def show_preview(self, image: np.ndarray) -> None:
        """Show one decoded slice (2-D, or 3-D colour) of the study that is loading."""
        info = None
        study = self.study
        if study is not None and study.series:  # type: ignore[attr-defined]
            info = study.find().info  # type: ignore[attr-defined]
        modality = info.modality if info is not None else "OT"
        preview = Volume(
            voxels=np.ascontiguousarray(image[None]),
            spacing=(1.0, 1.0, 1.0),
            modality=modality,
            units="HU" if modality == "CT" else "",
            spacing_calibrated=False,
            label="preview",
        )
        self.view_area.set_volume(preview)
        self.view_area.views["axial"].scene.label = "Loading (preview)"
        # A preview's identity is known, its series not yet.
        self.session.show_study(preview, identity=self.shown_series()[0], loaded=False)
        self._sync_session()
        self.view_area.render_all()

    def _on_loaded(self, rid: int, number: int, volume: Volume) -> None:
        if not self.loader.is_current(rid):
            return
        self.loader.finish(rid)
        self._stop_progress()
        self.series_number = number
        self.series_list.setCurrentRow(number)
        self.view_area.views["axial"].scene.label = ""
        self.view_area.set_volume(volume)
        fill_presets = self.actions_by_name["fill_presets"]
        fill_presets(volume.presets() or CT_PRESETS)  # type: ignore[operator]
        for view in self.view_area.views.values():
            view.scene.label = view.plane.capitalize()
        self.view_area.render_all()
        self._show_warnings(volume.warnings)
        if self.study_path:
            add_recent(self.study_path)
            self._refresh_recent()
        k, j, i = volume.shape
        self.statusBar().showMessage(
            f"Loaded {volume.modality} {k} x {j} x {i}, spacing "
            + " x ".join(f"{s:.2f}" for s in volume.spacing)
            + " mm",
            8000,
        )
        self.volume_loaded.emit(volume)

    def _on_error(self, rid: int, message: str) -> None:
        if not self.loader.is_current(rid):
            return
        self.loader.finish(rid)
        self._stop_progress()
        self.last_error = message
        self.banner.setObjectName("error")
        self.banner.setStyleSheet("background: #4d1d1d; color: #ffb3b3; padding: 4px;")
        self.banner.setText(f"Could not open the study: {message}")
        self.banner.show()
        self.statusBar().showMessage("Loading failed; the viewer is still usable.", 8000)
        if self.show_dialogs:
            box = QMessageBox(QMessageBox.Icon.Warning, "Could not open the study", message)
            box.setParent(self, Qt.WindowType.Dialog)
            box.open()  # not exec(): a modal loop must not block the viewer
        self.load_failed.emit(message)

    def _on_cancelled(self, rid: int) -> None:
        if self.loader.is_current(rid):
            self.loader.finish(rid)
            self._stop_progress()
            self.statusBar().showMessage("Loading cancelled.", 5000)
            self.load_cancelled.emit()

    def _stop_progress(self) -> None:
        self.progress.hide()
        self.cancel_button.hide()

    def _show_warnings(self, warnings: tuple[str, ...]) -> None:
        self.banner.setStyleSheet("")
        if warnings:
            self.banner.setText("\u26a0 " + "  \u2022  ".join(warnings))
            self.banner.setStyleSheet("background: #4a3b12; color: #ffd98a; padding: 4px;")
            self.banner.show()
        else:
            self.banner.hide()

    # -- regions and measurements --------------------------------------------------------------
    def _on_region(self, region: object) -> None:
        lps = np.asarray(region.patient)  # type: ignore[attr-defined]
        kind = region.kind  # type: ignore[attr-defined]
        centre = lps.mean(axis=0)
        self.statusBar().showMessage(
            f"Selected {kind} at LPS ({centre[0]:.1f}, {centre[1]:.1f}, {centre[2]:.1f}) mm", 8000
        )
        self.region_picked.emit(region)

    def _refresh_measurements(self) -> None:
        self.measure_list.clear()
        for m in self.view_area.measurements:
            item = QListWidgetItem(f"{m.kind}: {m.text}")
            item.setData(Qt.ItemDataRole.UserRole, m.id)
            self.measure_list.addItem(item)

    def delete_selected_measurement(self) -> None:
        item = self.measure_list.currentItem()
        if item is not None:
            self.view_area.delete_measurement(item.data(Qt.ItemDataRole.UserRole))

    # -- recent --------------------------------------------------------------------------------
    def _refresh_recent(self) -> None:
        menu = self.actions_by_name.get("recent_menu")
        if menu is None:
            return
        menu.clear()  # type: ignore[attr-defined]
        for path in load_recent():
            action = menu.addAction(path)  # type: ignore[attr-defined]
            action.triggered.connect(lambda _=False, p=path: self.open_path(p))

    # -- view actions --------------------------------------------------------------------------
    def export_view(self, path: str | None = None) -> str | None:
        if path is None:
            path, _ = QFileDialog.getSaveFileName(self, "Export view", "view.png", "PNG (*.png)")
        if not path:
            return None
        self.view_area.export_png(path)
        self.statusBar().showMessage(f"Saved {path}", 5000)
        return path

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 (Qt override)
        self.loader.shutdown()
        if self.assistant is not None:
            self.assistant.shutdown()  # type: ignore[attr-defined]
        self.view_area.close_views()
        super().closeEvent(event)
