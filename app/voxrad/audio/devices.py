"""Input devices: listing them, and choosing the one named in settings.

sounddevice (PortAudio) is imported inside functions: ``import voxrad.audio`` must work on a
workstation without PortAudio, where typing still works.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from voxrad.core.errors import DependencyMissingError, MicrophoneError

logger = logging.getLogger(__name__)

SAMPLE_RATE = 16_000


@dataclass(frozen=True)
class InputDevice:
    """A device that can record, as PortAudio reports it."""

    index: int
    name: str
    channels: int
    default_samplerate: float
    hostapi: str
    is_default: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "name": self.name,
            "channels": self.channels,
            "default_samplerate": self.default_samplerate,
            "hostapi": self.hostapi,
            "is_default": self.is_default,
        }


def sounddevice_module() -> Any:
    """The sounddevice module, or a clear error when it or PortAudio is missing."""
    try:
        import sounddevice
    except ImportError as exc:
        raise DependencyMissingError("Microphone support (sounddevice)", "speech") from exc
    except OSError as exc:  # the wheel is there but the PortAudio library is not
        raise MicrophoneError(
            "The sound system library (PortAudio) is missing.",
            hint="Install PortAudio (Debian/Ubuntu: sudo apt install libportaudio2). "
            "Typing questions and commands still works.",
        ) from exc
    return sounddevice


def list_input_devices() -> list[InputDevice]:
    """Every device with at least one input channel, the system default marked."""
    sd = sounddevice_module()
    try:
        devices = sd.query_devices()
        hostapis = sd.query_hostapis()
        default_in = sd.default.device[0]
    except sd.PortAudioError as exc:
        raise MicrophoneError("The sound system could not list microphones.") from exc
    found = []
    for info in devices:
        if info["max_input_channels"] < 1:
            continue
        found.append(
            InputDevice(
                index=int(info["index"]),
                name=str(info["name"]),
                channels=int(info["max_input_channels"]),
                default_samplerate=float(info["default_samplerate"]),
                hostapi=str(hostapis[info["hostapi"]]["name"]),
                is_default=int(info["index"]) == default_in,
            )
        )
    return found


def find_input_device(name: str = "") -> InputDevice:
    """The device called ``name`` (case-insensitive, part of the name is enough).

    An empty ``name`` means the system default input (else the first input device).

    Raises
    ------
    MicrophoneError
        No input device at all, or none matching ``name`` (the message lists the others).
    """
    devices = list_input_devices()
    if not devices:
        raise MicrophoneError("No microphone was found on this workstation.")
    if not name.strip():
        return next((d for d in devices if d.is_default), devices[0])
    wanted = name.strip().lower()
    exact = [d for d in devices if d.name.lower() == wanted]
    partial = [d for d in devices if wanted in d.name.lower()]
    if exact or partial:
        return (exact or partial)[0]
    available = "; ".join(d.name for d in devices)
    raise MicrophoneError(
        f"The microphone {name!r} is not connected.",
        hint=(
            f"Plug it in, or choose another in settings (audio.input_device). "
            f"Available: {available}. Typing questions and commands still works."
        ),
    )


def capture_rate(device: InputDevice) -> int:
    """16 kHz when the device accepts it, else its own default rate (resampled later)."""
    sd = sounddevice_module()
    try:
        sd.check_input_settings(
            device=device.index, samplerate=SAMPLE_RATE, channels=1, dtype="float32"
        )
    except (sd.PortAudioError, ValueError):
        logger.info("audio: %s cannot record at 16 kHz; resampling", device.name)
        return int(device.default_samplerate)
    return SAMPLE_RATE
