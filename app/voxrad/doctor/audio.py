"""Microphone, speakers and text-to-speech voices."""

from __future__ import annotations

import importlib.util
import sys
from typing import Any

from voxrad.doctor.check import Check, Status
from voxrad.doctor.child import ChildCrashedError, ChildTimeoutError, run_child

AUDIO = "audio"
TTS = "tts"

_TYPING = "Typing questions and commands still works."


def _portaudio_hint() -> str:
    if sys.platform.startswith("linux"):
        return f"Install PortAudio: sudo apt install libportaudio2. {_TYPING}"
    if sys.platform == "darwin":
        return f"Install PortAudio: brew install portaudio. {_TYPING}"
    return f"Reinstall VoxRad's speech extra: pip install 'voxrad[speech]'. {_TYPING}"


def assess_audio(info: dict[str, Any]) -> Check:
    """Turn the child's device list into a check: no microphone is a warning, not a problem."""
    if "error" in info:
        kind = info.get("error_type", "")
        if kind in ("ModuleNotFoundError", "ImportError"):
            return Check(
                AUDIO,
                Status.WARNING,
                "sounddevice is not installed: push-to-talk is unavailable",
                info,
                f"Install it with: pip install 'voxrad[speech]'. {_TYPING}",
            )
        return Check(
            AUDIO,
            Status.WARNING,
            f"the audio system could not start ({kind}: {info['error']}): "
            "push-to-talk is unavailable",
            info,
            _portaudio_hint(),
        )
    default_in = info.get("default_input")
    default_out = info.get("default_output")
    if not info.get("inputs") or default_in is None:
        return Check(
            AUDIO,
            Status.WARNING,
            "no microphone (no audio input device): push-to-talk is unavailable",
            info,
            "Connect a microphone or headset and check it is enabled in the system sound "
            f"settings. {_TYPING}",
        )
    mic = f"microphone: {default_in['name']}"
    if not info.get("outputs") or default_out is None:
        return Check(
            AUDIO,
            Status.WARNING,
            f"{mic}; no speaker (no audio output device): answers are not read aloud",
            info,
            "Connect speakers or a headset to hear answers; they are always shown on screen.",
        )
    return Check(AUDIO, Status.OK, f"{mic}; speaker: {default_out['name']}", info, hint="")


def check_audio(*, timeout: float = 10.0) -> Check:
    """List audio devices through sounddevice/PortAudio in a child process."""
    try:
        info = run_child("audio", timeout=timeout)
    except ChildTimeoutError:
        return Check(
            AUDIO,
            Status.WARNING,
            f"the audio system did not answer within {timeout:g} s: push-to-talk may not work",
            {"timeout_seconds": timeout},
            f"Restart the workstation's audio service or the workstation. {_TYPING}",
        )
    except ChildCrashedError as exc:
        return Check(
            AUDIO,
            Status.WARNING,
            f"listing audio devices crashed ({exc}): push-to-talk may not work",
            {"returncode": exc.returncode, "stderr": exc.stderr_tail},
            _portaudio_hint(),
        )
    return assess_audio(info)


def _tts_engine_hint() -> str:
    if sys.platform.startswith("linux"):
        return "Install espeak-ng: sudo apt install espeak-ng. Answers are always shown on screen."
    if sys.platform == "win32":
        return (
            "Check that Windows speech (SAPI5) voices are installed: Settings > Time & "
            "language > Speech. Answers are always shown on screen."
        )
    return "Check the system voices in System Settings > Accessibility > Spoken Content."


def is_english(voice: dict[str, Any]) -> bool:
    """True for a voice whose language or id says English (``en``, ``en-us``, ``gmw/en``)."""
    tags = [str(x).lower() for x in voice.get("languages", [])]
    tags += [str(voice.get("id", "")).lower().rsplit("/", 1)[-1]]
    name = str(voice.get("name", "")).lower()
    return any(t == "en" or t.startswith(("en-", "en_")) for t in tags) or "english" in name


def assess_tts(info: dict[str, Any]) -> Check:
    """Turn the child's voice list and test synthesis into a check."""
    if "error" in info:
        kind = info.get("error_type", "")
        if kind == "ModuleNotFoundError" and "pyttsx3" in str(info.get("error")):
            return Check(
                TTS,
                Status.WARNING,
                "pyttsx3 is not installed: answers are not read aloud",
                info,
                "Install it with: pip install 'voxrad[speech]'. Answers are always shown on "
                "screen.",
            )
        return Check(
            TTS,
            Status.WARNING,
            f"the speech engine could not start ({kind}: {info['error']}): "
            "answers are not read aloud",
            info,
            _tts_engine_hint(),
        )
    voices = info.get("voices", [])
    english = [v for v in voices if is_english(v)]
    detail = {k: v for k, v in info.items() if k != "voices"}
    # A Linux espeak-ng lists 100+ voices: keep the report short, the count tells the rest.
    detail["voice_count"] = len(voices)
    detail["english_voices"] = [v["id"] for v in english][:20]
    engine = info.get("driver") or "speech engine"
    if not voices:
        return Check(
            TTS, Status.WARNING, f"{engine}: no voices installed", detail, _tts_engine_hint()
        )
    if not info.get("synthesized_bytes"):
        return Check(
            TTS,
            Status.WARNING,
            f"{engine}: {len(voices)} voices, but a test phrase produced no sound data",
            detail,
            _tts_engine_hint(),
        )
    if not english:
        return Check(
            TTS,
            Status.WARNING,
            f"{engine}: {len(voices)} voices, none English: answers are read in another voice",
            detail,
            "Install an English voice for the speech engine.",
        )
    return Check(
        TTS,
        Status.OK,
        f"{engine}: {len(voices)} voices, {len(english)} English; test phrase synthesised",
        detail,
    )


def check_tts(*, timeout: float = 10.0) -> Check:
    """Start pyttsx3 in a child process (speech drivers can hang) and assess its voices."""
    if importlib.util.find_spec("pyttsx3") is None:
        return assess_tts(
            {"error": "No module named 'pyttsx3'", "error_type": "ModuleNotFoundError"}
        )
    try:
        info = run_child("tts", timeout=timeout)
    except ChildTimeoutError:
        return Check(
            TTS,
            Status.WARNING,
            f"the speech engine did not answer within {timeout:g} s: answers may not be read aloud",
            {"timeout_seconds": timeout},
            _tts_engine_hint(),
        )
    except ChildCrashedError as exc:
        return Check(
            TTS,
            Status.WARNING,
            f"the speech engine crashed ({exc}): answers are not read aloud",
            {"returncode": exc.returncode, "stderr": exc.stderr_tail},
            _tts_engine_hint(),
        )
    return assess_tts(info)


WAKE = "wake"


def check_wake() -> Check:
    """How the hands-free wake phrase is matched: by sound (espeak-ng) or by letter rules."""
    from voxrad.backends.asr.wake import Phonemizer
    from voxrad.core.settings import load_settings

    phrase = load_settings().audio.wake_phrase
    phonemizer = Phonemizer()
    sounds = " ".join(phonemizer([phrase])[0]) if phrase.strip() else ""
    info = {"phrase": phrase, "phonemes": sounds, "source": phonemizer.source}
    if phonemizer.binary is not None:
        return Check(
            WAKE, Status.OK, f"wake phrase {phrase!r} matched by sound (espeak-ng: {sounds})", info
        )
    if sys.platform.startswith("linux"):
        how = "sudo apt install espeak-ng"
    elif sys.platform == "darwin":
        how = "brew install espeak-ng"
    else:
        how = "install espeak-ng from its GitHub releases and put it on PATH"
    return Check(
        WAKE,
        Status.WARNING,
        f"espeak-ng was not found: the wake phrase {phrase!r} is matched by spelling rules, "
        "which catch fewer of the recogniser's spellings",
        info,
        f"For hands-free use, {how}. Push-to-talk does not need it.",
    )
