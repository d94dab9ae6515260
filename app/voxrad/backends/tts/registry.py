"""Text-to-speech engines by name, imported only when used."""

from __future__ import annotations

import importlib

from voxrad.backends.tts.base import Speaker
from voxrad.core.errors import BackendError
from voxrad.core.settings import TtsSettings

#: Engine name -> "module:factory"; the factory takes the TtsSettings.
SPEAKERS: dict[str, str] = {
    "pyttsx3": "voxrad.backends.tts.pyttsx3_engine:from_settings",
}


def create_speaker(settings: TtsSettings) -> Speaker:
    """A (not yet loaded) speaker for ``settings.backend``."""
    target = SPEAKERS.get(settings.backend)
    if target is None:
        known = ", ".join(sorted(SPEAKERS))
        raise BackendError(
            f"Unknown text-to-speech engine {settings.backend!r}.",
            hint=f"Set tts.backend to one of: {known}.",
        )
    module_name, _, attr = target.partition(":")
    speaker: Speaker = getattr(importlib.import_module(module_name), attr)(settings)
    return speaker
