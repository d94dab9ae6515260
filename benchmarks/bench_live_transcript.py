"""What the live transcript costs the final one: release-to-transcript latency, on vs off.

The real pipeline with the real faster-whisper tiny.en (fake model and speech output from
``tests/assistant/pipeline_fakes.py``). Each run plays one espeak-ng question into a real
:class:`~voxrad.audio.endpointer.Endpointer` in push-to-talk mode, in 32 ms blocks paced in
real time as the microphone delivers them; the key is released 0 to 0.9 s after the last
syllable (so the release falls anywhere in the partial cadence), the post-roll is fed,
and the utterance is submitted. With the live transcript on, the capture side offers the
speech so far every ``--interval`` seconds, as :class:`~voxrad.audio.capture.Microphone`
does. Runs alternate on/off (same pipeline and model, options switched between runs), so both
sides see the same machine load.

Printed: latency from the key's release, and from the utterance's submission, to the final
transcript event (median, mean, p90), on and off; how often a partial pass was still running
at submission (the only way a partial can delay the final, by at most that one pass); the
partial update cadence (seconds between two shown partials while speaking) and freshness
(seconds from the audio snapshot to its text on screen); the text of the last partial next to
the final one.

Run: ``.venv/bin/python benchmarks/bench_live_transcript.py [--rounds N] [--interval S]
[--no-pause-rule]`` (the last takes partials in pauses too, to show what skipping them saves).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "assistant"))
sys.path.insert(0, str(REPO / "tests"))

from pipeline_fakes import FakeAnswerer, FakeSpeaker, FakeViewer  # noqa: E402

from speech_support import espeak_wav, read_wav, word_error_rate  # noqa: E402
from voxrad.assistant.loop.pipeline import AssistantPipeline, PipelineOptions  # noqa: E402
from voxrad.assistant.loop.turns import PipelineEvent  # noqa: E402
from voxrad.audio.endpointer import CHUNK, SAMPLE_RATE, Endpointer  # noqa: E402

QUESTIONS = (
    "Is there a pleural effusion on the right side of the chest?",
    "How large is the nodule in the right upper lobe?",
    "Is there a pneumothorax in the left lung?",
)
#: Key held this long after the last syllable (the release falls anywhere in the cadence).
TAILS_S = (0.0, 0.15, 0.3, 0.45, 0.6, 0.9)
BLOCK_S = CHUNK / SAMPLE_RATE


class Recorder:
    """Pipeline listener: (time, event) of every event, and a wait for a turn's transcript."""

    def __init__(self) -> None:
        self.events: list[tuple[float, PipelineEvent]] = []
        self._cond = threading.Condition()

    def __call__(self, event: PipelineEvent) -> None:
        with self._cond:
            self.events.append((time.perf_counter(), event))
            self._cond.notify_all()

    def wait(self, kind: str, turn_id: int, timeout: float = 60.0) -> float:
        def found() -> float | None:
            for t, e in self.events:
                if e.kind == kind and e.turn is not None and e.turn.turn_id == turn_id:
                    return t
            return None

        with self._cond:
            if not self._cond.wait_for(lambda: found() is not None, timeout):
                raise RuntimeError(f"no {kind} event for turn {turn_id}")
            return found()  # type: ignore[return-value]

    def partials_since(self, t0: float) -> list[tuple[float, str]]:
        with self._cond:
            return [(t, e.text) for t, e in self.events if t >= t0 and e.kind == "partial"]

    def transcript(self, turn_id: int) -> str:
        with self._cond:
            for _, e in self.events:
                if e.kind == "transcript" and e.turn is not None and e.turn.turn_id == turn_id:
                    return e.turn.transcript
        return ""


def one_run(
    pipeline: AssistantPipeline, rec: Recorder, speech: np.ndarray, tail_s: float, interval: float
) -> dict[str, object]:
    """Hold the key over ``speech`` + ``tail_s`` of silence (real time), release, submit."""
    ep = Endpointer(mode="push_to_talk", pre_roll_s=0.3, post_roll_s=0.15)
    ep.feed(np.zeros(SAMPLE_RATE // 2, np.float32))  # the room before the key goes down
    held = np.concatenate([speech, np.zeros(int(tail_s * SAMPLE_RATE), np.float32)])
    post = np.zeros(SAMPLE_RATE, np.float32)
    snapshots: list[float] = []  # when each partial's audio was taken
    start = time.perf_counter()
    pipeline.start_listening()
    ep.press()
    n_blocks = -(-held.size // CHUNK)
    for i in range(n_blocks):
        # A microphone delivers a block every 32 ms: wait for this one's time to come.
        delay = start + (i + 1) * BLOCK_S - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        ep.feed(held[i * CHUNK : (i + 1) * CHUNK])
        partial = ep.partial_due(interval)
        if partial is not None and pipeline.submit_partial(partial):
            snapshots.append(time.perf_counter())
    released = time.perf_counter()
    pipeline.stop_listening()
    ep.release()
    utterance = None
    for i in range(post.size // CHUNK):
        delay = released + (i + 1) * BLOCK_S - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        done = ep.feed(post[i * CHUNK : (i + 1) * CHUNK])
        if done:
            utterance = done[0]
            break
    assert utterance is not None
    busy = pipeline.live_transcript._in_flight is not None
    submitted = time.perf_counter()
    turn_id = pipeline.submit_audio(utterance.audio, sample_rate=SAMPLE_RATE)
    shown = rec.wait("transcript", turn_id)
    rec.wait("finished", turn_id)
    partials = [(t, text) for t, text in rec.partials_since(start) if text]
    return {
        "from_release": shown - released,
        "from_submit": shown - submitted,
        "busy_at_submit": busy,
        "partials": partials,
        "snapshots": snapshots,
        "final": rec.transcript(turn_id),
    }


def stats(values: list[float]) -> str:
    values = sorted(values)
    p90 = values[min(len(values) - 1, int(0.9 * len(values)))]
    return (
        f"median {statistics.median(values) * 1000:5.0f} ms  mean "
        f"{statistics.fmean(values) * 1000:5.0f} ms  p90 {p90 * 1000:5.0f} ms  (n={len(values)})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=1, help="passes over questions x tails")
    parser.add_argument("--interval", type=float, default=1.0, help="partial cadence (s)")
    parser.add_argument(
        "--no-pause-rule",
        action="store_true",
        help="take partials in pauses too (what the pause rule saves, for comparison)",
    )
    args = parser.parse_args()
    if args.no_pause_rule:
        from voxrad.audio import endpointer

        endpointer.PARTIAL_PAUSE_S = float("inf")

    from voxrad.backends.asr.faster_whisper import FasterWhisperTranscriber, WhisperOptions

    with tempfile.TemporaryDirectory() as tmp:
        speeches = [read_wav(espeak_wav(q, Path(tmp))) for q in QUESTIONS]
    # Cut espeak's trailing silence: a tail of 0 s releases the key on the last syllable.
    speeches = [s[: int(np.flatnonzero(np.abs(s) > 0.02)[-1]) + 1] for s in speeches]
    options = PipelineOptions(live_transcript_interval_s=args.interval)
    pipeline = AssistantPipeline(
        FakeViewer(),
        transcriber_factory=lambda: FasterWhisperTranscriber(WhisperOptions(model="tiny.en")),
        answerer_factory=lambda: FakeAnswerer(prepare_s=0.0),
        speaker_factory=FakeSpeaker,
        options=options,
    )
    rec = Recorder()
    pipeline.add_listener(rec)
    pipeline.start()
    results: dict[bool, list[dict[str, object]]] = {True: [], False: []}
    try:
        assert pipeline._asr is not None and pipeline._asr.submit(lambda _t: None).done.wait(120)
        order = [True, False]
        for _ in range(args.rounds):
            for speech in speeches:
                for tail in TAILS_S:
                    for live in order:
                        pipeline.update_options(replace(options, live_transcript=live))
                        results[live].append(one_run(pipeline, rec, speech, tail, args.interval))
                    order.reverse()  # on-off, off-on, ...: neither side always goes first
    finally:
        pipeline.shutdown(timeout=10)

    print(
        f"tiny.en on this CPU; {len(results[True])} runs each, alternating; "
        f"partial interval {args.interval:.2f} s"
    )
    for live in (False, True):
        runs = results[live]
        name = "live on " if live else "live off"
        print(f"{name} release -> transcript: {stats([r['from_release'] for r in runs])}")  # type: ignore[misc]
        print(f"{name} submit  -> transcript: {stats([r['from_submit'] for r in runs])}")  # type: ignore[misc]
    on = results[True]
    busy = sum(bool(r["busy_at_submit"]) for r in on)
    print(f"live on: a partial pass was running at submission in {busy}/{len(on)} runs")
    for was_busy in (True, False):
        part = [float(r["from_submit"]) for r in on if bool(r["busy_at_submit"]) == was_busy]  # type: ignore[arg-type]
        if part:
            label = "running" if was_busy else "idle   "
            print(f"live on, partial {label} at submission, submit -> transcript: {stats(part)}")
    gaps: list[float] = []
    fresh: list[float] = []
    counts: list[int] = []
    wers: list[float] = []
    for r in on:
        shown = r["partials"]
        snaps = r["snapshots"]
        counts.append(len(shown))  # type: ignore[arg-type]
        times = [t for t, _ in shown]  # type: ignore[attr-defined]
        gaps += list(np.diff(times))
        # Each shown partial is the newest snapshot taken before it.
        for t in times:
            before = [s for s in snaps if s <= t]  # type: ignore[attr-defined]
            if before:
                fresh.append(t - before[-1])
        if shown:
            wers.append(word_error_rate(str(r["final"]), shown[-1][1]))  # type: ignore[index]
    if gaps:
        print(f"partial cadence (between shown updates): {stats(gaps)}")
    if fresh:
        print(f"partial freshness (audio snapshot -> text emitted): {stats(fresh)}")
    print(f"partials shown per utterance: {statistics.mean(counts):.1f} (min {min(counts)})")
    if wers:
        wer = statistics.mean(wers)
        print(f"last partial vs final transcript, word error rate: mean {wer:.2f}")
    example = on[0]
    print(f"example: partials {[text for _, text in example['partials']]}")  # type: ignore[attr-defined]
    print(f"         final    {example['final']!r}")


if __name__ == "__main__":
    main()
