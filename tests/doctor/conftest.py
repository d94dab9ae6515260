"""Audio environments for the doctor's audio probe: none at all, or a PulseAudio virtual mic.

Both are private to the test: PulseAudio runs with its own runtime folder and socket under
tmp_path, so it neither sees nor disturbs another PulseAudio on the machine.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest


def _hide_pulse(monkeypatch: pytest.MonkeyPatch, folder: Path) -> None:
    config = folder / "client.conf"
    config.write_text("autospawn = no\n")
    monkeypatch.setenv("PULSE_CLIENTCONFIG", str(config))
    monkeypatch.setenv("PULSE_SERVER", f"unix:{folder / 'no-such-socket'}")


@pytest.fixture
def no_sound_server(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """PortAudio sees only the machine's ALSA hardware (none here): no sound server to use."""
    _hide_pulse(monkeypatch, tmp_path)


@pytest.fixture
def virtual_microphone(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[str]:
    """A private PulseAudio with a null speaker and a virtual microphone; yields its socket."""
    exe = shutil.which("pulseaudio")
    if exe is None:
        pytest.fail("pulseaudio is not installed (dev.sh installs it)")
    runtime = tmp_path / "pulse"
    runtime.mkdir()
    socket = runtime / "native"
    env = {
        **os.environ,
        "HOME": str(runtime),
        "PULSE_RUNTIME_PATH": str(runtime),
        "PULSE_STATE_PATH": str(runtime),
    }
    # --daemonize=yes returns only once the daemon is ready (or has failed): no polling.
    subprocess.run(
        [
            exe,
            "-n",
            "--daemonize=yes",
            "--use-pid-file=yes",
            "--exit-idle-time=-1",
            f"--log-target=file:{runtime / 'log'}",
            f"--load=module-native-protocol-unix auth-anonymous=1 socket={socket}",
            "--load=module-null-sink sink_name=voxrad_speaker",
            "--load=module-virtual-source source_name=voxrad_mic master=voxrad_speaker.monitor",
        ],
        env=env,
        check=True,
        timeout=30,
    )
    pid = int((runtime / "pid").read_text().strip())
    monkeypatch.setenv("PULSE_SERVER", f"unix:{socket}")
    try:
        yield str(socket)
    finally:
        os.kill(pid, signal.SIGTERM)
