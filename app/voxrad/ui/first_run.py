"""First run: a short, skippable set-up shown beside the viewer when no settings file exists.

It checks the microphone (a live level meter), lists the catalog's models with whether each is
installed and the exact ``voxrad models pull NAME`` command, downloads one on a worker thread
with progress, or takes a site server's URL instead. Skip or Finish writes the settings file,
so the set-up is not shown again (Tools > Settings changes anything later); Finish makes the
models downloaded here the ones used. The dialog is not modal: the viewer works while it is
open, and the running assistant follows it (:func:`maybe_first_run`): a model it installs is
loaded at once when the settings name it, and the saved settings apply at once.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Qt, Signal, SignalInstance
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from voxrad.backends.catalog import Catalog, ModelEntry, find_installed, load_catalog
from voxrad.backends.model_store import Hub, pull
from voxrad.core import paths
from voxrad.core.errors import VoxRadError
from voxrad.core.settings import Settings, save_settings
from voxrad.ui.level_meter import LevelMeter, LevelSourceFactory, MicrophoneLevelSource

logger = logging.getLogger(__name__)


def needs_first_run(path: Path | None = None) -> bool:
    """True when there is no settings file yet (the first start on this account)."""
    return not (path or paths.settings_path()).exists()


def pull_command(name: str) -> str:
    return f"voxrad models pull {name}"


class FirstRunDialog(QDialog):
    """The guided set-up. ``hub`` and ``level_source_factory`` default to the real ones."""

    # Emitted from the download thread; queued to the GUI thread (the dialog lives there).
    download_progress = Signal(int, str)  # request id, what is downloading
    download_finished = Signal(int, str)  # request id, model name
    download_failed = Signal(int, str)  # request id, message for the user
    model_installed = Signal(str, str)  # kind ("asr" or "vlm"), model name; GUI thread
    saved = Signal(object)  # the Settings written (Skip or Finish)

    def __init__(
        self,
        settings: Settings,
        *,
        path: Path | None = None,
        catalog: Catalog | None = None,
        hub: Hub | None = None,
        level_source_factory: LevelSourceFactory | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Set up VoxRad")
        self.setWindowModality(Qt.WindowModality.NonModal)
        self.settings = settings
        self.path = path
        self.hub = hub
        self.models_dir = settings.models.resolved_directory()
        self._request = 0
        #: Models downloaded in this set-up, by kind: Finish makes them the ones used.
        self.installed: dict[str, ModelEntry] = {}
        self._thread: threading.Thread | None = None
        layout = QVBoxLayout(self)
        intro = QLabel(
            "Three quick checks. You can skip them: the viewer works without speech or a "
            "model, and Tools > Settings changes everything later.",
            self,
        )
        intro.setWordWrap(True)
        layout.addWidget(intro)

        layout.addWidget(
            QLabel("<b>1. Microphone</b>: say a few words; the bar should move.", self)
        )
        self.meter = LevelMeter(self)
        self.mic_note = QLabel("", self)
        self.mic_note.setWordWrap(True)
        layout.addWidget(self.meter)
        layout.addWidget(self.mic_note)

        layout.addWidget(QLabel("<b>2. Models</b> (speech and image question answering)", self))
        self.model_list = QListWidget(self)
        layout.addWidget(self.model_list)
        self.command_label = QLabel("", self)
        self.command_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.download_button = QPushButton("Download", self)
        row = QHBoxLayout()
        row.addWidget(self.command_label, 1)
        row.addWidget(self.download_button)
        layout.addLayout(row)
        self.progress = QProgressBar(self)
        self.progress.setVisible(False)
        self.status_label = QLabel("", self)
        self.status_label.setWordWrap(True)
        layout.addWidget(self.progress)
        layout.addWidget(self.status_label)

        layout.addWidget(QLabel("<b>3. Or a site server</b> (OpenAI-compatible)", self))
        self.use_server = QCheckBox("Answer questions with my site's server", self)
        self.server_url = QLineEdit(settings.vlm.server_url, self)
        self.server_url.setPlaceholderText("https://server.hospital.example/v1")
        layout.addWidget(self.use_server)
        layout.addWidget(self.server_url)

        self.error_label = QLabel("", self)
        self.error_label.setWordWrap(True)
        layout.addWidget(self.error_label)
        buttons = QHBoxLayout()
        self.skip_button = QPushButton("Skip", self)
        self.finish_button = QPushButton("Finish", self)
        buttons.addStretch(1)
        buttons.addWidget(self.skip_button)
        buttons.addWidget(self.finish_button)
        layout.addLayout(buttons)

        self.skip_button.clicked.connect(self.skip)
        self.finish_button.clicked.connect(self.finish)
        self.download_button.clicked.connect(self.download_selected)
        self.model_list.currentItemChanged.connect(self._selected)
        self.download_progress.connect(self._on_progress)
        self.download_finished.connect(self._on_finished)
        self.download_failed.connect(self._on_failed)
        self._fill_models(catalog)
        factory = level_source_factory or MicrophoneLevelSource
        self.mic_note.setText(self.meter.attach(factory(settings.audio.input_device)))

    # --- models ------------------------------------------------------------------------------

    def _fill_models(self, catalog: Catalog | None) -> None:
        try:
            self.catalog: Catalog | None = catalog or load_catalog()
        except VoxRadError as exc:
            self.catalog = None
            self.status_label.setText(exc.user_message())
            self.download_button.setEnabled(False)
            return
        wanted = {self.settings.asr.model, self.settings.vlm.model}
        for entry in self.catalog.models:
            item = QListWidgetItem(self._describe(entry))
            item.setData(Qt.ItemDataRole.UserRole, entry.name)
            self.model_list.addItem(item)
            if entry.name in wanted and self.model_list.currentItem() is None:
                self.model_list.setCurrentItem(item)
        if self.model_list.currentItem() is None and self.model_list.count():
            self.model_list.setCurrentRow(0)

    def _describe(self, entry: ModelEntry) -> str:
        installed = find_installed(entry, self.models_dir) is not None
        kind = "speech" if entry.kind == "asr" else "images"
        mark = "installed" if installed else "not installed"
        star = ", recommended" if entry.recommended else ""
        return f"{entry.name}  ({kind}, {mark}, RAM {entry.ram_gb:g} GB{star})"

    def selected_entry(self) -> ModelEntry | None:
        item = self.model_list.currentItem()
        if item is None or self.catalog is None:
            return None
        return self.catalog.get(str(item.data(Qt.ItemDataRole.UserRole)))

    def _selected(self, *_args: object) -> None:
        entry = self.selected_entry()
        self.command_label.setText(pull_command(entry.name) if entry else "")

    def download_selected(self) -> None:
        """Pull the selected model on a worker thread; progress and the outcome come back
        as signals carrying this request's id."""
        entry = self.selected_entry()
        if entry is None or (self._thread is not None and self._thread.is_alive()):
            return
        self._request += 1
        rid = self._request
        self.download_button.setEnabled(False)
        self.progress.setRange(0, 0)  # busy: the hub gives file names, not byte counts
        self.progress.setVisible(True)
        self.status_label.setText(f"Downloading {entry.name}...")
        self._thread = threading.Thread(
            target=self._pull, args=(rid, entry), name="voxrad-model-pull", daemon=True
        )
        self._thread.start()

    def _pull(self, rid: int, entry: ModelEntry) -> None:  # download thread
        def emit(signal: SignalInstance, *args: object) -> None:
            try:
                signal.emit(*args)
            except RuntimeError:  # the dialog was closed and deleted meanwhile
                logger.info("model download of %s ended after the set-up closed", entry.name)

        try:
            pull(
                entry,
                self.models_dir,
                hub=self.hub,
                on_progress=lambda what: emit(self.download_progress, rid, what),
            )
        except VoxRadError as exc:
            logger.warning("model download failed: %s", exc.message)
            emit(self.download_failed, rid, exc.user_message())
        except Exception as exc:  # a worker must report, never die silently
            logger.exception("model download failed")
            emit(
                self.download_failed,
                rid,
                f"Downloading {entry.name} failed ({type(exc).__name__}); details are in the "
                f"log. From a terminal: {pull_command(entry.name)}",
            )
        else:
            emit(self.download_finished, rid, entry.name)

    def _on_progress(self, rid: int, what: str) -> None:
        if rid == self._request:
            self.status_label.setText(f"Downloading {what}")

    def _on_finished(self, rid: int, name: str) -> None:
        if rid != self._request:
            return
        self._download_ended(f"{name} is installed.")
        assert self.catalog is not None  # a download needs a catalog entry
        entry = self.catalog.get(name)
        self.installed[entry.kind] = entry
        self.model_installed.emit(entry.kind, name)
        for row in range(self.model_list.count()):
            item = self.model_list.item(row)
            if item.data(Qt.ItemDataRole.UserRole) == name:
                item.setText(self._describe(self.catalog.get(name)))

    def _on_failed(self, rid: int, message: str) -> None:
        if rid == self._request:
            self._download_ended(message)

    def _download_ended(self, message: str) -> None:
        self.progress.setRange(0, 1)
        self.progress.setValue(1)
        self.progress.setVisible(False)
        self.download_button.setEnabled(True)
        self.status_label.setText(message)

    # --- leaving -----------------------------------------------------------------------------

    def chosen_settings(self) -> Settings:
        """The settings with the user's choices applied: the models downloaded here, or the
        site server (which answers instead of a local model).

        Raises
        ------
        VoxRadError
            The server URL is not a http(s) URL.
        """
        if not self.use_server.isChecked() and not self.installed:
            return self.settings
        data = self.settings.model_dump()
        if "asr" in self.installed:
            data["asr"]["model"] = self.installed["asr"].name
        if "vlm" in self.installed:
            entry = self.installed["vlm"]
            data["vlm"].update(model=entry.name, backend=entry.backend)
        if not self.use_server.isChecked():
            return Settings.model_validate(data)
        url = self.server_url.text().strip()
        if not url.startswith(("http://", "https://")):
            raise VoxRadError(
                "The server URL must start with http:// or https://.",
                hint="Ask your site's IT for the address (it usually ends in /v1).",
            )
        data["vlm"].update(backend="openai", server_url=url)
        # Choosing a site server here is the explicit opt-in the privacy setting asks for.
        data["privacy"]["allow_remote_backends"] = True
        return Settings.model_validate(data)

    def finish(self) -> bool:
        try:
            chosen = self.chosen_settings()
            self._save(chosen)
        except VoxRadError as exc:
            self.error_label.setText(exc.user_message())
            return False
        self.saved.emit(chosen)
        self.accept()
        return True

    def skip(self) -> None:
        """Keep the defaults; writing them means the set-up is not offered again."""
        try:
            self._save(self.settings)
        except VoxRadError as exc:
            logger.warning("first-run: %s", exc.message)
        else:
            self.saved.emit(self.settings)
        self.reject()

    def _save(self, settings: Settings) -> None:
        try:
            save_settings(settings, self.path)
        except OSError as exc:
            raise VoxRadError(f"The settings could not be written ({exc.strerror}).") from exc

    def done(self, result: int) -> None:  # Qt override: always let go of the microphone
        self._request += 1  # a download still running reports to nobody
        self.meter.detach()
        super().done(result)


def maybe_first_run(
    window: QWidget,
    path: Path | None = None,
    factory: Callable[..., FirstRunDialog] | None = None,
) -> FirstRunDialog | None:
    """Show the set-up beside ``window`` when no settings file exists; never raises.

    The window's running assistant follows it: a model installed here that the settings name
    is loaded at once, and the settings saved on leaving apply at once.
    """
    if not needs_first_run(path):
        return None
    try:
        from voxrad.core.settings import load_settings
        from voxrad.ui.assistant_setup import apply_saved_settings, live_settings

        dialog = (factory or FirstRunDialog)(load_settings(path), path=path, parent=window)
    except Exception:  # the viewer must open even if the set-up cannot
        logger.exception("first-run set-up could not be shown")
        return None

    def installed(kind: str, name: str) -> None:
        live = live_settings(window)
        if live is not None:
            live.model_installed(kind, name)

    dialog.model_installed.connect(installed)
    # Quiet: skipping (nothing changed) puts no message in the status bar.
    dialog.saved.connect(lambda new: apply_saved_settings(window, new, quiet=True))
    dialog.show()
    return dialog
