import sys
from pathlib import Path

import pytest

# Shared helpers: tests/speech_support.py and the PulseAudio fixture in tests/audio/pulse.py.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "audio"))


# Module scope: the server and the PULSE_SERVER it sets last only while one test module runs,
# so tests elsewhere still see this machine's real (absent) sound devices.
@pytest.fixture(scope="module")
def pulse(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """A private PulseAudio server with a null sink as the default output."""
    from pulse import pulse_server

    with pulse_server(tmp_path_factory.mktemp("pa-tts")) as server:
        yield server
