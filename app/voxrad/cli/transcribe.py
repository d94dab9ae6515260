"""``voxrad transcribe FILE.wav``: speech to text with the configured (or given) model."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "transcribe",
        help="transcribe a WAV file with the speech model",
        description=(
            "Transcribe FILE (WAV, any sample rate) with faster-whisper as VoxRad would: "
            "VAD filter, hallucination guard and medical vocabulary biasing. Prints the text, "
            "language, duration and per-stage timings, and the voice command it would trigger."
        ),
    )
    p.add_argument("file", help="a WAV file")
    p.add_argument("--model", help="model name or folder (default: asr.model in settings)")
    p.add_argument(
        "--context",
        action="append",
        default=[],
        metavar="WORD",
        help="a word to favour, as if it came from the open study (repeatable)",
    )
    p.add_argument(
        "--wake-phrase",
        nargs="?",
        const="",
        metavar="PHRASE",
        help="decide, as hands-free listening does, whether the recording starts with the wake "
        "phrase (the one in settings when PHRASE is omitted); reports woke and what followed",
    )
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], help="override asr.device")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import time

    from voxrad.assistant.commands.grammar import CommandGrammar
    from voxrad.audio.files import read_wav
    from voxrad.backends.asr.registry import create_transcriber
    from voxrad.cli.output import print_json
    from voxrad.core.settings import load_settings

    settings = load_settings()
    asr = settings.asr
    if args.model:
        asr = asr.model_copy(update={"model": args.model})
    if args.device:
        asr = asr.model_copy(update={"device": args.device})
    samples, rate = read_wav(args.file)
    transcriber = create_transcriber(asr, settings.models.resolved_directory())
    start = time.perf_counter()
    transcriber.load()
    load_s = time.perf_counter() - start
    wake = None if args.wake_phrase is None else (args.wake_phrase or settings.audio.wake_phrase)
    try:
        transcript = transcriber.transcribe(
            samples, sample_rate=rate, context=args.context, wake_phrase=wake or ""
        )
    finally:
        transcriber.close()
    payload = transcript.to_dict()
    request = transcript.text
    if wake is not None:
        from voxrad.backends.asr.wake import detector

        audio = settings.audio
        start = time.perf_counter()
        match = detector(wake, tuple(audio.wake_variants), audio.wake_sensitivity).match(request)
        decide_s = time.perf_counter() - start
        payload["wake_phrase"] = wake
        payload["woke"] = match.woke
        payload["heard_as_wake_phrase"] = match.heard
        payload["wake_score"] = match.score
        payload["after_wake_phrase"] = match.rest if match.woke else ""
        payload["timings_s"]["wake_decision"] = round(decide_s, 4)
        request = match.rest if match.woke else ""
    parsed = CommandGrammar(settings.commands.synonyms).parse(request) if request else None
    payload["timings_s"] = {"load": round(load_s, 4), **payload["timings_s"]}
    payload["understood_as"] = {"kind": "nothing"} if parsed is None else parsed.to_dict()
    if args.json:
        print_json(payload)
        return 0
    print(transcript.text if transcript.text else "(no speech)")
    print(
        f"language: {transcript.language}  duration: {transcript.duration:.2f} s  "
        f"speech: {transcript.speech_duration:.2f} s"
    )
    print("timings: " + ", ".join(f"{k} {v:.3f} s" for k, v in payload["timings_s"].items()))
    if wake is not None:
        if payload["woke"]:
            print(f"woke: yes (heard {payload['heard_as_wake_phrase']!r} as {wake!r})")
        else:
            print(f"woke: no ({wake!r} was not heard at the start; room talk is ignored)")
    understood = payload["understood_as"]
    if understood["kind"] == "command":
        print(f"command: {understood['action']} {understood['args'] or ''}".rstrip())
    elif understood["kind"] == "question":
        print("question for the model")
    return 0
