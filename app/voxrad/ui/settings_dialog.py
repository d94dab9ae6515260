"""The settings dialog: each widget is bound to a settings field by its dotted name.

Values are checked by the settings schema itself (pydantic) plus the few checks the schema
cannot make (a key, a URL, a file that must exist); an invalid value is named in the dialog
and nothing is written. Save writes the whole file atomically with
:func:`voxrad.core.settings.save_settings` and applies it to the running assistant
(:func:`voxrad.ui.assistant_setup.apply_saved_settings`); Cancel discards.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from PySide6.QtCore import Signal
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from voxrad.core.errors import VoxRadError
from voxrad.core.settings import Settings, save_settings
from voxrad.ui.level_meter import LevelMeter, LevelSourceFactory, MicrophoneLevelSource

logger = logging.getLogger(__name__)

#: Bound fields, in the order shown: dotted settings name -> label.
FIELDS: dict[str, str] = {
    "audio.input_device": "Microphone",
    "assistant.push_to_talk_key": "Push-to-talk key",
    "assistant.side_button_talk": "Mouse side button talks",
    "assistant.hands_free": "Hands-free listening",
    "audio.wake_phrase": "Wake phrase",
    "audio.wake_sensitivity": "Wake phrase sensitivity (0-1)",
    "asr.model": "Speech model",
    "asr.language": "Language",
    "asr.lexicon_path": "Site lexicon file",
    "assistant.live_transcript": "Show what is heard while speaking",
    "assistant.live_transcript_interval_s": "Live transcript update (s)",
    "vlm.backend": "Model engine",
    "vlm.model": "Model",
    "vlm.gpu_layers": "GPU layers (-1 auto)",
    "vlm.separate_process": "Run the model in its own process",
    "vlm.server_url": "Server URL",
    "tts.voice": "Voice",
    "tts.rate": "Speech rate (words/min)",
    "assistant.muted": "Start with speech muted",
}
VLM_BACKENDS = ("llama-cpp", "transformers", "openai")


def get_field(settings: Settings, name: str) -> Any:
    section, field = name.split(".")
    return getattr(getattr(settings, section), field)


def field_error(name: str, value: Any) -> str:
    """The checks the schema cannot make; "" when ``value`` is acceptable for ``name``."""
    if name == "assistant.push_to_talk_key":
        seq = QKeySequence.fromString(str(value))
        if seq.count() != 1 or seq[0].key().name == "Key_unknown":  # type: ignore[index]
            return "is not one key (examples: F4, F9, Space)"
    if name == "vlm.server_url" and value and not str(value).startswith(("http://", "https://")):
        return "must start with http:// or https://"
    if name == "asr.lexicon_path" and value and not Path(str(value)).expanduser().is_file():
        return "is not a file that exists"
    return ""


def _choices(name: str) -> list[str]:
    """Known values offered in a combo box (the user may still type another)."""
    try:
        if name == "audio.input_device":
            from voxrad.audio.devices import list_input_devices

            return [""] + [d.name for d in list_input_devices()]
        if name in ("asr.model", "vlm.model"):
            from voxrad.backends.catalog import load_catalog

            return [e.name for e in load_catalog().of_kind(name.split(".", maxsplit=1)[0])]
    except VoxRadError as exc:
        logger.info("settings dialog: no choices for %s: %s", name, exc.message)
    return [""] if name == "audio.input_device" else []


class SettingsDialog(QDialog):
    """Edit the settings a clinician needs; Save validates and writes, Cancel discards.

    Parameters
    ----------
    settings
        The current settings (not modified: :attr:`result_settings` holds the saved copy).
    path
        The settings file; None is the user config dir's.
    level_source_factory
        Builds the level meter's source for a device name; defaults to the real microphone.
    """

    saved = Signal(object)  # the Settings written

    def __init__(
        self,
        settings: Settings,
        *,
        path: Path | None = None,
        level_source_factory: LevelSourceFactory | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("VoxRad settings")
        self.settings = settings
        self.path = path
        self.result_settings: Settings | None = None
        self._level_factory = level_source_factory or MicrophoneLevelSource
        self.widgets: dict[str, QWidget] = {}
        form = QFormLayout()
        for name, label in FIELDS.items():
            widget = self._make_widget(name)
            self.widgets[name] = widget
            self.set_value(name, get_field(settings, name))
            row: QWidget = widget
            if name == "asr.lexicon_path":
                row = self._with_browse(widget)  # type: ignore[arg-type]
            form.addRow(label, row)
            if name == "audio.input_device":
                self.meter = LevelMeter(self)
                self.mic_note = QLabel("", self)
                self.mic_note.setWordWrap(True)
                form.addRow("Input level", self.meter)
                form.addRow("", self.mic_note)
        self.error_label = QLabel("", self)
        self.error_label.setWordWrap(True)
        self.error_label.setStyleSheet("color: #ff7070")
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel, self
        )
        buttons.accepted.connect(self.save)
        buttons.rejected.connect(self.reject)
        self.buttons = buttons
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.error_label)
        layout.addWidget(buttons)
        device = self.widgets["audio.input_device"]
        # Chosen from the list, not per keystroke: each change reopens the device.
        device.textActivated.connect(self._listen_to)  # type: ignore[attr-defined]
        self._listen_to(str(get_field(settings, "audio.input_device")))

    # --- binding by name ---------------------------------------------------------------------

    def _make_widget(self, name: str) -> QWidget:
        value = get_field(self.settings, name)
        if isinstance(value, bool):
            return QCheckBox(self)
        if isinstance(value, int):
            spin = QSpinBox(self)
            spin.setRange(-1 if name == "vlm.gpu_layers" else 0, 1000)
            return spin
        if isinstance(value, float):
            # The schema's own bounds are checked on save, like every other field.
            real = QDoubleSpinBox(self)
            real.setRange(0.0, 1000.0)
            real.setDecimals(1)
            real.setSingleStep(0.1)
            return real
        if name in ("audio.input_device", "asr.model", "vlm.model", "vlm.backend"):
            combo = QComboBox(self)
            combo.setEditable(True)
            choices = list(VLM_BACKENDS) if name == "vlm.backend" else _choices(name)
            combo.addItems(choices)
            if name == "audio.input_device":
                combo.setItemText(0, "")
                combo.lineEdit().setPlaceholderText("System default")  # type: ignore[union-attr]
            return combo
        return QLineEdit(self)

    def value(self, name: str) -> Any:
        """The value now in the widget bound to ``name``."""
        widget = self.widgets[name]
        if isinstance(widget, QCheckBox):
            return widget.isChecked()
        if isinstance(widget, (QSpinBox, QDoubleSpinBox)):
            return widget.value()
        if isinstance(widget, QComboBox):
            return widget.currentText().strip()
        return widget.text().strip()  # type: ignore[attr-defined]

    def set_value(self, name: str, value: Any) -> None:
        """Show ``value`` in the widget bound to ``name``."""
        widget = self.widgets[name]
        if isinstance(widget, QCheckBox):
            widget.setChecked(bool(value))
        elif isinstance(widget, QSpinBox):
            widget.setValue(int(value))
        elif isinstance(widget, QDoubleSpinBox):
            widget.setValue(float(value))
        elif isinstance(widget, QComboBox):
            widget.setCurrentText(str(value))
        else:
            widget.setText(str(value))  # type: ignore[attr-defined]

    def _with_browse(self, edit: QLineEdit) -> QWidget:
        box = QWidget(self)
        row = QHBoxLayout(box)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(edit)
        browse = QPushButton("Browse...", box)

        def pick() -> None:
            chosen, _ = QFileDialog.getOpenFileName(self, "Site lexicon", "", "Text (*.txt)")
            if chosen:
                edit.setText(chosen)

        browse.clicked.connect(pick)
        row.addWidget(browse)
        return box

    # --- level meter -------------------------------------------------------------------------

    def _listen_to(self, device: str) -> None:
        self.mic_note.setText(self.meter.attach(self._level_factory(device.strip())))

    def done(self, result: int) -> None:  # Qt override: always let go of the microphone
        self.meter.detach()
        super().done(result)

    # --- save --------------------------------------------------------------------------------

    def collect(self) -> Settings:
        """The edited settings, checked.

        Raises
        ------
        VoxRadError
            A value is invalid; the message names the field by its label.
        """
        data = self.settings.model_dump()
        for name, label in FIELDS.items():
            value = self.value(name)
            problem = field_error(name, value)
            if problem:
                raise VoxRadError(f"{label} {problem}.", hint="Correct it, then save again.")
            section, field = name.split(".")
            data[section][field] = value
        try:
            # model_validate checks the values as given, without re-reading the environment.
            return Settings.model_validate(data)
        except ValidationError as exc:
            first = exc.errors()[0]
            name = ".".join(str(p) for p in first["loc"][:2])
            label = FIELDS.get(name, name)
            raise VoxRadError(
                f"{label}: {first['msg']}.", hint="Correct it, then save again."
            ) from exc

    def save(self) -> bool:
        """Validate and write; on a problem, show it and keep the dialog open."""
        try:
            new = self.collect()
            save_settings(new, self.path)
        except VoxRadError as exc:
            self.error_label.setText(exc.user_message())
            return False
        except OSError as exc:
            logger.warning("settings not saved: %s", exc)
            self.error_label.setText(f"The settings could not be written ({exc.strerror}).")
            return False
        self.result_settings = new
        self.error_label.setText("")
        logger.info("settings saved")
        self.saved.emit(new)
        self.accept()
        return True


def open_settings_dialog(
    window: QWidget, factory: Callable[..., SettingsDialog] | None = None
) -> SettingsDialog:
    """Show the dialog over ``window`` (window-modal, not blocking the event loop).

    Saved settings are emitted as the window's ``settings_saved`` signal, which the
    assistant's composition (:func:`voxrad.ui.assistant_setup.build_assistant`) connects to
    :func:`~voxrad.ui.assistant_setup.apply_saved_settings`.
    """
    from voxrad.core.settings import load_settings

    dialog = (factory or SettingsDialog)(load_settings(), parent=window)
    relay = getattr(window, "settings_saved", None)
    if relay is not None:
        dialog.saved.connect(relay.emit)
    dialog.open()
    return dialog
