"""One turn of the conversation as the panel shows it: transcript, answer, reasoning,
numbered findings with confidence, the model's name and per-stage timings."""

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
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from voxrad.assistant.checks.confidence import describe
from voxrad.assistant.loop.turns import STAGES, PipelineState, TurnRecord
from voxrad.core.conversation import Finding

logger = logging.getLogger(__name__)

DISCLAIMER = "Decision support, not a diagnosis"
#: Turns kept on screen; older ones stay in the saved conversation (and the model's history).
MAX_VISIBLE_TURNS = 20
LOW_CONFIDENCE_COLOR = "#ff9e5e"
STATE_TEXT = {
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
        self.answer = plain_label(self, "answer")
        self.answer.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.model = plain_label(self, "model")
        self.model.setStyleSheet("color: #9aa4b5;")
        self.reasoning_toggle = QToolButton(self)
        self.reasoning_toggle.setText("Reasoning")
        self.reasoning_toggle.setCheckable(True)
        self.reasoning_toggle.setArrowType(Qt.ArrowType.RightArrow)
        self.reasoning_toggle.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.reasoning_toggle.toggled.connect(self._toggle_reasoning)
        self.reasoning = plain_label(self, "reasoning")
        self.reasoning.setStyleSheet("color: #b8c0cc; font-style: italic;")
        self.findings_box = QWidget(self)
        self.findings_layout = QVBoxLayout(self.findings_box)
        self.findings_layout.setContentsMargins(0, 0, 0, 0)
        self.finding_labels: list[FindingLabel] = []
        self.messages = plain_label(self, "messages")
        self.messages.setStyleSheet("color: #ffb3b3;")
        self.timings = plain_label(self, "timings")
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
            text = answer.answer or "(no answer text)"
            # A fragment ends in an ellipsis; the cut-off note leads the notes below it.
            self.answer.setText(f"{text} \u2026" if answer.cut_off else text)
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


def plain_label(parent: QObject, name: str) -> QLabel:
    """A word-wrapped label that never interprets its text as markup."""
    label = QLabel("", parent)  # type: ignore[call-overload]
    label.setObjectName(name)
    label.setTextFormat(Qt.TextFormat.PlainText)  # model and transcript text is never markup
    label.setWordWrap(True)
    return label
