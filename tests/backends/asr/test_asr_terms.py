"""What VoxRad does with the recogniser's output for medical words: prompt copies dropped,
split terms rejoined, uncertain medical words marked (issue 19).

The decoder is a scripted stand-in (it returns given segments), so each rule is tested on the
exact output that triggers it; the real tiny.en runs are marked ``models``.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from speech_support import espeak_wav, read_wav
from voxrad.backends.asr.base import Word
from voxrad.backends.asr.faster_whisper import (
    UNCERTAIN_PROBABILITY,
    FasterWhisperTranscriber,
    WhisperOptions,
)

SPEECH = (np.sin(np.arange(32_000) / 7.0) * 0.3).astype(np.float32)


class ScriptedModel:
    """Answers every ``transcribe`` with one segment of the given text and word probabilities."""

    def __init__(
        self,
        text: str,
        probabilities: dict[str, float] | None = None,
        tail: tuple[str, float, float] | None = None,
    ) -> None:
        self.text, self.probabilities, self.tail = text, probabilities or {}, tail
        self.calls: list[dict[str, Any]] = []

    def transcribe(self, audio: np.ndarray, **kwargs: Any) -> tuple[list[Any], Any]:
        self.calls.append(kwargs)
        words = [
            SimpleNamespace(word=" " + w, start=0.1 * i, end=0.1 * i + 0.1, probability=self._p(w))
            for i, w in enumerate(self.text.split())
        ]
        segment = SimpleNamespace(
            start=0.0,
            end=2.0,
            text=" " + self.text,
            avg_logprob=-0.2,
            no_speech_prob=0.01,
            words=words if kwargs.get("word_timestamps") else None,
        )
        segments = [segment]
        if self.tail is not None:
            text, no_speech, logprob = self.tail
            segments.append(
                SimpleNamespace(
                    start=2.0,
                    end=2.3,
                    text=" " + text,
                    avg_logprob=logprob,
                    no_speech_prob=no_speech,
                    words=None,
                )
            )
        return segments, SimpleNamespace(language="en", duration_after_vad=2.0)

    def _p(self, word: str) -> float:
        return self.probabilities.get(word.strip("?,.").lower(), 0.95)


def scripted(model: ScriptedModel, **options: Any) -> FasterWhisperTranscriber:
    transcriber = FasterWhisperTranscriber(WhisperOptions(warm_up=False, **options))
    transcriber._model = model
    transcriber._set_seed = lambda seed: None
    return transcriber


CHEST = ("CT", "chest")


def test_a_transcript_that_is_the_prompt_is_dropped() -> None:
    """Whisper base returned "Glossary, pneumothorax, pleural effusion," for a question."""
    for copy in (
        "Glossary, pneumothorax, pleural effusion,",
        "pneumothorax, pleural effusion, pulmonary embolism.",
    ):
        result = scripted(ScriptedModel(copy)).transcribe(SPEECH, context=CHEST)
        assert result.is_empty and result.segments == () and result.words == (), copy
    heard = scripted(ScriptedModel("Is there a pneumothorax or a pleural effusion?"))
    assert heard.transcribe(SPEECH, context=CHEST).text.endswith("pleural effusion?")


def test_an_invented_ending_after_the_question_is_dropped() -> None:
    """Measured with word timestamps on: "And the enhancement after contrast. Thank you so
    much." (the ending had no-speech 0.78, log-probability -0.99: inside the old guard's
    limits)."""
    model = ScriptedModel("Is there an acute infarct?", tail=("Thank you so much.", 0.783, -0.99))
    assert scripted(model).transcribe(SPEECH).text == "Is there an acute infarct?"
    # A second sentence the recogniser is sure of stays.
    model.tail = ("And the spleen?", 0.05, -0.3)
    assert scripted(model).transcribe(SPEECH).text == "Is there an acute infarct? And the spleen?"


def test_split_terms_are_rejoined_side_words_kept() -> None:
    model = ScriptedModel("Is there a pneumo thorax on the left, and hydro nephrosis right?")
    text = scripted(model).transcribe(SPEECH, context=("CT", "chest", "abdomen")).text
    assert text == "Is there a pneumothorax on the left, and hydronephrosis right?"
    # Biasing off: no vocabulary, nothing rejoined.
    assert "pneumo thorax" in scripted(model, biasing="off").transcribe(SPEECH).text


def test_vocabulary_reaches_the_prompt_by_region() -> None:
    model = ScriptedModel("Is the spleen enlarged?")
    scripted(model).transcribe(SPEECH, context=("CT", "abdomen"))
    prompt = model.calls[-1]["initial_prompt"]
    assert "spleen" in prompt and "kidney" in prompt
    # The finding that replaced "embolism" for every study is not offered to an abdomen.
    assert "emphysema" not in prompt
    scripted(model, biasing="off").transcribe(SPEECH, context=("CT", "abdomen"))
    assert model.calls[-1]["initial_prompt"] is None


def test_uncertain_medical_words_are_marked() -> None:
    model = ScriptedModel(
        "Is there a pulmonary emphysema in the lift lower lobe?",
        {"emphysema": 0.12, "lift": 0.05, "pulmonary": 0.9, "lobe": UNCERTAIN_PROBABILITY},
    )
    # Off by default (it triples decoding time on a CPU): no word timestamps asked for.
    assert scripted(model).transcribe(SPEECH, context=CHEST).uncertain == ()
    assert model.calls[-1]["word_timestamps"] is False
    result = scripted(model, word_confidence=True).transcribe(SPEECH, context=CHEST)
    assert model.calls[-1]["word_timestamps"] is True
    # "lift" is unsure too, but not a medical word; "lobe" is exactly at the threshold.
    assert result.uncertain == ("emphysema",)
    assert Word("emphysema", 0.4, 0.5, 0.12) in result.words
    assert result.to_dict()["uncertain"] == ["emphysema"]
    # Partials never pay for word probabilities.
    scripted(model, word_confidence=True).transcribe(SPEECH, context=CHEST, partial=True)
    assert not model.calls[-1].get("word_timestamps")


@pytest.mark.models
def test_real_words_carry_probabilities(speech_dir: Path) -> None:
    audio = read_wav(espeak_wav("Is there a pneumothorax in the left lung?", speech_dir))
    transcriber = FasterWhisperTranscriber(WhisperOptions(word_confidence=True, warm_up=False))
    transcriber.load()
    result = transcriber.transcribe(audio, context=CHEST)
    transcriber.close()
    assert "pneumothorax" in result.text.lower()
    spoken = [w.text.strip(",.?").lower() for w in result.words]
    assert "pneumothorax" in spoken and "left" in spoken
    assert all(0.0 <= w.probability <= 1.0 for w in result.words)
    assert all(a.start <= b.start for a, b in zip(result.words, result.words[1:], strict=False))


def test_no_study_prompt_is_a_glossary_not_a_question() -> None:
    """With nothing open, "Is there any pneumothorax, ..." made tiny.en hear six different
    questions as "Is there any pneumothorax" (bench_asr_terms): the general list is a glossary."""
    model = ScriptedModel("Is there a lesion?")
    scripted(model).transcribe(SPEECH)
    assert model.calls[-1]["initial_prompt"].startswith("Glossary: pneumothorax")
    scripted(model).transcribe(SPEECH, context=CHEST)
    assert model.calls[-1]["initial_prompt"].startswith("Is there any CT, chest")
