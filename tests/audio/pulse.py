"""A private PulseAudio server for tests: a virtual microphone fed from a null sink.

Audio played into the sink (``paplay``) comes out of the sink's monitor source, which the
server makes the default input, so VoxRad records it as if someone spoke into a microphone.
Each server has its own runtime folder and socket: it never touches a user's sound setup.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

SINK = "voxrad_mic_feed"
_ENV_KEYS = ("PULSE_SERVER", "PULSE_RUNTIME_PATH", "PULSE_STATE_PATH", "PULSE_CONFIG_PATH")


@dataclass
class PulseServer:
    env: dict[str, str]
    process: subprocess.Popen[str]
    drain: threading.Thread | None = None

    def play(self, wav: Path) -> subprocess.Popen[bytes]:
        """Start playing ``wav`` into the virtual microphone."""
        return subprocess.Popen(["paplay", f"--device={SINK}", str(wav)], env=self.env)

    def pactl(self, *args: str) -> str:
        return subprocess.run(
            ["pactl", *args], env=self.env, check=True, capture_output=True, text=True, timeout=10
        ).stdout

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        if self.drain is not None:
            self.drain.join(5)
        if self.process.stderr is not None:
            self.process.stderr.close()


def _drain(process: subprocess.Popen[str]) -> None:
    assert process.stderr is not None
    for _ in process.stderr:
        pass


def _reinit_portaudio() -> None:
    # PortAudio caches the device list from its first initialisation; the ALSA "pulse"
    # device must see the new server.
    import sounddevice as sd

    sd._terminate()
    sd._initialize()


@contextmanager
def pulse_server(folder: Path) -> Iterator[PulseServer]:
    """Run PulseAudio in ``folder`` with a virtual microphone; point this process at it."""
    for tool in ("pulseaudio", "pactl", "paplay"):
        if shutil.which(tool) is None:
            raise RuntimeError(f"{tool} is missing: run ./dev.sh setup")
    runtime = folder / "pulse"
    runtime.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env.update(
        HOME=str(folder),
        XDG_RUNTIME_DIR=str(folder),
        XDG_CONFIG_HOME=str(folder / "config"),
        PULSE_RUNTIME_PATH=str(runtime),
        PULSE_STATE_PATH=str(folder / "state"),
        PULSE_SERVER=f"unix:{runtime / 'native'}",
    )
    env.pop("PULSE_CONFIG_PATH", None)
    process = subprocess.Popen(
        [
            "pulseaudio",
            "-n",  # no default.pa: only the modules below (no hardware probing)
            "--daemonize=no",
            "--system=false",
            "--exit-idle-time=-1",
            "--disallow-exit",
            "--log-target=stderr",
            "--log-level=info",
            f"--load=module-native-protocol-unix socket={runtime / 'native'} auth-anonymous=1",
            f"--load=module-null-sink sink_name={SINK} rate=16000 channels=1",
        ],
        env=env,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    assert process.stderr is not None
    # Wait for the server's own "startup complete" line (blocking reads, bounded by a timer).
    timer = threading.Timer(30.0, process.kill)
    timer.start()
    log = []
    try:
        for line in process.stderr:
            log.append(line)
            if "Daemon startup complete" in line:
                break
    finally:
        timer.cancel()
    if process.poll() is not None:
        raise RuntimeError("PulseAudio did not start:\n" + "".join(log[-20:]))
    # Keep draining its log so the pipe never fills and blocks the server.
    drain = threading.Thread(target=_drain, args=(process,), daemon=True)
    drain.start()
    server = PulseServer(env, process, drain)
    server.pactl("set-default-source", f"{SINK}.monitor")
    server.pactl("set-default-sink", SINK)
    saved = {k: os.environ.get(k) for k in (*_ENV_KEYS, "XDG_RUNTIME_DIR")}
    os.environ["PULSE_SERVER"] = env["PULSE_SERVER"]
    os.environ["PULSE_RUNTIME_PATH"] = env["PULSE_RUNTIME_PATH"]
    os.environ["XDG_RUNTIME_DIR"] = env["XDG_RUNTIME_DIR"]
    _reinit_portaudio()
    try:
        yield server
    finally:
        server.stop()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        _reinit_portaudio()
