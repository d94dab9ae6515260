"""The Qt side of the assistant: owns the pipeline, acts on the viewer, feeds the panel.

The pipeline is Qt-free and calls back on its own threads. This adapter:

* implements :class:`~voxrad.assistant.loop.turns.ViewerActions`: ``apply_command`` re-emits the
  command as a queued signal (carried out on the GUI thread); what is on screen is the
  window's :class:`~voxrad.core.session.Session`, which the pipeline reads itself;
* re-emits every :class:`PipelineEvent` as a queued signal, so the panel is only touched on
  the GUI thread, and drops events of turns from before a clear or a study switch;
* puts each answer's findings in the session and draws them, as the session shows them, as
  numbered boxes on the slice they belong to.

Push-to-talk and the microphone live in :class:`~voxrad.ui.push_to_talk.PushToTalk`
(:attr:`AssistantBridge.talk`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QAction, QKeySequence

from voxrad.assistant.commands.grammar import Action, Command
from voxrad.assistant.history.store import ConversationStore, StudyConversation
from voxrad.assistant.loop.pipeline import AssistantPipeline, PipelineOptions
from voxrad.assistant.loop.turns import Answerer, PipelineEvent, TurnRecord
from voxrad.backends.asr.base import Transcriber
from voxrad.backends.asr.lexicon import study_words
from voxrad.backends.tts.base import Speaker
from voxrad.core.conversation import Box, Finding
from voxrad.core.errors import VoxRadError
from voxrad.core.overlay import OverlayBox
from voxrad.core.region import Region
from voxrad.core.session import SessionState
from voxrad.core.volume import Volume
from voxrad.ui.conversation_panel import ConversationPanel
from voxrad.ui.main_window import MainWindow
from voxrad.ui.menus import guarded
from voxrad.ui.push_to_talk import DEFAULT_TALK_KEY, MicrophoneFactory, PushToTalk
from voxrad.ui.turn_widget import finding_overlay_id
from voxrad.ui.viewer_commands import apply_viewer_command

logger = logging.getLogger(__name__)

#: A clicked point asks about this many pixels around it.
POINT_REGION_HALF = 16


class AssistantBridge(QObject):
    """Joins the :class:`AssistantPipeline` to a :class:`MainWindow` and its panel."""

    event_received = Signal(object)  # PipelineEvent, from pipeline threads
    command_received = Signal(object)  # Command, from the intake thread
    notice_posted = Signal(str)  # from any thread

    def __init__(
        self,
        window: MainWindow,
        panel: ConversationPanel,
        *,
        transcriber_factory: Callable[[], Transcriber] | None,
        answerer_factory: Callable[[], Answerer] | None,
        speaker_factory: Callable[[], Speaker] | None = None,
        options: PipelineOptions | None = None,
        store: ConversationStore | None = None,
        microphone_factory: MicrophoneFactory | None = None,
        talk_key: str = DEFAULT_TALK_KEY,
    ) -> None:
        super().__init__(window)
        self.window = window
        self.panel = panel
        self.area = window.view_area
        self.store = store
        self.conversation: StudyConversation | None = None
        self.session = window.session
        self._boxes: dict[str, OverlayBox] = {}
        self._overlays_visible = True
        self._stale_below = 0
        #: Answers to turns below this id were asked about another volume: no boxes drawn.
        self._draw_below = 0
        self._newest_id = 0
        self.last_asked = 0
        self.pipeline = AssistantPipeline(
            self,
            transcriber_factory=transcriber_factory,
            answerer_factory=answerer_factory,
            speaker_factory=speaker_factory,
            options=options,
        )
        queued = Qt.ConnectionType.QueuedConnection
        self.event_received.connect(self._on_event, queued)
        self.command_received.connect(self._on_command, queued)
        self.notice_posted.connect(self.panel.set_notice, queued)
        self.pipeline.add_listener(self.event_received.emit)
        panel.ask.connect(self.ask)
        panel.cancel_requested.connect(self.pipeline.cancel)
        panel.mute_toggled.connect(self.pipeline.set_muted)
        panel.clear_requested.connect(self.clear_conversation)
        panel.finding_hovered.connect(self._hover_finding)
        self.talk = PushToTalk(
            window,
            panel,
            self.pipeline,
            microphone_factory=microphone_factory,
            talk_key=talk_key,
        )
        self.menu_actions = build_assistant_menu(window, self)
        window.volume_loaded.connect(self._on_volume_loaded)
        window.region_picked.connect(self._on_region)
        self.session.connect("findings", self._on_findings)
        # A question took the picked region (on a pipeline thread): its notice goes.
        self.session.connect(
            "region", lambda state: self.notice_posted.emit("") if state.region is None else None
        )

    # -- life ----------------------------------------------------------------------------------
    def start(self, *, load_models: bool = True) -> None:
        """Start the pipeline threads and the microphone (its absence is a notice)."""
        self.pipeline.start(load_models=load_models)
        self.talk.start_microphone()

    def shutdown(self) -> None:
        """Stop the microphone and the pipeline (bounded), and close the store."""
        self.talk.shutdown()
        self.pipeline.remove_listener(self.event_received.emit)
        self.session.disconnect("findings", self._on_findings)
        self.pipeline.shutdown()
        if self.store is not None:
            self.store.close()

    # -- asking --------------------------------------------------------------------------------
    def ask(self, text: str) -> int:
        """A typed or re-asked command or question; returns the turn id."""
        turn_id = self.pipeline.submit_text(text)
        self._newest_id = max(self._newest_id, turn_id)
        self.last_asked = turn_id
        return turn_id

    def clear_conversation(self) -> None:
        self.pipeline.cancel()
        self.pipeline.clear_history()
        if self.conversation is not None:
            self.conversation.clear()
        self._forget_shown()

    def _forget_shown(self) -> None:
        self._stale_below = self._newest_id + 1
        self.panel.clear()
        self.session.show_findings(0, ())
        self.area.render_all()

    # -- ViewerActions (pipeline threads) ------------------------------------------------------
    def apply_command(self, command: Command) -> None:
        self.command_received.emit(command)

    # -- GUI thread ----------------------------------------------------------------------------
    def _on_event(self, event: PipelineEvent) -> None:
        self.panel.set_state(event.state)
        self.session.set_stage(event.state)
        if event.kind == "partial":
            # No turn: the pipeline drops partials of ended or cancelled utterances itself,
            # and clears the line ("") once their final transcript is known.
            self.panel.show_live_text(event.text)
            return
        rec = event.turn
        if rec is None:
            return
        self._newest_id = max(self._newest_id, rec.turn_id)
        if rec.turn_id < self._stale_below:
            return  # a turn from before a clear or a study switch
        if event.kind == "token":
            self.panel.append_token(rec.turn_id, event.text)
            return
        if event.kind == "sentence":
            self.panel.show_speaking(rec.turn_id, event.text)
            return
        self.panel.show_record(rec)
        if event.kind == "finished":
            self.panel.show_speaking(rec.turn_id, "")
        if event.kind == "answer":
            self._draw_findings(rec)

    def _draw_findings(self, rec: TurnRecord) -> None:
        answer, question = rec.answer, rec.question
        if answer is None or self.area.volume is None or rec.turn_id < self._draw_below:
            return
        shown: list[tuple[int, Finding]] = []
        for finding in answer.findings:
            if finding.box is None:
                continue
            k = finding.slice_index
            if k is None:
                k = question.slice_index if question is not None else 0
            shown.append((k, finding))
        self.session.show_findings(rec.turn_id, tuple(shown))

    def _on_findings(self, state: SessionState) -> None:
        """Draw the session's findings (GUI thread: the bridge writes them there)."""
        self._remove_boxes()
        drawn = state.findings
        for n, (k, finding) in enumerate(drawn.findings, start=1):
            b, oid = finding.box, finding_overlay_id(drawn.turn_id, n)
            assert b is not None  # only boxed findings are shown
            item = OverlayBox(oid, k, b.x0, b.y0, b.x1, b.y1, f"{n}. {finding.label}")
            self._boxes[item.id] = item
            if self._overlays_visible:
                self.area.layer.add(item)
        # This slot has filled the panel already: the views (the boxes' slice included) are
        # redrawn once on the next event-loop pass, so input is handled between the two.
        if drawn.findings:
            self.area.acquired_view().go_to(drawn.findings[0][0], render=False)
        self.area.render_later()

    def _remove_boxes(self) -> None:
        for item_id in self._boxes:
            self.area.layer.remove(item_id)
        self._boxes.clear()

    def _set_overlays(self, visible: bool) -> None:
        self._overlays_visible = visible
        for item in self._boxes.values():
            if visible:
                self.area.layer.add(item)
            else:
                self.area.layer.remove(item.id)
        self.area.render_all()

    def _hover_finding(self, overlay_id: str | None) -> None:
        if overlay_id is not None and self.area.layer.get(overlay_id) is not None:
            self.area.focus_overlay(overlay_id)
        elif overlay_id is None and self.area.layer.highlighted is not None:
            self.area.layer.highlight(None)
            self.area.render_all()

    def _on_command(self, command: Command) -> None:
        try:
            # The turn's events fill the panel in the same pass: the views redraw in the next.
            with self.area.renders_deferred():
                self._run_command(command)
        except VoxRadError as exc:
            self.panel.set_notice(exc.user_message())
        except Exception:
            logger.exception("viewer command %s failed", command.action)
            self.panel.set_notice("The viewer could not do that; see the log.")

    def _run_command(self, command: Command) -> None:
        a, area = command.action, self.area
        if a is Action.OVERLAYS:
            self._set_overlays(bool(command.arg("visible", True)))
            return
        if a is Action.SELECT_FINDING:
            number = int(command.arg("index", 1) or 1)
            item_id = self.panel.select_finding(number)
            if item_id is None or item_id not in self._boxes:
                raise VoxRadError(f"There is no finding {number} with a box in the last answer.")
            if not self._overlays_visible:
                self._set_overlays(True)
            area.focus_overlay(item_id)
            return
        apply_viewer_command(self.window, command)

    def _on_volume_loaded(self, volume: Volume) -> None:
        info = self.window.shown_series()[1]
        # Speech recognition favours the open study's words (README: "bias it"); a study
        # without a header summary (NIfTI, an image) still names its modality.
        if info is not None:
            words = study_words(info.modality, info.body_part, [info.description])
        else:
            words = study_words(volume.modality)
        self.pipeline.set_study_words(words)
        self._boxes.clear()  # set_volume already cleared the layer, show_study the findings
        self._draw_below = max(self._newest_id, self.last_asked) + 1
        if self.store is None or not self.window.study_path:
            return
        # Filed under the study's own UIDs (the store keeps only a salted hash), so the same
        # study opened from another folder or a PACS cache finds its conversation. Without
        # UIDs (NIfTI, an image file) the path and series number are all there is; they are
        # also what conversations were filed under before, moved on first load.
        by_path = f"{self.window.study_path}#series{self.window.series_number}"
        if info is not None and info.study_uid and info.uid:
            self.conversation = self.store.for_study(
                f"{info.study_uid}#{info.uid}", legacy_uid=by_path
            )
        else:
            self.conversation = self.store.for_study(by_path)
        try:
            history = self.conversation.load()
        except VoxRadError as exc:
            self.panel.set_notice(exc.user_message())
            history = []
        self.pipeline.open_conversation(history, self.conversation.append)
        self._forget_shown()
        self.panel.load(history)
        self._newest_id = max([self._newest_id, *(r.turn_id for r in history)])

    def _on_region(self, region: Region) -> None:
        volume = self.area.volume
        if volume is None:
            return
        acquired = self.area.acquired_view()
        if region.plane not in ("axial", "acquired") or acquired.plane != region.plane:
            self.panel.set_notice("Pick the region on the axial view to ask about it.")
            return
        k, x0, y0, x1, y1 = region.pixel_box()
        box = Box(x0, y0, x1, y1)
        if region.kind == "point":
            box = box.expanded(POINT_REGION_HALF)
        box = box.clipped(volume.shape[2], volume.shape[1])
        self.session.pick_region(k, box)
        self.panel.set_notice(f"Region on slice {k + 1} selected: the next question is about it.")


# --- the Assistant menu ------------------------------------------------------------------
def build_assistant_menu(win: MainWindow, bridge: AssistantBridge) -> dict[str, QAction]:
    """The Assistant menu: keyboard ways to ask, cancel, mute and clear (push-to-talk itself
    is a held key, handled by the bridge)."""
    panel = bridge.panel
    menu = win.menuBar().addMenu("&Assistant")
    actions: dict[str, QAction] = {}
    for name, text, slot, key in (
        ("ask", "&Type a question", panel.focus_input, "Ctrl+L"),
        ("cancel_answer", "&Cancel the answer", bridge.pipeline.cancel, "Ctrl+K"),
        ("mute", "&Mute speech", panel.mute_button.toggle, "Ctrl+M"),
        ("clear_conversation", "C&lear the conversation", bridge.clear_conversation, ""),
    ):
        action = QAction(text, win)
        if key:
            action.setShortcut(QKeySequence(key))
        action.triggered.connect(lambda _=False, t=text, s=slot: guarded(win, t, s))
        menu.addAction(action)
        win.addAction(action)
        actions[name] = action
    talk = menu.addAction(talk_reminder(bridge))
    talk.setEnabled(False)  # a reminder: a held key cannot be a menu shortcut
    actions["hold_to_talk"] = talk
    mute = actions["mute"]
    mute.setCheckable(True)
    panel.mute_button.toggled.connect(mute.setChecked)
    return actions


def talk_reminder(bridge: AssistantBridge) -> str:
    """The Assistant menu's "Hold to talk" line for the bridge's key and side-button setting."""
    talk = bridge.talk
    side = " / mouse side button" if talk.side_button_talk else ""
    return f"Hold to talk\t{talk.talk_key.toString()}{side}"


def update_talk_reminder(bridge: AssistantBridge) -> None:
    """Show the push-to-talk key now in use (after Settings changed it)."""
    action = bridge.menu_actions.get("hold_to_talk")
    if action is not None:
        action.setText(talk_reminder(bridge))
