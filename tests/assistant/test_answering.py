"""The question-to-answer use case with a scripted engine: what is sent, how boxes come back
to image pixels and patient mm, and where the confidence comes from."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from voxrad.assistant.answering import AskOptions, ask
from voxrad.backends.vlm.base import (
    GenerationRequest,
    GenerationResult,
    TokenCallback,
    VisionLanguageModel,
)
from voxrad.core.conversation import Box, Question
from voxrad.core.volume import Volume


class FakeVLM:
    """Replies with scripted texts (one per call) and records the requests it got."""

    name = "fake"
    is_remote = False

    def __init__(self, replies: list[str], *, logprob: float | None = None) -> None:
        self.replies = list(replies)
        self.logprob = logprob
        self.requests: list[GenerationRequest] = []

    def load(self) -> None:
        pass

    def close(self) -> None:
        pass

    def generate(
        self,
        request: GenerationRequest,
        *,
        on_token: TokenCallback | None = None,
        cancel: threading.Event | None = None,
    ) -> GenerationResult:
        self.requests.append(request)
        text = self.replies.pop(0)
        tokens = tuple(text.split(" "))
        tokens = tuple(t + " " for t in tokens[:-1]) + tokens[-1:]
        for t in tokens:
            if on_token is not None:
                on_token(t)
        lps = None if self.logprob is None else tuple(self.logprob for _ in tokens)
        return GenerationResult(
            text=text,
            tokens=tokens,
            token_logprobs=lps,
            completion_tokens=len(tokens),
            timings={"generate": 0.01, "first_token": 0.002},
            model="fake",
        )


@pytest.fixture
def volume() -> Volume:
    """Two 200 x 100 slices, 0.5 mm pixels, 2 mm slices, bright square at x 120..160, y 20..60."""
    vox = np.zeros((2, 100, 200), np.int16)
    vox[:, 20:60, 120:160] = 1000
    # Axial: columns (i) run along L (x), rows (j) along P (y), slices (k) along S (z).
    axial = np.array([[0.0, 0.0, 1.0], [0.0, 1.0, 0.0], [1.0, 0.0, 0.0]])
    return Volume(vox, spacing=(2.0, 0.5, 0.5), origin=(-50.0, -25.0, 10.0), direction=axial)


# MedGemma sees a 896 x 896 letterbox of the 200 x 100 slice: scale 4.48, 224 px bars top and
# bottom. The square (x 120..160, y 20..60) is at x 537.6..716.8, y 313.6..492.8 of 896,
# i.e. box_2d [350, 600, 550, 800] in y-first 0-1000 units.
MEDGEMMA_REPLY = (
    "The bright square is in the upper right. Final Answer: A dense square lesion. "
    '```json\n[{"box_2d": [350, 600, 550, 800], "label": "lesion"}]\n```\nConfidence: 90%'
)


def test_boxes_come_back_to_image_pixels_and_patient_mm(volume: Volume) -> None:
    model = FakeVLM([MEDGEMMA_REPLY], logprob=-0.1)
    assert isinstance(model, VisionLanguageModel)
    answer = ask(model, volume, Question("Where is the lesion?", slice_index=1), family="medgemma")
    assert answer.answer.startswith("A dense square lesion")
    (finding,) = answer.findings
    assert finding.box is not None
    assert finding.box.as_tuple() == pytest.approx((120, 20, 160, 60), abs=0.05)
    assert finding.slice_index == 1
    data = finding.to_dict(volume)
    # Centre (140, 40) px -> LPS: x = -50 + 139.5 * 0.5, y = -25 + 39.5 * 0.5, z = 10 + 1 * 2.
    assert data["center_lps_mm"] == pytest.approx([19.75, -5.25, 12.0], abs=0.05)
    assert data["size_mm"] == pytest.approx([20.0, 20.0], abs=0.05)
    # Logprobs measured, so they (not the stated 90 %) give the confidence.
    assert answer.confidence_source == "logprobs"
    assert answer.confidence == pytest.approx(np.exp(-0.1), abs=1e-6)
    assert answer.stated_confidence == pytest.approx(0.9)
    assert {"prepare", "generate", "first_token", "parse", "total"} <= set(answer.timings)
    assert answer.model == "fake"


def test_request_holds_the_prepared_pixels_and_no_identifiers(volume: Volume) -> None:
    model = FakeVLM([MEDGEMMA_REPLY])
    ask(model, volume, Question("Where?", slice_index=0), family="medgemma")
    (request,) = model.requests
    (image,) = request.images
    assert image.size == (896, 896)
    assert request.messages[-1].text.count("Where?") == 1
    assert request.temperature == 0.0


def test_self_consistency_samples(volume: Volume) -> None:
    other = MEDGEMMA_REPLY.replace("A dense square lesion", "No lesion")
    model = FakeVLM([MEDGEMMA_REPLY, MEDGEMMA_REPLY, other, MEDGEMMA_REPLY])
    answer = ask(
        model,
        volume,
        Question("Where is the lesion?"),
        family="medgemma",
        options=AskOptions(samples=3),
    )
    assert answer.confidence_source == "self-consistency"
    assert answer.confidence == pytest.approx(0.75)
    assert [r.temperature for r in model.requests] == [0.0, 0.7, 0.7, 0.7]
    assert len({r.seed for r in model.requests}) == 4


def test_empty_reply_is_not_an_answer(volume: Volume) -> None:
    answer = ask(FakeVLM([""]), volume, Question("Anything?"), family="medgemma")
    assert answer.answer == "" and not answer.findings
    assert any("empty" in w for w in answer.warnings)
    assert answer.confidence is None and answer.confidence_source == "none"


def test_region_question_sends_context_and_close_up(volume: Volume) -> None:
    model = FakeVLM([MEDGEMMA_REPLY])
    q = Question("What is this?", slice_index=0, region=Box(110, 10, 170, 70))
    answer = ask(model, volume, q, family="qwen2.5-vl")
    assert len(model.requests[0].images) == 2
    assert answer.family == "qwen2.5-vl"


def test_every_request_goes_through_the_privacy_gate(volume: Volume) -> None:
    from voxrad.core.study import PatientIdentity

    identity = PatientIdentity(name="QUOKKA^WILHELMINA", patient_id="MRN-558213")
    model = FakeVLM([MEDGEMMA_REPLY])
    question = Question("Wilhelmina Quokka, MRN-558213: where is the lesion?", slice_index=1)
    answer = ask(model, volume, question, family="medgemma", identity=identity)
    (request,) = model.requests
    sent = "\n".join(m.text for m in request.messages)
    assert "Quokka" not in sent and "Wilhelmina" not in sent and "558213" not in sent
    assert "where is the lesion?" in sent
    assert answer.findings  # the answer itself is unaffected


def test_remote_engine_refused_unless_allowed(volume: Volume) -> None:
    from voxrad.assistant.privacy.gate import PrivacyPolicy, RemoteBackendDisabledError

    model = FakeVLM([MEDGEMMA_REPLY])
    with pytest.raises(RemoteBackendDisabledError):
        ask(model, volume, Question("Where?", slice_index=0), family="medgemma", remote=True)
    assert model.requests == []  # nothing left the process
    answer = ask(
        model,
        volume,
        Question("Where?", slice_index=0),
        family="medgemma",
        remote=True,
        privacy=PrivacyPolicy(allow_remote=True),
    )
    assert answer.findings


def test_answers_get_the_laterality_check() -> None:
    """The square lies at +x (patient left): an answer calling it right is flagged."""
    vox = np.full((2, 100, 200), -1000, np.int16)  # air
    vox[:, 10:90, 20:180] = 40  # the body, centred on column 100
    vox[:, 20:60, 120:160] = 1000  # the lesion, left of the midline (columns run along +x)
    axial = np.array([[0.0, 0.0, 1.0], [0.0, 1.0, 0.0], [1.0, 0.0, 0.0]])
    volume = Volume(
        vox,
        spacing=(2.0, 0.5, 0.5),
        origin=(-50.0, -25.0, 10.0),
        direction=axial,
        modality="CT",
        units="HU",
    )
    wrong_side = MEDGEMMA_REPLY.replace("A dense square lesion", "A dense lesion on the right")
    answer = ask(
        FakeVLM([wrong_side]), volume, Question("Where?", slice_index=1), family="medgemma"
    )
    assert any("left" in w.lower() and "right" in w.lower() for w in answer.warnings), (
        answer.warnings
    )
    same_side = MEDGEMMA_REPLY.replace("A dense square lesion", "A dense lesion on the left")
    ok = ask(FakeVLM([same_side]), volume, Question("Where?", slice_index=1), family="medgemma")
    assert not any("right" in w.lower() for w in ok.warnings), ok.warnings


def test_flagged_images_are_masked_before_they_leave() -> None:
    from voxrad.assistant.privacy.gate import BurnedInRisk, PrivacyPolicy

    # A square textured image: no letterbox bars, so black bands can only be the mask.
    texture = np.random.default_rng(1).integers(0, 255, size=(1, 100, 100)).astype(np.uint8)
    bright = Volume(texture, spacing=(1.0, 0.5, 0.5))
    model = FakeVLM([MEDGEMMA_REPLY, MEDGEMMA_REPLY])
    question = Question("Where?", slice_index=0)
    ask(model, bright, question, family="medgemma")
    unmasked = np.asarray(model.requests[0].images[0].pixels)
    assert unmasked[:50].max() > 0 and unmasked[-50:].max() > 0
    answer = ask(
        model,
        bright,
        question,
        family="medgemma",
        remote=True,
        privacy=PrivacyPolicy(allow_remote=True),
        image_risk=BurnedInRisk(True, ("ultrasound images usually show patient details",)),
    )
    pixels = np.asarray(model.requests[1].images[0].pixels)
    band = int(0.12 * pixels.shape[0])
    assert pixels[:band].max() == 0 and pixels[-band:].max() == 0
    assert pixels[pixels.shape[0] // 2].max() > 0
    assert any("Text bands were masked" in w for w in answer.warnings)


def test_audit_record_names_the_images_the_model_saw(volume: Volume, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from voxrad.assistant.history.auditing import record_answer
    from voxrad.core.settings import load_settings
    from voxrad.core.study import SeriesInfo
    from voxrad.records.audit import AuditLog

    sent = []
    answer = ask(
        FakeVLM([MEDGEMMA_REPLY]),
        volume,
        Question("Where?", slice_index=1),
        family="medgemma",
        on_request_sent=sent.append,
    )
    assert answer.seen_slices == (1,)
    one_to_one = SeriesInfo("1.2.3", "CT", "chest", volume.shape, sop_instance_uids=("u1", "u2"))
    # A resampled series has more slices than images: no slice can claim an image.
    resampled = SeriesInfo("1.2.3", "CT", "chest", (5, 100, 200), sop_instance_uids=("a", "b"))
    for n, (series, expected) in enumerate(((one_to_one, ["u2"]), (resampled, []))):
        with AuditLog(tmp_path / f"audit{n}", hash_uids=False) as log:
            record = record_answer(
                log,
                answer,
                Question("Where?", slice_index=1),
                sent[0],
                identity=None,
                backend="llama-cpp",
                remote=False,
                settings=load_settings(),
                series=series,
            )
        assert record.body["sop_instances"] == expected
