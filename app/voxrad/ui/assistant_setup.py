"""Builds the assistant for the main window from settings, with the real backends.

Every backend is created and loaded on its own pipeline thread, so a missing model or
microphone never stops the window from opening: each becomes a message in the panel (a
missing model when the first question is asked; no microphone at start), and typing works.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from voxrad.assistant.pipeline import PipelineOptions
from voxrad.assistant.store import ConversationStore
from voxrad.audio.endpointer import Mode
from voxrad.core.errors import VoxRadError
from voxrad.core.settings import Settings
from voxrad.ui.assistant_bridge import AssistantBridge
from voxrad.ui.main_window import MainWindow
from voxrad.ui.push_to_talk import MicrophoneLike

logger = logging.getLogger(__name__)


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


def build_assistant(
    window: MainWindow, settings: Settings, *, talk_key: str | None = None
) -> AssistantBridge:
    """An :class:`AssistantBridge` over the ASR, VLM and TTS engines named in ``settings``.

    The ``assistant`` section sets the push-to-talk key (``talk_key`` overrides it), the
    side buttons, the busy policy, history, muting and hands-free listening.

    Call :meth:`AssistantBridge.start` afterwards (models begin loading in the background).
    """
    from voxrad.assistant.model_answerer import ModelAnswerer
    from voxrad.backends.asr.registry import create_transcriber
    from voxrad.backends.tts.registry import create_speaker

    models_dir = settings.models.resolved_directory()
    audio = settings.audio
    prefs = settings.assistant
    options = PipelineOptions(
        busy_policy=prefs.busy_policy,
        max_queued=prefs.max_queued,
        history_turns=prefs.history_turns,
        muted=prefs.muted,
        wake_phrase=audio.wake_phrase if audio.require_wake_phrase else "",
        synonyms=settings.commands.synonyms,
    )
    store: ConversationStore | None
    try:
        store = ConversationStore()
    except VoxRadError as exc:
        logger.warning("conversations will not be saved: %s", exc.message)
        store = None

    def microphone(
        on_utterance: Callable[[Any], None], on_error: Callable[[VoxRadError], None]
    ) -> MicrophoneLike:
        from voxrad.audio.capture import Microphone

        mode: Mode = "hands_free" if prefs.hands_free else "push_to_talk"
        return Microphone(audio, on_utterance=on_utterance, on_error=on_error, mode=mode)

    bridge = AssistantBridge(
        window,
        window.conversation_panel,
        transcriber_factory=lambda: create_transcriber(settings.asr, models_dir),
        answerer_factory=lambda: ModelAnswerer(settings.vlm, models_dir, privacy=settings.privacy),
        speaker_factory=(lambda: create_speaker(settings.tts)) if settings.tts.enabled else None,
        options=options,
        store=store,
        microphone_factory=microphone,
        talk_key=prefs.push_to_talk_key if talk_key is None else talk_key,
    )
    bridge.talk.side_button_talk = prefs.side_button_talk
    window.conversation_panel.set_remote_server(remote_server_host(settings))
    # The panel's button drives the pipeline's mute, so both start in step.
    window.conversation_panel.mute_button.setChecked(prefs.muted)
    if store is None:
        window.conversation_panel.set_notice("Saved conversations could not be opened.")
    window.assistant = bridge
    return bridge
