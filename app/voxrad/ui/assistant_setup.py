"""Builds the assistant for the main window from settings, and applies settings saved later.

Every backend is created and loaded on its own pipeline thread, so a missing model or
microphone never stops the window from opening: each becomes a message in the panel (a
missing model when the first question is asked; no microphone at start), and typing works.

Settings saved while VoxRad runs (Tools > Settings, the first-run set-up) apply at once
(:func:`apply_saved_settings`): the engines' factories read :attr:`LiveSettings.current`
when they build, so replacing it and reloading an engine builds the new one. Only the engines
whose settings changed reload, in the background; a question already running finishes on the
old engine, and the conversation stays as it is.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QMainWindow, QWidget

from voxrad.assistant.history.store import ConversationStore
from voxrad.assistant.loop.pipeline import PipelineOptions
from voxrad.assistant.loop.turns import Answerer
from voxrad.audio.endpointer import Mode
from voxrad.backends.asr.base import Transcriber
from voxrad.backends.tts.base import Speaker
from voxrad.core.errors import VoxRadError
from voxrad.core.settings import Settings
from voxrad.ui.assistant_bridge import AssistantBridge, update_talk_reminder
from voxrad.ui.main_window import MainWindow
from voxrad.ui.push_to_talk import MicrophoneFactory, MicrophoneLike

logger = logging.getLogger(__name__)

#: Builds a microphone from the settings and the (on_utterance, on_error) callbacks.
MicrophoneBuilder = Callable[
    [Settings, Callable[[Any], None], Callable[[VoxRadError], None]], MicrophoneLike
]


def remote_server_host(settings: Settings) -> str | None:
    """The site server's host when answers come from another computer, else None."""
    from urllib.parse import urlsplit

    from voxrad.backends.vlm.openai_compat import is_loopback

    if (
        settings.vlm.backend.lower() not in ("openai", "openai-compat")
        or not settings.vlm.server_url
    ):
        return None
    host = urlsplit(settings.vlm.server_url).hostname or ""
    return None if not host or is_loopback(host) else host


# --- the real engines (heavy imports inside, called on the pipeline's threads) ---------------


def _transcriber(settings: Settings) -> Transcriber:
    from voxrad.backends.asr.registry import create_transcriber

    return create_transcriber(settings.asr, settings.models.resolved_directory())


def _answerer(settings: Settings) -> Answerer:
    from voxrad.assistant.model_answerer import ModelAnswerer

    models_dir = settings.models.resolved_directory()
    return ModelAnswerer(settings.vlm, models_dir, privacy=settings.privacy)


def _speaker(settings: Settings) -> Speaker:
    from voxrad.backends.tts.registry import create_speaker

    return create_speaker(settings.tts)


def _microphone(
    settings: Settings,
    on_utterance: Callable[[Any], None],
    on_error: Callable[[VoxRadError], None],
) -> MicrophoneLike:
    from voxrad.audio.capture import Microphone

    mode: Mode = "hands_free" if settings.assistant.hands_free else "push_to_talk"
    return Microphone(settings.audio, on_utterance=on_utterance, on_error=on_error, mode=mode)


@dataclass(frozen=True)
class Engines:
    """Builds each engine from the settings current when it is built (tests pass fakes)."""

    transcriber: Callable[[Settings], Transcriber] = _transcriber
    answerer: Callable[[Settings], Answerer] = _answerer
    speaker: Callable[[Settings], Speaker] = _speaker
    microphone: MicrophoneBuilder = _microphone


def pipeline_options(settings: Settings) -> dict[str, Any]:
    """The :class:`PipelineOptions` fields that come from ``settings``."""
    prefs, audio = settings.assistant, settings.audio
    return {
        "busy_policy": prefs.busy_policy,
        "max_queued": prefs.max_queued,
        "history_turns": prefs.history_turns,
        "muted": prefs.muted,
        "wake_phrase": audio.wake_phrase if audio.require_wake_phrase else "",
        "wake_variants": tuple(audio.wake_variants),
        "wake_sensitivity": audio.wake_sensitivity,
        "synonyms": settings.commands.synonyms,
        "live_transcript": prefs.live_transcript,
        "live_transcript_interval_s": prefs.live_transcript_interval_s,
    }


# --- what a save changes -------------------------------------------------------------------

#: Audio fields the pipeline reads (from the next utterance on); the others shape the capture.
_PIPELINE_AUDIO = {"wake_phrase", "wake_variants", "wake_sensitivity", "require_wake_phrase"}


@dataclass(frozen=True)
class SettingsChanges:
    """What differs between the settings running and those just saved."""

    talk_key: bool = False
    side_button: bool = False
    #: Busy policy, history, wake phrase, synonyms (:meth:`AssistantPipeline.update_options`).
    options: bool = False
    #: Device, capture or hands-free mode: the microphone is opened again.
    microphone: bool = False
    asr: bool = False
    vlm: bool = False
    tts: bool = False
    #: "Start with speech muted" changed: a start-up default (the mute button mutes now).
    start_muted: bool = False
    #: What applies only when VoxRad restarts, in words.
    restart: tuple[str, ...] = ()

    @property
    def any(self) -> bool:
        return self.live or self.start_muted or bool(self.restart)

    @property
    def live(self) -> bool:
        """Anything applied to the running assistant."""
        engines = (self.asr, self.vlm, self.tts)
        return any((self.talk_key, self.side_button, self.options, self.microphone, *engines))


def compare_settings(old: Settings, new: Settings, *, speech_output: bool) -> SettingsChanges:
    """What to apply to go from ``old`` to ``new``.

    ``speech_output`` says whether the running pipeline speaks at all (it has no speech
    engine when it started with ``tts.enabled`` off): switching speech on or off therefore
    waits for a restart, and the voice of a pipeline that does not speak needs no reload.
    """
    a_old, a_new = old.assistant, new.assistant
    models_moved = old.models != new.models  # both model engines look in the models folder
    capture_old = old.audio.model_dump(exclude=_PIPELINE_AUDIO)
    capture_new = new.audio.model_dump(exclude=_PIPELINE_AUDIO)
    restart: list[str] = []
    if old.tts.enabled != new.tts.enabled:
        restart.append("spoken replies on/off")
    if old.logging != new.logging:
        restart.append("logging")  # the log handlers are set up once, at start
    return SettingsChanges(
        talk_key=a_old.push_to_talk_key != a_new.push_to_talk_key,
        side_button=a_old.side_button_talk != a_new.side_button_talk,
        options={**pipeline_options(old), "muted": None}
        != {**pipeline_options(new), "muted": None},
        microphone=capture_old != capture_new or a_old.hands_free != a_new.hands_free,
        asr=old.asr != new.asr or models_moved,
        # The answerer is built with the privacy settings too.
        vlm=old.vlm != new.vlm or old.privacy != new.privacy or models_moved,
        tts=speech_output
        and old.tts.model_dump(exclude={"enabled"}) != new.tts.model_dump(exclude={"enabled"}),
        start_muted=a_old.muted != a_new.muted,
        restart=tuple(restart),
    )


@dataclass(frozen=True)
class AppliedSettings:
    """The outcome of one apply, with the status-bar message."""

    changes: SettingsChanges
    microphone_opened: bool = True
    muted_at_start: bool = False

    def message(self) -> str:
        c = self.changes
        if not c.any:
            return "Settings saved (nothing changed)."
        words = ["Settings saved and applied." if c.live else "Settings saved."]
        reloading = [
            name
            for name, chosen in (
                ("speech model", c.asr),
                ("answer model", c.vlm),
                ("voice", c.tts),
            )
            if chosen
        ]
        if reloading:
            words.append(f"Loading in the background: {', '.join(reloading)}.")
        if not self.microphone_opened:
            words.append("The microphone could not be opened (see the assistant panel).")
        if c.start_muted:
            state = "muted" if self.muted_at_start else "unmuted"
            words.append(f"Speech starts {state} from the next start; the mute button works now.")
        if c.restart:
            words.append(f"Applies when VoxRad restarts: {', '.join(c.restart)}.")
        return " ".join(words)


class LiveSettings(QObject):
    """The settings the running assistant uses; the engines' factories read :attr:`current`.

    A child of the :class:`AssistantBridge` (found with ``findChild``), made by
    :func:`build_assistant`. The factories run on the pipeline's threads: :attr:`current` is
    replaced, never changed in place, so a factory sees either the old or the new settings.
    """

    def __init__(self, settings: Settings, engines: Engines) -> None:
        super().__init__()
        self.current = settings
        self.engines = engines
        #: Whether the pipeline has a speech engine (``tts.enabled`` when it was built).
        self.speech_output = settings.tts.enabled
        self.bridge: AssistantBridge | None = None

    def transcriber(self) -> Transcriber:
        return self.engines.transcriber(self.current)

    def answerer(self) -> Answerer:
        return self.engines.answerer(self.current)

    def speaker(self) -> Speaker:
        return self.engines.speaker(self.current)

    def microphone_factory(self) -> MicrophoneFactory:
        """A microphone factory for the current settings."""
        settings, build = self.current, self.engines.microphone
        return lambda on_utterance, on_error: build(settings, on_utterance, on_error)

    def attach(self, bridge: AssistantBridge) -> None:
        self.bridge = bridge
        self.setParent(bridge)

    def apply(self, new: Settings) -> AppliedSettings:
        """Make the running assistant use ``new`` (GUI thread; returns at once: engines
        reload on their own threads)."""
        bridge = self.bridge
        assert bridge is not None, "attach() the bridge first"
        changes = compare_settings(self.current, new, speech_output=self.speech_output)
        self.current = new  # before any reload is queued: the factories read it
        talk, pipeline = bridge.talk, bridge.pipeline
        if changes.talk_key:
            talk.set_talk_key(new.assistant.push_to_talk_key)
        if changes.side_button:
            talk.side_button_talk = new.assistant.side_button_talk
        if changes.talk_key or changes.side_button:
            update_talk_reminder(bridge)
        if changes.options:
            # Keeps the options settings do not hold (shutdown bound, speech text).
            pipeline.update_options(replace(pipeline.options, **pipeline_options(new)))
        opened = True
        if changes.microphone:
            opened = talk.replace_microphone(self.microphone_factory())
        if changes.asr or changes.vlm or changes.tts:
            pipeline.reload_models(asr=changes.asr, vlm=changes.vlm, tts=changes.tts, load_now=True)
        bridge.panel.set_remote_server(remote_server_host(new))
        logger.info("settings applied: %s", changes)
        return AppliedSettings(changes, opened, muted_at_start=new.assistant.muted)

    def model_installed(self, kind: str, name: str) -> bool:
        """A model was just installed: reload its engine if the settings name it (a load that
        failed for want of it is retried). True when a reload was started."""
        s = self.current
        vlm_named = s.vlm.model == name and s.vlm.backend.lower() not in ("openai", "openai-compat")
        asr = kind == "asr" and s.asr.model == name
        vlm = kind == "vlm" and vlm_named
        if asr or vlm:
            assert self.bridge is not None
            self.bridge.pipeline.reload_models(asr=asr, vlm=vlm, tts=False, load_now=True)
        return asr or vlm


def live_settings(window: QWidget) -> LiveSettings | None:
    """The running assistant's :class:`LiveSettings`, or None (no assistant)."""
    bridge = getattr(window, "assistant", None)
    if not isinstance(bridge, QObject):
        return None
    return bridge.findChild(LiveSettings)


def apply_saved_settings(window: QWidget, settings: Settings, *, quiet: bool = False) -> str:
    """Apply just-saved ``settings`` to the window's assistant and say what happened in the
    status bar (with ``quiet``, only when something changed). Returns the message; never
    raises (the settings are saved whatever happens here)."""
    live = live_settings(window)
    try:
        if live is None:
            message = "Settings saved; the assistant is not running, so they apply at restart."
            changed = True
        else:
            applied = live.apply(settings)
            message, changed = applied.message(), applied.changes.any
    except Exception as exc:  # a half-applied setting must not take the viewer down
        logger.exception("applying settings failed")
        message = (
            f"Settings saved, but applying them failed ({type(exc).__name__}); "
            "they apply when VoxRad restarts."
        )
        changed = True
    if isinstance(window, QMainWindow) and (changed or not quiet):
        window.statusBar().showMessage(message, 15_000)
    return message


def build_assistant(
    window: MainWindow,
    settings: Settings,
    *,
    talk_key: str | None = None,
    engines: Engines | None = None,
) -> AssistantBridge:
    """An :class:`AssistantBridge` over the ASR, VLM and TTS engines named in ``settings``.

    The ``assistant`` section sets the push-to-talk key (``talk_key`` overrides it), the
    side buttons, the busy policy, history, muting and hands-free listening. ``engines``
    builds the engines and the microphone (default: the real ones).

    Call :meth:`AssistantBridge.start` afterwards (models begin loading in the background).
    """
    if not getattr(window, "_applies_saved_settings", False):
        # Settings saved in the dialog apply at once to the running assistant (and, if it
        # could not start, the status bar says they apply at restart).
        window.settings_saved.connect(lambda new: apply_saved_settings(window, new))
        window._applies_saved_settings = True  # type: ignore[attr-defined]
    live = LiveSettings(settings, engines or Engines())
    prefs = settings.assistant
    store: ConversationStore | None
    try:
        store = ConversationStore()
    except VoxRadError as exc:
        logger.warning("conversations will not be saved: %s", exc.message)
        store = None
    bridge = AssistantBridge(
        window,
        window.conversation_panel,
        transcriber_factory=live.transcriber,
        answerer_factory=live.answerer,
        speaker_factory=live.speaker if live.speech_output else None,
        options=PipelineOptions(**pipeline_options(settings)),
        store=store,
        microphone_factory=live.microphone_factory(),
        talk_key=prefs.push_to_talk_key if talk_key is None else talk_key,
    )
    live.attach(bridge)
    bridge.talk.side_button_talk = prefs.side_button_talk
    update_talk_reminder(bridge)
    window.conversation_panel.set_remote_server(remote_server_host(settings))
    # The panel's button drives the pipeline's mute, so both start in step.
    window.conversation_panel.mute_button.setChecked(prefs.muted)
    if store is None:
        window.conversation_panel.set_notice("Saved conversations could not be opened.")
    window.assistant = bridge
    return bridge
