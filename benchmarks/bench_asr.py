"""VoxRad's transcription vs calling faster-whisper directly, same audio and model, same run.

Audio: 3-second utterances (espeak-ng questions and commands, padded with silence to 3.0 s).
Both sides use one loaded WhisperModel and the same decoding options (VAD filter, beam size,
thresholds, VoxRad's vocabulary prompt), so the ratio is VoxRad's own overhead: audio
conversion, prompt building, segment collection and the hallucination guard. Runs are
interleaved and each side's time is the median over ``--repeat`` rounds.

Also printed: the real-time factor (processing seconds per audio second) of the model on this
machine, faster-whisper's plain defaults for reference, and the hands-free end-of-utterance
decision time (audio time beyond the configured silence, and CPU per 32 ms VAD step).

Usage: python benchmarks/bench_asr.py [--model tiny.en|PATH] [--repeat N] [--json]
Targets (issue 4): overhead at most 10% (ratio <= 1.10); end-of-utterance decision at most
300 ms beyond the configured silence.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

SR = 16_000
UTTERANCES = (
    "Is there a pneumothorax in the left lung?",
    "Scroll down twenty slices.",
    "How large is the nodule in the right upper lobe?",
    "Is there a pleural effusion on the right?",
    "Switch to the bone window please.",
)


def synthesize(text: str, folder: Path) -> np.ndarray:
    """``text`` by espeak-ng at 16 kHz, padded or trimmed to exactly 3.0 s."""
    from scipy.io import wavfile

    raw, out = folder / "raw.wav", folder / "out.wav"
    subprocess.run(["espeak-ng", "-s", "160", "-w", str(raw), text], check=True)
    subprocess.run(["sox", str(raw), "-r", str(SR), "-c", "1", "-b", "16", str(out)], check=True)
    _, data = wavfile.read(out)
    audio = data.astype(np.float32) / 32768.0
    lead = np.zeros(int(0.2 * SR), np.float32)
    audio = np.concatenate([lead, audio, np.zeros(3 * SR, np.float32)])[: 3 * SR]
    return audio


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="tiny.en")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    for tool in ("espeak-ng", "sox"):
        if shutil.which(tool) is None:
            print(f"{tool} is required (./dev.sh setup installs it)", file=sys.stderr)
            return 2

    from voxrad.audio.endpointer import Endpointer
    from voxrad.audio.vad import StreamingVad
    from voxrad.backends.asr.faster_whisper import FasterWhisperTranscriber, WhisperOptions

    with tempfile.TemporaryDirectory() as tmp:
        clips = [synthesize(text, Path(tmp)) for text in UTTERANCES]

    voxrad = FasterWhisperTranscriber(WhisperOptions(model=args.model))
    voxrad.load()
    model = voxrad._model  # the very same loaded model for the direct calls
    opts = voxrad.options
    prompt = voxrad.prompt()

    own_ms: list[float] = []

    def run_voxrad(audio: np.ndarray) -> str:
        transcript = voxrad.transcribe(audio)
        t = transcript.timings
        # VoxRad's own code around the model: conversion, checks, prompt, guard.
        own_ms.append((t["total"] - t["features_vad"] - t["decode"]) * 1000)
        return transcript.text

    def run_direct(audio: np.ndarray) -> str:
        segments, _ = model.transcribe(
            audio,
            language=opts.language,
            beam_size=opts.beam_size,
            vad_filter=True,
            condition_on_previous_text=False,
            no_speech_threshold=opts.no_speech_threshold,
            log_prob_threshold=opts.log_prob_threshold,
            initial_prompt=prompt,
        )
        return " ".join(s.text.strip() for s in segments)

    def run_defaults(audio: np.ndarray) -> str:
        segments, _ = model.transcribe(audio, language=opts.language)
        return " ".join(s.text.strip() for s in segments)

    runners = {"voxrad": run_voxrad, "direct": run_direct, "fw_defaults": run_defaults}
    times: dict[str, list[float]] = {name: [] for name in runners}
    texts: dict[str, list[str]] = {name: [] for name in runners}
    for run in runners.values():  # one untimed pass each: caches, allocations
        run(clips[0])
    names = list(runners)
    for round_index in range(args.repeat):
        totals = dict.fromkeys(names, 0.0)
        for clip_index, clip in enumerate(clips):
            # Rotate who goes first for every clip: other processes on a shared machine
            # slow down whichever side happens to run at that moment, not always the same one.
            shift = (round_index + clip_index) % len(names)
            for name in names[shift:] + names[:shift]:
                start = time.perf_counter()
                text = runners[name](clip)
                totals[name] += time.perf_counter() - start
                if round_index == 0:
                    texts[name].append(text)
        for name in names:
            times[name].append(totals[name])
    audio_s = len(clips) * 3.0
    median = {name: statistics.median(values) for name, values in times.items()}

    # Hands-free: how long after the end of speech the utterance is declared over.
    speech = clips[0]
    end = (np.flatnonzero(np.abs(speech) > 0.02)[-1] + 1) / SR
    silence_s = 0.8
    stream = np.concatenate([np.zeros(SR, np.float32), speech, np.zeros(2 * SR, np.float32)])
    endpointer = Endpointer(mode="hands_free", silence_s=silence_s, vad=StreamingVad())
    start = time.perf_counter()
    done = []
    for i in range(0, stream.size, 512):
        done += endpointer.feed(stream[i : i + 512])
    vad_cpu_ms = (time.perf_counter() - start) / (stream.size / 512) * 1000
    beyond_ms = (done[0].decided_s - (1.0 + end) - silence_s) * 1000 if done else float("nan")

    result = {
        "model": args.model,
        "device": f"{voxrad.device}/{voxrad.compute_type}",
        "utterances": len(clips),
        "audio_s": audio_s,
        "median_s": {k: round(v, 4) for k, v in median.items()},
        "ratio_voxrad_vs_direct": round(median["voxrad"] / median["direct"], 3),
        "rtf": {k: round(v / audio_s, 4) for k, v in median.items()},
        "same_text": texts["voxrad"] == texts["direct"],
        "voxrad_own_code_ms_per_utterance": round(statistics.median(own_ms), 3),
        "endpoint_beyond_silence_ms": round(beyond_ms, 1),
        "vad_cpu_ms_per_32ms_step": round(vad_cpu_ms, 3),
    }
    voxrad.close()
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(f"model {args.model} on {result['device']}, {len(clips)} x 3.0 s utterances")
    for name in runners:
        print(
            f"  {name:12s} median {median[name]:.3f} s for {audio_s:.0f} s of audio "
            f"(real-time factor {median[name] / audio_s:.3f})"
        )
    print(
        f"VoxRad / direct faster-whisper: {result['ratio_voxrad_vs_direct']:.3f} "
        f"(target <= 1.10); same text: {result['same_text']}"
    )
    print(
        f"VoxRad's own code per utterance (outside the model calls): "
        f"{result['voxrad_own_code_ms_per_utterance']:.2f} ms (load-independent view of the "
        "overhead; the ratio above moves with other processes on a shared machine)"
    )
    print(
        f"hands-free end-of-utterance: {beyond_ms:.0f} ms beyond the {silence_s:.1f} s silence "
        f"(target <= 300 ms); VAD {vad_cpu_ms:.3f} ms CPU per 32 ms step"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
