"""``voxrad say TEXT``: speak a reply as VoxRad would, or write it to a WAV file."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "say",
        help="speak text with the configured voice (or save it as WAV)",
        description=(
            "Read TEXT aloud the way VoxRad reads answers: units and symbols in words "
            "('5 mm' -> '5 millimetres'), sentence by sentence, with the voice, rate and "
            "volume from settings."
        ),
    )
    p.add_argument("text", help='e.g. "A 5 mm nodule, -600 HU."')
    p.add_argument("--out", metavar="FILE.wav", help="write a WAV file instead of playing")
    p.add_argument("--show", action="store_true", help="also print the text as it is spoken")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from voxrad.assistant.speech.speakable import sentences, speakable
    from voxrad.audio.files import write_wav
    from voxrad.backends.tts.registry import create_speaker
    from voxrad.core.settings import load_settings

    settings = load_settings()
    parts = sentences(speakable(args.text))
    if args.show:
        for part in parts:
            print(part)
    speaker = create_speaker(settings.tts)
    speaker.load()
    try:
        if args.out:
            pieces = []
            rate = 22_050
            for part in parts:
                samples, rate = speaker.synthesize(part)
                pieces += [samples, np.zeros(int(0.15 * rate), np.float32)]
            audio = np.concatenate(pieces) if pieces else np.zeros(0, np.float32)
            path = write_wav(args.out, audio, rate)
            print(f"wrote {path} ({audio.size / rate:.2f} s)")
        else:
            speaker.say(parts)
    finally:
        speaker.close()
    return 0
