"""Child process for the unplugged-microphone test (run by test_capture_pulse.py).

Runs in its own process because PortAudio 19.6's ALSA backend can spin forever, printing to
stderr, once its PulseAudio source vanishes; the test must not inherit that thread. Prints one
JSON line with what the app saw, then leaves with os._exit (no PortAudio teardown).
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from pulse import pulse_server

from voxrad.audio.capture import Microphone
from voxrad.core.settings import AudioSettings


def main(folder: str) -> None:
    errors: list[BaseException] = []
    failed = threading.Event()

    def on_error(err: BaseException) -> None:
        errors.append(err)
        failed.set()

    result: dict[str, object] = {}
    with pulse_server(Path(folder)) as server:
        mic = Microphone(
            AudioSettings(input_device="pulse"), on_utterance=lambda u: None, on_error=on_error
        )
        mic.start()
        mic.press()
        start = time.monotonic()
        server.pactl("unload-module", "module-null-sink")  # the microphone is pulled out
        result["reported"] = failed.wait(10)
        result["seconds"] = round(time.monotonic() - start, 2)
        result["error_type"] = type(errors[0]).__name__ if errors else None
        result["message"] = getattr(errors[0], "message", "") if errors else ""
        stopper = threading.Thread(target=mic.stop, daemon=True)
        stopper.start()
        stopper.join(5)
        result["stop_returned"] = not stopper.is_alive()
        print(json.dumps(result), flush=True)
        server.stop()
        os._exit(0)


if __name__ == "__main__":
    main(sys.argv[1])
