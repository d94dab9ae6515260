"""``voxrad listen``: one utterance from the microphone, transcribed and understood.

For checking a workstation's microphone, level and speech model without the GUI: speak after
"listening...", pause, and VoxRad prints what it heard and the command or question it makes
of it.
"""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "listen",
        help="record one utterance (hands-free), transcribe it and show the command",
        description=(
            "Listen on the configured microphone until a pause ends the utterance (hands-free "
            "voice activity detection), then transcribe it and parse it as VoxRad would."
        ),
    )
    p.add_argument("--device", help="input device name (default: audio.input_device)")
    p.add_argument("--timeout", type=float, default=30.0, help="give up after this many seconds")
    p.add_argument(
        "--wake-phrase",
        nargs="?",
        const="",
        default=None,
        metavar="PHRASE",
        help="require the wake phrase (the one in settings when PHRASE is omitted)",
    )
    p.add_argument("--list", action="store_true", help="only list the input devices")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import sys
    from typing import Any

    from voxrad.assistant.commands.grammar import CommandGrammar, split_wake_phrase
    from voxrad.audio.capture import record_utterance
    from voxrad.audio.devices import list_input_devices
    from voxrad.backends.asr.registry import create_transcriber
    from voxrad.cli.output import print_json
    from voxrad.core.settings import load_settings

    settings = load_settings()
    if args.list:
        devices = [d.to_dict() for d in list_input_devices()]
        if args.json:
            print_json(devices)
        else:
            for d in devices:
                mark = "*" if d["is_default"] else " "
                print(f"{mark} {d['name']} ({d['hostapi']}, {d['default_samplerate']:.0f} Hz)")
        return 0
    audio = settings.audio
    if args.device:
        audio = audio.model_copy(update={"input_device": args.device})
    wake = None
    if args.wake_phrase is not None:
        wake = args.wake_phrase or audio.wake_phrase
    transcriber = create_transcriber(settings.asr, settings.models.resolved_directory())
    transcriber.load()  # before listening, so the answer comes right after the pause
    try:

        def ready() -> None:
            print("listening... (speak, then pause)", file=sys.stderr, flush=True)

        utterance = record_utterance(audio, timeout=args.timeout, on_ready=ready)
        transcript = transcriber.transcribe(utterance.audio, wake_phrase=wake or "")
    finally:
        transcriber.close()
    text = transcript.text
    payload: dict[str, Any] = transcript.to_dict()
    payload["utterance"] = {
        "duration_s": round(utterance.duration, 3),
        "reason": utterance.reason,
        "clipped": utterance.clipped,
    }
    if wake is not None:
        rest = split_wake_phrase(
            text, wake, variants=audio.wake_variants, sensitivity=audio.wake_sensitivity
        )
        payload["wake_phrase_heard"] = rest is not None
        text = rest or ""
    parsed = CommandGrammar(settings.commands.synonyms).parse(text) if text else None
    payload["understood_as"] = {"kind": "nothing"} if parsed is None else parsed.to_dict()
    if args.json:
        print_json(payload)
        return 0
    print(transcript.text or "(no speech)")
    if utterance.clipped:
        print("warning: the input clipped; lower the microphone gain")
    print(f"understood as: {payload['understood_as']}")
    return 0
