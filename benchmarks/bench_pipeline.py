"""The assistant pipeline's own per-turn overhead, with instant backends (target < 50 ms).

Backends are the test fakes (``tests/assistant/pipeline_fakes.py``): they answer at once, so
what remains is VoxRad's part of a turn: queues, thread hand-offs, the command grammar,
sentence splitting, events to listeners and bookkeeping. Two measures:

1. ``overhead`` as each turn records it (turn wall time minus time spent waiting on the ASR,
   model and speech threads), for voice commands, voice questions and typed questions.
2. Baseline in the same run: the same fakes called one after another on one thread with the
   same grammar and sentence splitter, no pipeline. The difference in wall time per turn,
   pipeline minus baseline, is the pipeline's cost measured from outside.

3. With ``--real-asr``: voice commands ("lung window" spoken by espeak-ng) through the real
   faster-whisper tiny.en, the recorded overhead next to the time inside ASR.

Run: ``.venv/bin/python benchmarks/bench_pipeline.py [--turns N] [--real-asr]``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "assistant"))

from pipeline_fakes import (  # noqa: E402
    EventLog,
    FakeAnswerer,
    FakeSpeaker,
    FakeTranscriber,
    FakeViewer,
)

from voxrad.assistant.commands.grammar import Command, CommandGrammar  # noqa: E402
from voxrad.assistant.loop.pipeline import AssistantPipeline  # noqa: E402
from voxrad.assistant.speech.sentences import SentenceSplitter  # noqa: E402
from voxrad.core.conversation import Question  # noqa: E402
from voxrad.core.volume import Volume  # noqa: E402

REPLY = (
    "There is a small right pleural effusion. The lungs are otherwise clear. "
    "No pneumothorax is seen. The heart size is normal."
)
AUDIO = np.zeros(16_000 * 2, dtype=np.float32)
KINDS = (
    ("voice command", "Next slice."),
    ("voice question", "Is there a pleural effusion?"),
    ("typed question", "Is there a pleural effusion?"),
)


def ms(values: list[float]) -> str:
    values = sorted(values)
    p95 = values[min(len(values) - 1, int(0.95 * len(values)))]
    return (
        f"median {statistics.median(values) * 1000:6.2f} ms  p95 {p95 * 1000:6.2f} ms  "
        f"max {values[-1] * 1000:6.2f} ms"
    )


def run_pipeline(kind: str, text: str, turns: int) -> tuple[list[float], float]:
    transcriber = FakeTranscriber(text)
    answerer = FakeAnswerer(REPLY, prepare_s=0.0)
    speaker = FakeSpeaker()
    pipeline = AssistantPipeline(
        FakeViewer(),
        transcriber_factory=lambda: transcriber,
        answerer_factory=lambda: answerer,
        speaker_factory=lambda: speaker,
    )
    log = EventLog()
    pipeline.add_listener(log)
    pipeline.start()
    try:
        overheads = []
        for i in range(turns + 5):
            if i == 5:  # warm-up turns (thread start, first imports) excluded
                t0 = time.perf_counter()
            if kind.startswith("voice"):
                pipeline.start_listening()
                turn_id = pipeline.submit_audio(AUDIO, capture_s=2.0)
            else:
                turn_id = pipeline.submit_text(text)
            turn = log.finished(turn_id, timeout=10)
            assert turn.ok, turn.messages
            log.events.clear()
            if i >= 5:
                overheads.append(turn.timings["overhead"])
        wall = (time.perf_counter() - t0) / turns
    finally:
        pipeline.shutdown()
    return overheads, wall


def run_baseline(kind: str, text: str, turns: int) -> float:
    """The same work on one thread: no queues, threads or events."""
    transcriber, answerer, speaker = FakeTranscriber(text), FakeAnswerer(REPLY), FakeSpeaker()
    viewer, grammar = FakeViewer(), CommandGrammar()
    t0 = time.perf_counter()
    for _ in range(turns):
        heard = transcriber.transcribe(AUDIO).text if kind.startswith("voice") else text
        parsed = grammar.parse(heard)
        if isinstance(parsed, Command):
            viewer.apply_command(parsed)
            continue
        view = viewer.session.question_view()
        assert parsed is not None and view.volume is not None
        sentences = _answer_sentences(answerer, Question(heard), view.volume)
        for sentence in sentences:
            speaker.say(sentence)
    return (time.perf_counter() - t0) / turns


def _answer_sentences(answerer: FakeAnswerer, question: Question, volume: Volume) -> list[str]:
    splitter = SentenceSplitter()
    sentences: list[str] = []
    answerer.answer(
        question, volume, on_answer_text=lambda piece: sentences.extend(splitter.feed(piece))
    )
    return sentences + splitter.flush()


def run_real_asr(turns: int) -> list[float]:
    import subprocess
    import tempfile

    from scipy.io import wavfile

    from voxrad.backends.asr.faster_whisper import FasterWhisperTranscriber, WhisperOptions

    with tempfile.TemporaryDirectory() as folder:
        raw, wav = Path(folder) / "raw.wav", Path(folder) / "lung.wav"
        subprocess.run(["espeak-ng", "-w", str(raw), "Lung window."], check=True)
        subprocess.run(
            ["sox", str(raw), "-r", "16000", "-c", "1", "-b", "16", str(wav)], check=True
        )
        audio = wavfile.read(wav)[1].astype(np.float32) / 32768.0
    viewer = FakeViewer()
    pipeline = AssistantPipeline(
        viewer,
        transcriber_factory=lambda: FasterWhisperTranscriber(WhisperOptions(model="tiny.en")),
        answerer_factory=None,
        speaker_factory=None,
    )
    log = EventLog()
    pipeline.add_listener(log)
    pipeline.start()
    overheads, asr = [], []
    try:
        for i in range(turns + 1):
            pipeline.start_listening()
            turn = log.finished(pipeline.submit_audio(audio, capture_s=1.0), timeout=120)
            assert turn.kind == "command" and viewer.window == "lung", turn.transcript
            log.events.clear()
            if i > 0:  # the first waits for the model to load
                overheads.append(turn.timings["overhead"])
                asr.append(turn.timings["transcription"])
    finally:
        pipeline.shutdown()
    print(f"  real tiny.en voice command ({turns} turns) inside ASR: {ms(asr)}")
    print(f"  {'':15s} recorded overhead: {ms(overheads)}")
    return overheads


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=200)
    parser.add_argument("--real-asr", action="store_true", help="also run real tiny.en turns")
    args = parser.parse_args()
    print(f"Pipeline overhead per turn with instant backends ({args.turns} turns each)")
    worst = 0.0
    for kind, text in KINDS:
        overheads, wall = run_pipeline(kind, text, args.turns)
        base = run_baseline(kind, text, args.turns)
        worst = max(worst, *overheads)
        print(f"  {kind:15s} recorded overhead: {ms(overheads)}")
        print(
            f"  {'':15s} wall per turn {wall * 1000:6.2f} ms vs one-thread baseline "
            f"{base * 1000:6.2f} ms: pipeline adds {(wall - base) * 1000:6.2f} ms"
        )
    if args.real_asr:
        worst = max(worst, *run_real_asr(20))
    verdict = "OK" if worst < 0.05 else "OVER"
    print(f"worst recorded overhead {worst * 1000:.2f} ms (target < 50 ms): {verdict}")
    return 0 if worst < 0.05 else 1


if __name__ == "__main__":
    raise SystemExit(main())
