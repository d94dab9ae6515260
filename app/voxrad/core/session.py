"""What is on screen, as one Qt-free evented model (napari's ``ViewerModel`` pattern).

The viewer writes the clinician's intent here (the study shown, the slice, the window, a
picked region); the assistant reads it when a question is asked, never a widget; widgets
observe it (the findings boxes, the assistant's stage). Every field is read as one frozen
:class:`ViewContext` snapshot, so a question always gets the view that was on screen when it
was asked, consistent in itself, from any thread.

Writers run on one thread (the GUI's); readers may run on any. Observers are called on the
writer's thread after the change, outside the lock, in the order they connected; an observer
that must touch widgets from another thread's change hands the work on itself (a queued
signal). A failing observer is logged and the others still run.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Literal

from voxrad.core.conversation import Box, Finding, QuestionScope
from voxrad.core.study import PatientIdentity, SeriesInfo
from voxrad.core.volume import Volume

logger = logging.getLogger(__name__)

#: What a change was: observers connect to one of these names.
SessionEvent = Literal["study", "slice", "window", "region", "findings", "stage"]
EVENTS: tuple[SessionEvent, ...] = ("study", "slice", "window", "region", "findings", "stage")


@dataclass(frozen=True)
class ViewContext:
    """What the clinician is looking at when a question is asked.

    ``region`` is a box in pixels of acquired slice ``slice_index`` (click-to-ask); ``scope``
    "volume" asks about the whole series. ``volume`` is None when no study is open: questions
    then get a clear message, commands still reach the viewer (which ignores what it cannot do).

    ``identity`` (the open study's identifying header values) tells the privacy gate what to
    strip from a question before it leaves; ``series`` (the shown series' header summary)
    gives the audit log its UIDs (hashed) and says whether the pixels may carry burned-in
    text. Both are None when unknown (no study, a preview while loading, a non-DICOM image).
    No UID is copied onto the question itself: questions are saved with the conversation,
    which keeps no UID in clear.
    """

    volume: Volume | None
    slice_index: int = 0
    region: Box | None = None
    scope: QuestionScope = "slice"
    window: tuple[float, float] | None = None
    identity: PatientIdentity | None = None
    series: SeriesInfo | None = None


@dataclass(frozen=True)
class ShownFindings:
    """The findings of one answer drawn on the images: ``(slice, finding)`` pairs."""

    turn_id: int = 0
    findings: tuple[tuple[int, Finding], ...] = ()


@dataclass(frozen=True)
class SessionState:
    """Everything the session holds, at one moment."""

    view: ViewContext = ViewContext(None)
    #: A region picked for the next question: ``(slice, box)`` in acquired-slice pixels.
    region: tuple[int, Box] | None = None
    findings: ShownFindings = ShownFindings()
    #: The assistant's stage ("idle", "listening", "thinking", ...), for whoever shows it.
    stage: str = "idle"
    #: False while a preview (the first decoded slice) stands in for the series.
    loaded: bool = False


class Session:
    """The one evented model of what is on screen (see the module docstring)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._state = SessionState()
        self._observers: dict[SessionEvent, list[Callable[[SessionState], None]]] = {
            name: [] for name in EVENTS
        }

    # --- observing ---------------------------------------------------------------------------

    def connect(self, event: SessionEvent, observer: Callable[[SessionState], None]) -> None:
        """Call ``observer(state)`` after every change of kind ``event``."""
        if event not in self._observers:
            raise ValueError(f"unknown session event {event!r}; known: {', '.join(EVENTS)}")
        with self._lock:
            self._observers[event].append(observer)

    def disconnect(self, event: SessionEvent, observer: Callable[[SessionState], None]) -> None:
        with self._lock:
            self._observers[event].remove(observer)

    # --- reading (any thread) ----------------------------------------------------------------

    @property
    def state(self) -> SessionState:
        return self._state

    def question_view(self) -> ViewContext:
        """The view a question is about, taking the picked region with it: the next
        question is about the whole slice again."""
        with self._lock:
            state = self._state
            region = state.region
            if region is not None:
                self._state = replace(state, region=None)
        if region is None or state.view.volume is None:
            return state.view
        self._notify("region")
        k, box = region
        return replace(state.view, slice_index=k, region=box, scope="region")

    # --- writing (the viewer's thread) -------------------------------------------------------

    def show_study(
        self,
        volume: Volume | None,
        *,
        identity: PatientIdentity | None = None,
        series: SeriesInfo | None = None,
        loaded: bool = True,
    ) -> None:
        """A series is on screen (``loaded`` False: a preview while it loads). The region
        and the findings of the previous one are gone."""
        view = ViewContext(volume, identity=identity, series=series)
        self._set("study", view=view, region=None, findings=ShownFindings(), loaded=loaded)

    def show_slice(self, slice_index: int) -> None:
        view = self._state.view
        if view.slice_index != slice_index:
            self._set("slice", view=replace(view, slice_index=int(slice_index)))

    def show_window(self, center: float, width: float) -> None:
        window = (float(center), float(width))
        view = self._state.view
        if view.window != window:
            self._set("window", view=replace(view, window=window))

    def pick_region(self, slice_index: int, box: Box) -> None:
        """The next question is about ``box`` on acquired slice ``slice_index``."""
        self._set("region", region=(int(slice_index), box))

    def show_findings(self, turn_id: int, findings: tuple[tuple[int, Finding], ...]) -> None:
        """Answer ``turn_id``'s boxed findings are drawn (an empty tuple clears them)."""
        self._set("findings", findings=ShownFindings(turn_id, tuple(findings)))

    def set_stage(self, stage: str) -> None:
        if self._state.stage != stage:
            self._set("stage", stage=str(stage))

    # --- internals ---------------------------------------------------------------------------

    def _set(self, event: SessionEvent, **changes: Any) -> None:
        with self._lock:
            self._state = replace(self._state, **changes)
        self._notify(event)

    def _notify(self, event: SessionEvent) -> None:
        with self._lock:
            observers = list(self._observers[event])
            state = self._state
        for observer in observers:
            try:
                observer(state)
            except Exception:
                logger.exception("session observer failed on %s", event)
