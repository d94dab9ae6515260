"""The conversation panel: questions, answers, findings and the assistant's state.

A thin view (3D Slicer's Widget, napari's Qt layer): it shows :class:`TurnRecord` snapshots
and emits what the user asks for; the :class:`~voxrad.ui.assistant_bridge.AssistantBridge`
connects it to the pipeline. Nothing here waits on a backend.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from voxrad.assistant.loop.turns import PipelineState, TurnRecord
from voxrad.ui.turn_widget import (
    DISCLAIMER,
    MAX_VISIBLE_TURNS,
    STATE_TEXT,
    TurnWidget,
    plain_label,
)

logger = logging.getLogger(__name__)


class ConversationPanel(QWidget):
    """The right-hand panel. Emits requests; the bridge carries them out."""

    ask = Signal(str)
    cancel_requested = Signal()
    mute_toggled = Signal(bool)
    clear_requested = Signal()
    finding_hovered = Signal(object)
    talk_pressed = Signal()
    talk_released = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("conversation")
        col = QVBoxLayout(self)
        self.disclaimer = QLabel(f"\u26a0 {DISCLAIMER}", self)
        self.disclaimer.setObjectName("disclaimer")
        self.disclaimer.setStyleSheet(
            "background: #3a2f10; color: #ffd98a; padding: 4px; font-weight: bold;"
        )
        col.addWidget(self.disclaimer)
        # Shown for as long as a site server answers: a clinician must always know.
        self.remote_banner = QLabel("", self)
        self.remote_banner.setObjectName("remoteServer")
        self.remote_banner.setWordWrap(True)
        self.remote_banner.setStyleSheet("background: #10304a; color: #bfe3ff; padding: 4px;")
        self.remote_banner.setVisible(False)
        col.addWidget(self.remote_banner)
        bar = QHBoxLayout()
        self.state_label = QLabel(STATE_TEXT[PipelineState.IDLE], self)
        self.state_label.setObjectName("assistantState")
        self.cancel_button = QPushButton("Cancel", self)
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel_requested)
        self.mute_button = QPushButton("Mute", self)
        self.mute_button.setCheckable(True)
        self.mute_button.toggled.connect(self._mute)
        self.clear_button = QPushButton("Clear", self)
        self.clear_button.setToolTip("Clear this study's conversation")
        self.clear_button.clicked.connect(self.clear_requested)
        bar.addWidget(self.state_label, 1)
        for b in (self.cancel_button, self.mute_button, self.clear_button):
            bar.addWidget(b)
        col.addLayout(bar)
        self.notice = plain_label(self, "notice")
        self.notice.setStyleSheet("color: #ffd98a;")
        self.notice.hide()
        col.addWidget(self.notice)
        self.scroller = QScrollArea(self)
        self.scroller.setWidgetResizable(True)
        self.turns_box = QWidget()
        self.turns_layout = QVBoxLayout(self.turns_box)
        self.turns_layout.addStretch(1)
        self.scroller.setWidget(self.turns_box)
        col.addWidget(self.scroller, 1)
        self.earlier = QLabel("", self.turns_box)
        self.earlier.hide()
        self.turns_layout.insertWidget(0, self.earlier)
        # What is heard while the clinician speaks, next to the talk button; never saved.
        self.live_text = plain_label(self, "liveTranscript")
        self.live_text.setStyleSheet("color: #9a9a9a; font-style: italic;")
        self.live_text.hide()
        col.addWidget(self.live_text)
        entry = QHBoxLayout()
        self.talk_button = QPushButton("Hold to talk", self)
        self.talk_button.pressed.connect(self.talk_pressed)
        self.talk_button.released.connect(self.talk_released)
        self.input = QLineEdit(self)
        self.input.setPlaceholderText("Type a question or command (e.g. lung window)")
        self.input.returnPressed.connect(self._submit)
        self.ask_button = QPushButton("Ask", self)
        self.ask_button.clicked.connect(self._submit)
        entry.addWidget(self.talk_button)
        entry.addWidget(self.input, 1)
        entry.addWidget(self.ask_button)
        col.addLayout(entry)
        self.turns: dict[int, TurnWidget] = {}
        self.state = PipelineState.IDLE
        self._hidden_turns = 0

    # -- user input ----------------------------------------------------------------------------
    def _submit(self) -> None:
        text = self.input.text().strip()
        if text:
            self.input.clear()
            self.ask.emit(text)

    def _mute(self, muted: bool) -> None:
        self.mute_button.setText("Unmute" if muted else "Mute")
        self.mute_toggled.emit(muted)

    def focus_input(self) -> None:
        self.input.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.input.selectAll()

    def set_talk_key(self, key_text: str, *, side_button: bool = True) -> None:
        """Say on the talk button's tooltip which key (and button) also talk."""
        side = " / the mouse's side button" if side_button else ""
        self.talk_button.setToolTip(f"Hold to talk (or hold {key_text}{side})")

    # -- shown state ---------------------------------------------------------------------------
    def set_state(self, state: PipelineState) -> None:
        self.state = state
        self.state_label.setText(STATE_TEXT[state])
        self.cancel_button.setEnabled(state != PipelineState.IDLE)

    def show_live_text(self, text: str) -> None:
        """What is heard so far ("Hearing: ..."); "" clears the line. Only the label's text
        changes while it is shown: the layout moves once per utterance, not per update."""
        self.live_text.setText(f"Hearing: {text}\u2026" if text else "")
        if self.live_text.isHidden() == bool(text):
            self.live_text.setVisible(bool(text))

    def set_remote_server(self, host: str | None) -> None:
        """Mark, permanently, that questions and images go to the site server ``host``."""
        from voxrad.assistant.privacy.gate import remote_notice

        self.remote_banner.setText(remote_notice(host) if host else "")
        self.remote_banner.setVisible(bool(host))

    def set_notice(self, text: str) -> None:
        """A standing note (no microphone, model not installed, region selected ...)."""
        self.notice.setText(text)
        self.notice.setVisible(bool(text))

    def turn_widget(self, turn_id: int) -> TurnWidget:
        """The widget of ``turn_id``, created (newest last) when first seen."""
        widget = self.turns.get(turn_id)
        if widget is None:
            widget = TurnWidget(turn_id, self.turns_box)
            widget.reask.connect(self.ask)
            widget.finding_hovered.connect(self.finding_hovered)
            self.turns_layout.insertWidget(self.turns_layout.count() - 1, widget)
            widget.show()  # now, not on the layout's next pass: callers read it at once
            self.turns[turn_id] = widget
            self._trim()
            bar = self.scroller.verticalScrollBar()
            bar.rangeChanged.connect(self._scroll_to_end, Qt.ConnectionType.SingleShotConnection)
        return widget

    def _scroll_to_end(self, _low: int, high: int) -> None:
        self.scroller.verticalScrollBar().setValue(high)

    def _trim(self) -> None:
        while len(self.turns) > MAX_VISIBLE_TURNS:
            oldest = min(self.turns)
            widget = self.turns.pop(oldest)
            self.turns_layout.removeWidget(widget)
            widget.hide()
            widget.deleteLater()
            self._hidden_turns += 1
        if self._hidden_turns:
            self.earlier.setText(f"{self._hidden_turns} earlier turns are saved with the study.")
            self.earlier.show()

    def show_record(self, rec: TurnRecord) -> None:
        self.turn_widget(rec.turn_id).show_record(rec)

    def append_token(self, turn_id: int, text: str) -> None:
        self.turn_widget(turn_id).append_token(text)

    def show_speaking(self, turn_id: int, sentence: str) -> None:
        widget = self.turns.get(turn_id)
        if widget is not None:
            widget.show_speaking(sentence)

    def load(self, records: Sequence[TurnRecord]) -> None:
        """Show a saved conversation (replacing what is shown)."""
        self.clear()
        for rec in records:
            self.show_record(rec)

    def clear(self) -> None:
        for widget in self.turns.values():
            self.turns_layout.removeWidget(widget)
            widget.hide()
            widget.deleteLater()
        self.turns.clear()
        self._hidden_turns = 0
        self.earlier.hide()

    def select_finding(self, number: int) -> str | None:
        """Emphasise finding ``number`` of the latest answer that has findings."""
        for turn_id in sorted(self.turns, reverse=True):
            widget = self.turns[turn_id]
            if widget.finding_labels:
                return widget.select_finding(number)
        return None
