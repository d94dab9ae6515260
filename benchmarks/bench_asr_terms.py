"""Medical words heard right: a spoken radiology set through bare faster-whisper, VoxRad's former
vocabulary prompt and VoxRad today, same model and decoding settings, same run.

Spoken set (synthesised here, nothing downloaded): short radiology questions and viewer
commands, each said by two espeak-ng voices at one of two speeds, each labelled with its medical
terms, its side words (left/right) and the study it is asked about (modality, body part, series
description: what the app passes to the recogniser). Beside it: the real human speech the project
already uses (LibriVox clips from Debian's pocketsphinx-testdata, general-English WER) and two
non-speech clips (room noise, near-silence) on which nothing may be transcribed.

Strategies:
- ``bare``: faster-whisper with VoxRad's decoding settings (beam, VAD, thresholds), no prompt;
- ``former``: the same with the 27-word glossary prompt VoxRad used before issue 19 (study words
  first, then the fixed list), raw model output as the app then showed it;
- ``voxrad``: VoxRad's transcriber as the app runs it (study vocabulary, guards, rejoin);
- ``no_study``: the same with no study open (general vocabulary).

Measures: medical-term recall; medical-term substitutions (a missed term where the transcript
has a medical word the question did not contain) and how many of those the prompt put there;
side-word errors (edit distance of the left/right sequence); prompt regurgitations (four or more
prompt words in a row that were not said, or the word "glossary"); mean WER; words invented on
non-speech. Decoder output is cached per (model, audio, decoding options) in ``--cache``, so a
rerun decodes only what changed; VoxRad's own code always runs live.

Speed (never cached): ``--timing`` clips, interleaved, median of ``--repeat`` rounds: VoxRad's
transcriber against faster-whisper called with exactly the options VoxRad passed (the overhead
ratio, target <= 1.10), bare faster-whisper, and the real-time factor (seconds per audio second).

Usage: python benchmarks/bench_asr_terms.py [--model tiny.en|PATH] [--every N] [--timing 12]
       [--show] [--json]
Targets (issue 19): term recall >= 0.9; 0 substitutions caused by biasing; 0 side-word errors;
0 regurgitations; RTF <= 0.5; overhead <= 1.10.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

SR = 16_000
VOICES = ("en-us", "en-gb", "en-gb-scotland", "en-029", "en-us+f3")
SPEEDS = (150, 185)

#: Studies the questions are asked about: (modality, body part, series description).
STUDIES = {
    "ct_chest": ("CT", "CHEST", "Chest 1.25mm lung"),
    "ct_abdomen": ("CT", "ABDOMEN", "Abdomen pelvis portal venous"),
    "ct_head": ("CT", "HEAD", "Head without contrast"),
    "mr_brain": ("MR", "BRAIN", "AX T2 FLAIR"),
    "mr_spine": ("MR", "LSPINE", "SAG T2"),
    "mr_knee": ("MR", "KNEE", "COR PD FS"),
    "cr_chest": ("CR", "CHEST", "PA"),
    "us_abdomen": ("US", "ABDOMEN", ""),
}

#: (study, what is said, its medical terms).
ITEMS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("ct_chest", "Is there a pneumothorax in the left lung?", ("pneumothorax", "lung")),
    (
        "ct_chest",
        "Is there a pulmonary embolism in the right lower lobe?",
        ("pulmonary embolism", "lobe"),
    ),
    ("ct_chest", "How large is the nodule in the right upper lobe?", ("nodule", "lobe")),
    ("ct_chest", "Is there a pleural effusion on the right?", ("pleural effusion",)),
    ("ct_chest", "Any signs of emphysema in the upper lobes?", ("emphysema", "lobes")),
    ("ct_chest", "Is there mediastinal lymphadenopathy?", ("mediastinal", "lymphadenopathy")),
    ("ct_chest", "Describe the consolidation in the left lower lobe.", ("consolidation", "lobe")),
    ("ct_chest", "Is there atelectasis at the right lung base?", ("atelectasis", "lung")),
    ("ct_chest", "Are there ground glass opacities?", ("ground glass", "opacities")),
    ("ct_chest", "Is the aorta dilated?", ("aorta",)),
    ("ct_chest", "Any bronchiectasis in the middle lobe?", ("bronchiectasis", "lobe")),
    ("ct_chest", "Is there a rib fracture on the left?", ("rib", "fracture")),
    ("ct_abdomen", "Is there a lesion in the left kidney?", ("lesion", "kidney")),
    ("ct_abdomen", "Any free fluid around the spleen?", ("free fluid", "spleen")),
    ("ct_abdomen", "Is the liver enlarged?", ("liver",)),
    ("ct_abdomen", "Is there hydronephrosis on the right?", ("hydronephrosis",)),
    ("ct_abdomen", "Are there gallstones in the gallbladder?", ("gallstones", "gallbladder")),
    ("ct_abdomen", "Is the appendix inflamed?", ("appendix",)),
    ("ct_abdomen", "Is there a mass in the pancreas?", ("mass", "pancreas")),
    ("ct_abdomen", "Any nodule in the left adrenal gland?", ("nodule", "adrenal")),
    ("ct_abdomen", "Is there ascites in the pelvis?", ("ascites", "pelvis")),
    ("ct_abdomen", "Measure the abdominal aortic aneurysm.", ("aortic aneurysm",)),
    ("ct_abdomen", "Is there a cyst in the right kidney?", ("cyst", "kidney")),
    ("ct_abdomen", "Any diverticulitis in the sigmoid colon?", ("diverticulitis", "colon")),
    ("mr_brain", "Is there an acute infarct in the left hemisphere?", ("infarct", "hemisphere")),
    ("mr_brain", "Any hemorrhage in the right frontal lobe?", ("hemorrhage", "frontal lobe")),
    ("mr_brain", "Is there restricted diffusion?", ("diffusion",)),
    ("mr_brain", "Are there white matter lesions?", ("white matter", "lesions")),
    ("mr_brain", "Are the ventricles enlarged?", ("ventricles",)),
    ("mr_brain", "Is there a mass in the cerebellum?", ("mass", "cerebellum")),
    ("mr_brain", "Any enhancement after contrast?", ("enhancement", "contrast")),
    ("mr_brain", "Is there midline shift?", ("midline shift",)),
    ("ct_head", "Is there a subdural hematoma on the left?", ("subdural hematoma",)),
    ("ct_head", "Any skull fracture?", ("skull fracture",)),
    ("ct_head", "Is there subarachnoid hemorrhage?", ("subarachnoid hemorrhage",)),
    ("cr_chest", "Is the heart enlarged?", ("heart",)),
    ("cr_chest", "Is there cardiomegaly?", ("cardiomegaly",)),
    ("cr_chest", "Is the endotracheal tube in a good position?", ("endotracheal tube",)),
    ("cr_chest", "Any pneumonia in the right lung?", ("pneumonia", "lung")),
    ("cr_chest", "Is there a left pleural effusion?", ("pleural effusion",)),
    (
        "mr_spine",
        "Is there a disc herniation in the lumbar spine?",
        ("disc herniation", "lumbar spine"),
    ),
    ("mr_spine", "Any spinal stenosis?", ("spinal stenosis",)),
    (
        "mr_spine",
        "Is there a compression fracture of the vertebra?",
        ("compression fracture", "vertebra"),
    ),
    ("mr_knee", "Is the anterior cruciate ligament torn?", ("anterior cruciate ligament",)),
    ("mr_knee", "Any meniscus tear in the right knee?", ("meniscus", "knee")),
    ("mr_knee", "Is there a joint effusion?", ("joint effusion",)),
    ("us_abdomen", "Is the common bile duct dilated?", ("common bile duct",)),
    ("us_abdomen", "Is there a thrombosis in the portal vein?", ("thrombosis", "portal vein")),
    ("us_abdomen", "Any splenomegaly?", ("splenomegaly",)),
    ("us_abdomen", "Is the gallbladder wall thickened?", ("gallbladder",)),
    ("ct_chest", "Next slice.", ()),
    ("ct_chest", "Switch to the lung window.", ("lung window",)),
    ("ct_chest", "Show the bone window.", ("bone window",)),
    ("ct_chest", "Scroll down twenty slices.", ()),
    ("ct_chest", "Zoom in on the right lung.", ("lung",)),
    ("mr_brain", "Show the coronal view.", ("coronal",)),
    ("mr_spine", "Show the sagittal view.", ("sagittal",)),
    ("ct_abdomen", "Go back to the axial view.", ("axial",)),
    ("ct_abdomen", "Mark the finding on the left.", ()),
    ("mr_knee", "Open the previous series.", ()),
    ("ct_head", "What is this lesion?", ("lesion",)),
)

#: The glossary VoxRad put in every prompt before issue 19 (kept here as the baseline).
FORMER_TERMS = (
    "pneumothorax", "pleural effusion", "consolidation", "atelectasis", "nodule",
    "mediastinum", "hilar", "cardiomegaly", "emphysema", "bronchiectasis", "lymphadenopathy",
    "metastasis", "hemorrhage", "infarct", "hydronephrosis", "ascites", "aneurysm", "aorta",
    "fracture", "axial", "coronal", "sagittal", "lung window", "bone window", "slice",
)  # fmt: skip
SIDES = frozenset({"left", "right"})


@dataclass(frozen=True)
class Clip:
    kind: str  # "radiology", "human", "noise"
    text: str
    terms: tuple[str, ...]
    study: str
    audio: np.ndarray

    @property
    def seconds(self) -> float:
        return self.audio.size / SR


def _stem(words: list[str]) -> list[str]:
    # "lobes" and "lobe" both count: plural endings are not what biasing is about.
    return [w[:-1] if len(w) > 3 and w.endswith("s") else w for w in words]


def _has(words: list[str], phrase: list[str]) -> bool:
    n = len(phrase)
    return any(words[i : i + n] == phrase for i in range(len(words) - n + 1))


def _edit(a: list[str], b: list[str]) -> int:
    previous = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        current = [i] + [0] * len(b)
        for j, y in enumerate(b, 1):
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (x != y))
        previous = current
    return previous[-1]


class CachingModel:
    """A WhisperModel stand-in that answers from a disk cache of the real model's output.

    Keyed by the audio and every decoding option, so any change of prompt or options decodes
    again; the decode seconds of the real run are kept with the result.
    """

    def __init__(self, model: Any, folder: Path, model_name: str) -> None:
        self.model, self.folder, self.model_name = model, folder, model_name
        self.last_kwargs: dict[str, Any] = {}
        self.decoded = 0

    def transcribe(self, audio: np.ndarray, **kwargs: Any) -> tuple[list[Any], Any]:
        self.last_kwargs = dict(kwargs)
        key = hashlib.sha1(
            np.ascontiguousarray(audio, np.float32).tobytes()
            + json.dumps([self.model_name, kwargs], sort_keys=True, default=str).encode()
        ).hexdigest()[:24]
        path = self.folder / f"{key}.json"
        if path.exists():
            data = json.loads(path.read_text())
        else:
            start = time.perf_counter()
            segments, info = self.model.transcribe(audio, **kwargs)
            raw = list(segments)
            data = {
                "seconds": time.perf_counter() - start,
                "language": info.language,
                "duration_after_vad": info.duration_after_vad,
                "segments": [
                    {
                        "start": s.start,
                        "end": s.end,
                        "text": s.text,
                        "avg_logprob": s.avg_logprob,
                        "no_speech_prob": s.no_speech_prob,
                        "compression_ratio": s.compression_ratio,
                        "words": [
                            {
                                "start": w.start,
                                "end": w.end,
                                "word": w.word,
                                "probability": w.probability,
                            }
                            for w in (s.words or [])
                        ]
                        or None,
                    }
                    for s in raw
                ],
            }
            path.write_text(json.dumps(data))
            self.decoded += 1
        segments = [
            SimpleNamespace(
                **{**s, "words": [SimpleNamespace(**w) for w in s["words"]] if s["words"] else None}
            )
            for s in data["segments"]
        ]
        info = SimpleNamespace(
            language=data["language"], duration_after_vad=data["duration_after_vad"]
        )
        return segments, info


def build_clips(cache: Path, human: int, every: int = 1) -> list[Clip]:
    from speech_support import espeak_wav, librivox_clips, read_wav

    audio_dir = cache / "audio"
    audio_dir.mkdir(parents=True, exist_ok=True)
    lead, tail = np.zeros(int(0.3 * SR), np.float32), np.zeros(int(0.5 * SR), np.float32)
    clips = []
    for index, (study, text, terms) in enumerate(ITEMS):
        if index % every:
            continue
        for take in range(2):
            voice = VOICES[(2 * index + take) % len(VOICES)]
            speed = SPEEDS[(index + take) % len(SPEEDS)]
            audio = read_wav(espeak_wav(text, audio_dir, speed=speed, voice=voice))
            clips.append(Clip("radiology", text, terms, study, np.concatenate([lead, audio, tail])))
    for path, text in librivox_clips()[:human]:
        clips.append(Clip("human", text, (), "ct_chest", read_wav(path)))
    rng = np.random.default_rng(19)
    pink = np.cumsum(rng.standard_normal(2 * SR)).astype(np.float32)
    pink = (pink - np.convolve(pink, np.ones(400) / 400, "same")) * 0.004
    clips.append(Clip("noise", "", (), "ct_chest", pink.astype(np.float32)))
    clips.append(Clip("noise", "", (), "ct_abdomen", (pink * 0.15).astype(np.float32)))
    return clips


def score(
    clips: list[Clip], texts: list[str], prompts: list[str], medical: list[list[str]]
) -> dict[str, float]:
    from speech_support import word_error_rate
    from voxrad.assistant.commands.textnorm import normalize

    found = total = subs = caused = sides = regurg = invented = 0
    wers: list[float] = []
    human: list[float] = []
    for clip, text, prompt in zip(clips, texts, prompts, strict=True):
        hyp = _stem(normalize(text).split())
        prompt_words = _stem(normalize(prompt).split())
        if clip.kind == "noise":
            invented += len(hyp)
            continue
        ref = _stem(normalize(clip.text).split())
        if clip.kind == "human":
            human.append(word_error_rate(clip.text, text))
        else:
            wers.append(word_error_rate(clip.text, text))
        injected = [m for m in medical if _has(hyp, m) and not _has(ref, m)]
        for term in clip.terms:
            total += 1
            if _has(hyp, _stem(normalize(term).split())):
                found += 1
            elif injected:
                subs += 1
                caused += any(_has(prompt_words, m) for m in injected)
        sides += _edit([w for w in ref if w in SIDES], [w for w in hyp if w in SIDES])
        unsaid = [w not in ref for w in hyp]
        copied = "glossary" in hyp or any(
            all(unsaid[i : i + 4]) and _has(prompt_words, hyp[i : i + 4])
            for i in range(len(hyp) - 3)
        )
        regurg += copied
    return {
        "term_recall": found / max(total, 1),
        "terms": total,
        "substitutions": subs,
        "substitutions_by_prompt": caused,
        "side_word_errors": sides,
        "regurgitations": regurg,
        "wer": statistics.fmean(wers),
        "human_wer": statistics.fmean(human) if human else float("nan"),
        "words_on_noise": invented,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="tiny.en")
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache/VoxRad/bench_asr_terms")
    parser.add_argument("--human", type=int, default=5, help="LibriVox clips (0-5)")
    parser.add_argument(
        "--every", type=int, default=1, help="every Nth question only (a quicker run)"
    )
    parser.add_argument("--timing", type=int, default=12, help="clips timed live (0: none)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--word-confidence", action="store_true", help="VoxRad marks uncertain medical words"
    )
    parser.add_argument("--show", action="store_true", help="print every transcript")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    for tool in ("espeak-ng", "sox"):
        if shutil.which(tool) is None:
            print(f"{tool} is required (./dev.sh setup installs it)", file=sys.stderr)
            return 2

    from voxrad.assistant.commands.textnorm import normalize
    from voxrad.backends.asr.faster_whisper import FasterWhisperTranscriber, WhisperOptions
    from voxrad.backends.asr.lexicon import all_terms, build_prompt, study_words

    args.cache.mkdir(parents=True, exist_ok=True)
    clips = build_clips(args.cache, args.human, args.every)
    voxrad = FasterWhisperTranscriber(
        WhisperOptions(model=args.model, word_confidence=args.word_confidence)
    )
    voxrad.load()
    real_model = voxrad._model
    cached = CachingModel(real_model, args.cache, str(voxrad.model_path))
    voxrad._model = cached
    opts = voxrad.options
    settings = {
        "language": opts.language,
        "beam_size": opts.beam_size,
        "vad_filter": opts.vad_filter,
        "condition_on_previous_text": False,
        "no_speech_threshold": opts.no_speech_threshold,
        "log_prob_threshold": opts.log_prob_threshold,
    }
    medical = sorted(
        {tuple(_stem(normalize(t).split())) for t in (*all_terms(), *FORMER_TERMS)}
        | {tuple(_stem(normalize(t).split())) for c in clips for t in c.terms}
    )
    medical_lists = [list(m) for m in medical]

    def context(clip: Clip) -> tuple[str, ...]:
        modality, body_part, description = STUDIES[clip.study]
        return study_words(modality, body_part, [description])

    def bare(model: Any, clip: Clip) -> tuple[str, str]:
        segments, _ = model.transcribe(clip.audio, **settings)
        return " ".join(s.text.strip() for s in segments), ""

    def former(model: Any, clip: Clip) -> tuple[str, str]:
        prompt = build_prompt(context(clip), FORMER_TERMS) or ""
        segments, _ = model.transcribe(clip.audio, initial_prompt=prompt, **settings)
        return " ".join(s.text.strip() for s in segments), prompt

    def ours(model: Any, clip: Clip, study: bool = True) -> tuple[str, str]:
        voxrad._model = model
        transcript = voxrad.transcribe(clip.audio, context=context(clip) if study else ())
        text = transcript.text
        flagged.append(transcript.uncertain)
        prompt = " ".join(
            str(cached.last_kwargs.get(k) or "") for k in ("initial_prompt", "hotwords")
        )
        return text, prompt

    flagged: list[tuple[str, ...]] = []
    strategies: dict[str, Callable[[Any, Clip], tuple[str, str]]] = {
        "bare": bare,
        "former": former,
        "voxrad": ours,
        # The same with no study open (``voxrad transcribe FILE``, the app before a study).
        "no_study": lambda model, clip: ours(model, clip, study=False),
    }
    results: dict[str, Any] = {"model": args.model, "clips": len(clips), "strategies": {}}
    outputs: dict[str, list[str]] = {}
    for name, run in strategies.items():
        texts, prompts = [], []
        for clip in clips:
            text, prompt = run(cached, clip)
            texts.append(text)
            prompts.append(prompt)
        outputs[name] = texts
        results["strategies"][name] = score(clips, texts, prompts, medical_lists)
    results["decoded_now"] = cached.decoded
    # Uncertain medical words VoxRad marked: how many were not said (right to mark them).
    marked = wrong = 0
    for clip, words in zip(clips, flagged[: len(clips)], strict=True):
        said = set(_stem(normalize(clip.text).split()))
        marked += len(words)
        wrong += sum(w not in said for w in _stem(list(words)))
    results["uncertain_marked"] = {"words": marked, "not_said": wrong}

    if args.timing:
        speech = [c for c in clips if c.kind == "radiology"]
        timed = speech[:: max(1, len(speech) // args.timing)]
        timed = timed[: args.timing]
        kwargs_of: list[dict[str, Any]] = []
        for clip in timed:  # the exact options VoxRad passes for each clip
            ours(cached, clip)
            kwargs_of.append(dict(cached.last_kwargs))

        def direct(index: int) -> None:
            segments, _ = real_model.transcribe(timed[index].audio, **kwargs_of[index])
            list(segments)

        def no_word_times(index: int) -> None:
            kwargs = {**kwargs_of[index], "word_timestamps": False}
            segments, _ = real_model.transcribe(timed[index].audio, **kwargs)
            list(segments)

        def voxrad_live(index: int) -> None:
            ours(real_model, timed[index])

        def bare_live(index: int) -> None:
            bare(real_model, timed[index])

        runners = {
            "voxrad": voxrad_live,
            "same_options": direct,
            "no_word_times": no_word_times,
            "bare": bare_live,
        }
        for run_live in runners.values():
            run_live(0)
        totals: dict[str, list[float]] = {name: [] for name in runners}
        names = list(runners)
        for round_index in range(args.repeat):
            sums = dict.fromkeys(names, 0.0)
            for index in range(len(timed)):
                shift = (round_index + index) % len(names)
                for name in names[shift:] + names[:shift]:
                    start = time.perf_counter()
                    runners[name](index)
                    sums[name] += time.perf_counter() - start
            for name in names:
                totals[name].append(sums[name])
        audio_s = sum(c.seconds for c in timed)
        medians = {name: statistics.median(v) for name, v in totals.items()}
        results["timing"] = {
            "clips": len(timed),
            "audio_s": round(audio_s, 2),
            "rtf_voxrad": medians["voxrad"] / audio_s,
            "rtf_bare": medians["bare"] / audio_s,
            "overhead": medians["voxrad"] / medians["same_options"],
            # 1.0 when VoxRad runs without word probabilities (the default).
            "word_times_cost": medians["same_options"] / medians["no_word_times"],
        }
        voxrad._model = real_model

    if args.show:
        for index, clip in enumerate(clips):
            print(f"[{clip.kind}/{clip.study}] {clip.text!r}")
            for name in strategies:
                print(f"    {name:8s} {outputs[name][index]!r}")
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    print(f"model {args.model}: {len(clips)} clips ({results['decoded_now']} decoded now)")
    header = "strategy  recall  subs(prompt)  side  regurg   WER  humanWER  noise-words"
    print(header)
    for name, r in results["strategies"].items():
        print(
            f"{name:8s}  {r['term_recall']:.3f}  {r['substitutions']:4d} ({r['substitutions_by_prompt']:2d})"  # noqa: E501
            f"   {r['side_word_errors']:4d}  {r['regurgitations']:6d}  {r['wer']:.3f}"
            f"  {r['human_wer']:.3f}     {r['words_on_noise']:4d}"
        )
    u = results["uncertain_marked"]
    print(f"voxrad marked {u['words']} medical words uncertain, {u['not_said']} of them not said")
    if "timing" in results:
        t = results["timing"]
        print(
            f"timing on {t['clips']} clips ({t['audio_s']} s audio, median of {args.repeat}): "
            f"RTF voxrad {t['rtf_voxrad']:.3f}, bare {t['rtf_bare']:.3f}; "
            f"overhead over faster-whisper with the same options {t['overhead']:.3f}; "
            f"word probabilities cost x{t['word_times_cost']:.3f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
