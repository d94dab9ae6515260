"""The conversation panel: questions, answers, findings and the assistant's state.

A thin view (3D Slicer's Widget, napari's Qt layer): it shows :class:`TurnRecord` snapshots
and emits what the user asks for; the :class:`~voxrad.ui.assistant_bridge.AssistantBridge`
connects it to the pipeline. Nothing here waits on a backend.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Sequence

from PySide6.QtCore import QEvent, QObject, Qt, Signal
from PySide6.QtGui import QEnterEvent
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from voxrad.assistant.confidence import describe
from voxrad.assistant.turns import STAGES, PipelineState, TurnRecord
from voxrad.core.conversation import Finding

logger = logging.getLogger(__name__)

DISCLAIMER = "Decision support, not a diagnosis"
#: Turns kept on screen; older ones stay in the saved conversation (and the model's history).
MAX_VISIBLE_TURNS = 20
LOW_CONFIDENCE_COLOR = "#ff9e5e"
_STATE_TEXT = {
    PipelineState.IDLE: "Idle",
    PipelineState.LISTENING: "Listening...",
    PipelineState.TRANSCRIBING: "Transcribing...",
    PipelineState.THINKING: "Thinking...",
    PipelineState.SPEAKING: "Speaking...",
}
_STAGE_NAMES = {"image_preparation": "image", "full_answer": "answer", "first_audio": "speech"}


def finding_overlay_id(turn_id: int, number: int) -> str:
    """The overlay item id of finding ``number`` (1-based) of turn ``turn_id``."""
    return f"finding-{turn_id}-{number}"


def confidence_text(confidence: float | None) -> str:
    """ "high confidence (91 %)", "LOW confidence (32 %)", "confidence not estimated"."""
    if confidence is None:
        return "confidence not estimated"
    word = describe(confidence)
    return f"{word.upper() if word == 'low' else word} confidence ({confidence * 100:.0f} %)"


def timings_text(timings: dict[str, float]) -> str:
    """Per-stage seconds in pipeline order, e.g. "transcription 0.41 s · answer 2.10 s"."""
    parts = [
        f"{_STAGE_NAMES.get(s, s.replace('_', ' '))} {timings[s]:.2f} s"
        for s in STAGES
        if s in timings
    ]
    return " \u00b7 ".join(parts)


class FindingLabel(QLabel):
    """One numbered finding; hovering it highlights its box on the image."""

    hovered = Signal(object)  # overlay id, or None when the mouse leaves

    def __init__(self, overlay_id: str, text: str, parent: QWidget | None = None) -> None:
        super().__init__(text, parent)
        self.overlay_id = overlay_id
        self.setTextFormat(Qt.TextFormat.PlainText)  # model text is never markup
        self.setWordWrap(True)
        self.setCursor(Qt.CursorShape.PointingHandCursor)

    def enterEvent(self, event: QEnterEvent) -> None:  # noqa: N802 (Qt override)
        self.hovered.emit(self.overlay_id)
        super().enterEvent(event)

    def leaveEvent(self, event: QEvent) -> None:  # noqa: N802 (Qt override)
        self.hovered.emit(None)
        super().leaveEvent(event)


class TurnWidget(QFrame):
    """One exchange: transcript (editable, re-askable), answer, reasoning, findings, timings."""

    reask = Signal(str)
    finding_hovered = Signal(object)

    def __init__(self, turn_id: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.turn_id = turn_id
        self.setObjectName("turn")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        col = QVBoxLayout(self)
        col.setContentsMargins(6, 6, 6, 6)
        row = QHBoxLayout()
        self.transcript = QLineEdit(self)
        self.transcript.setPlaceholderText("(listening...)")
        self.transcript.returnPressed.connect(self._reask)
        self.reask_button = QPushButton("Ask again", self)
        self.reask_button.setToolTip("Send the (edited) text again")
        self.reask_button.clicked.connect(self._reask)
        row.addWidget(self.transcript, 1)
        row.addWidget(self.reask_button)
        col.addLayout(row)
        self.answer = _label(self, "answer")
        self.answer.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.model = _label(self, "model")
        self.model.setStyleSheet("color: #9aa4b5;")
        self.reasoning_toggle = QToolButton(self)
        self.reasoning_toggle.setText("Reasoning")
        self.reasoning_toggle.setCheckable(True)
        self.reasoning_toggle.setArrowType(Qt.ArrowType.RightArrow)
        self.reasoning_toggle.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.reasoning_toggle.toggled.connect(self._toggle_reasoning)
        self.reasoning = _label(self, "reasoning")
        self.reasoning.setStyleSheet("color: #b8c0cc; font-style: italic;")
        self.findings_box = QWidget(self)
        self.findings_layout = QVBoxLayout(self.findings_box)
        self.findings_layout.setContentsMargins(0, 0, 0, 0)
        self.finding_labels: list[FindingLabel] = []
        self.messages = _label(self, "messages")
        self.messages.setStyleSheet("color: #ffb3b3;")
        self.timings = _label(self, "timings")
        self.timings.setStyleSheet("color: #7f8898; font-size: 10px;")
        parts: tuple[QWidget, ...] = (self.answer, self.model, self.reasoning_toggle)
        for w in (*parts, self.reasoning, self.findings_box, self.messages, self.timings):
            col.addWidget(w)
        for w in (self.reasoning_toggle, self.reasoning, self.findings_box, self.model):
            w.hide()
        self._streamed = ""
        self._plain_answer = ""
        #: The sentence being spoken, shown in bold.
        self.speaking = ""

    def _reask(self) -> None:
        text = self.transcript.text().strip()
        if text:
            self.reask.emit(text)

    def _toggle_reasoning(self, shown: bool) -> None:
        self.reasoning.setVisible(shown)
        arrow = Qt.ArrowType.DownArrow if shown else Qt.ArrowType.RightArrow
        self.reasoning_toggle.setArrowType(arrow)

    def append_token(self, text: str) -> None:
        """Raw model text as it streams (replaced by the parsed answer when it is ready)."""
        self._streamed += text
        self.answer.setStyleSheet("color: #9aa4b5;")
        self.answer.setTextFormat(Qt.TextFormat.PlainText)
        self.answer.setText(self._streamed)

    def show_speaking(self, sentence: str) -> None:
        """Emphasise the sentence being spoken ("" when speech is over)."""
        self.speaking = sentence
        text = self.answer.text()
        if self.answer.textFormat() != Qt.TextFormat.PlainText:
            text = self._plain_answer  # an earlier sentence is marked
        at = text.find(sentence) if sentence else -1
        if at < 0:
            self.answer.setTextFormat(Qt.TextFormat.PlainText)
            self.answer.setText(text)
            return
        self._plain_answer = text
        end = at + len(sentence)
        marked = f"{html.escape(text[:at])}<b>{html.escape(text[at:end])}</b>"
        self.answer.setTextFormat(Qt.TextFormat.RichText)
        self.answer.setText(marked + html.escape(text[end:]))

    def show_record(self, rec: TurnRecord) -> None:
        if rec.transcript and not self.transcript.hasFocus():
            self.transcript.setText(rec.transcript)
            self.transcript.setCursorPosition(0)  # show the start of a long question
        if rec.kind == "command" and rec.command is not None:
            self.answer.setStyleSheet("color: #9aa4b5;")
            self.answer.setText(f"Command: {str(rec.command.action).replace('_', ' ')}")
        answer = rec.answer
        if answer is not None:
            # The answer is never shown without the model that gave it.
            name = rec.model or answer.model or "unknown model"
            self.model.setText(f"Model: {name}  \u00b7  {confidence_text(answer.confidence)}")
            self.model.show()
            self.answer.setStyleSheet("")
            self.answer.setTextFormat(Qt.TextFormat.PlainText)
            self.answer.setText(answer.answer or "(no answer text)")
            if self.speaking:
                self.show_speaking(self.speaking)
            self.reasoning.setText(answer.reasoning)
            self.reasoning_toggle.setVisible(bool(answer.reasoning))
            self.reasoning.setVisible(bool(answer.reasoning) and self.reasoning_toggle.isChecked())
            self._show_findings(rec.turn_id, answer.findings)
        notes = list(rec.messages)
        if answer is not None:
            notes += [w for w in answer.warnings if w not in notes]
        if rec.error and rec.error not in notes:
            notes.append(rec.error)
        self.messages.setText("\n".join(notes))
        self.messages.setVisible(bool(notes))
        self.timings.setText(timings_text(rec.timings))
        self.timings.setVisible(bool(rec.timings))

    def _show_findings(self, turn_id: int, findings: Sequence[Finding]) -> None:
        if self.finding_labels:
            return  # an answer's findings do not change once shown
        for n, finding in enumerate(findings, start=1):
            where = f", slice {finding.slice_index + 1}" if finding.slice_index is not None else ""
            text = f"{n}. {finding.label}{where} \u2014 {confidence_text(finding.confidence)}"
            label = FindingLabel(finding_overlay_id(turn_id, n), text, self.findings_box)
            if finding.confidence is not None and describe(finding.confidence) == "low":
                label.setStyleSheet(f"color: {LOW_CONFIDENCE_COLOR};")
            label.hovered.connect(self.finding_hovered)
            self.findings_layout.addWidget(label)
            self.finding_labels.append(label)
        self.findings_box.setVisible(bool(findings))

    def select_finding(self, number: int) -> str | None:
        """Emphasise finding ``number``; returns its overlay id (None if there is none)."""
        hit = None
        for n, label in enumerate(self.finding_labels, start=1):
            label.setProperty("selected", n == number)
            font = label.font()
            font.setBold(n == number)
            label.setFont(font)
            hit = label.overlay_id if n == number else hit
        return hit


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
        self.state_label = QLabel(_STATE_TEXT[PipelineState.IDLE], self)
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
        self.notice = _label(self, "notice")
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

    def set_talk_key(self, key_text: str) -> None:
        self.talk_button.setToolTip(f"Hold to talk (or hold {key_text} / the mouse's side button)")

    # -- shown state ---------------------------------------------------------------------------
    def set_state(self, state: PipelineState) -> None:
        self.state = state
        self.state_label.setText(_STATE_TEXT[state])
        self.cancel_button.setEnabled(state != PipelineState.IDLE)

    def set_remote_server(self, host: str | None) -> None:
        """Mark, permanently, that questions and images go to the site server ``host``."""
        from voxrad.assistant.privacy import remote_notice

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


def _label(parent: QObject, name: str) -> QLabel:
    label = QLabel("", parent)  # type: ignore[call-overload]
    label.setObjectName(name)
    label.setTextFormat(Qt.TextFormat.PlainText)  # model and transcript text is never markup
    label.setWordWrap(True)
    return label
