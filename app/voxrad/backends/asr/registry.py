"""Speech recognition engines by name, imported only when used."""

from __future__ import annotations

import importlib
from pathlib import Path

from voxrad.backends.asr.base import Transcriber
from voxrad.core.errors import BackendError
from voxrad.core.settings import AsrSettings

#: Engine name -> "module:factory". The factory takes (AsrSettings, models_dir).
TRANSCRIBERS: dict[str, str] = {
    "faster-whisper": "voxrad.backends.asr.faster_whisper:from_settings",
}


def create_transcriber(settings: AsrSettings, models_dir: Path | None = None) -> Transcriber:
    """A (not yet loaded) transcriber for ``settings.backend``."""
    target = TRANSCRIBERS.get(settings.backend)
    if target is None:
        known = ", ".join(sorted(TRANSCRIBERS))
        raise BackendError(
            f"Unknown speech recognition engine {settings.backend!r}.",
            hint=f"Set asr.backend to one of: {known}.",
        )
    module_name, _, attr = target.partition(":")
    factory = getattr(importlib.import_module(module_name), attr)
    transcriber: Transcriber = factory(settings, models_dir)
    return transcriber
