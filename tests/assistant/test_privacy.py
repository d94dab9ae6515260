"""Privacy: nothing that identifies the patient leaves VoxRad, is logged, or is exported.

The end-to-end test plants canary identifiers in a synthetic DICOM study and in a spoken
question, sends the question to a real OpenAI-compatible server on the loopback interface,
records it in the audit log and exports the log; no canary may appear in the bytes the server
received, in any log record above DEBUG, or in the export.
"""

from __future__ import annotations

import base64
import io
import json
import logging
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from privacy_support import (
    ACCESSION,
    BIRTH_DATE,
    INSTITUTION,
    NAME,
    PATIENT_ID,
    SPOKEN_QUESTION,
    leaked,
    loopback_server,
    write_study,
)

from voxrad.assistant.answering import AskOptions, to_request
from voxrad.assistant.privacy.gate import (
    BurnedInTextError,
    PrivacyError,
    PrivacyPolicy,
    RemoteBackendDisabledError,
    Scrubber,
    burned_in_risk,
    mask_text_bands,
    outgoing_request,
    scrub_text,
    text_band_mask,
)
from voxrad.assistant.request.imageprep import prepare_question
from voxrad.assistant.request.prompts import build_prompt
from voxrad.backends.vlm.base import ChatMessage, GenerationRequest, ImageInput
from voxrad.backends.vlm.openai_compat import OpenAICompatVLM
from voxrad.core.conversation import Answer, Question, Turn
from voxrad.core.settings import PrivacySettings
from voxrad.core.study import PatientIdentity
from voxrad.imaging.registry import open_study
from voxrad.records.audit import AuditEntry, AuditLog
from voxrad.records.audit_export import to_csv, to_json
from voxrad.records.canonical import pixel_digest

IDENTITY = PatientIdentity(NAME, PATIENT_ID, BIRTH_DATE, ACCESSION, INSTITUTION)


def _texts(body: bytes) -> str:
    payload = json.loads(body)
    out = []
    for message in payload["messages"]:
        content = message["content"]
        if isinstance(content, str):
            out.append(content)
        else:
            out.extend(c["text"] for c in content if c["type"] == "text")
    return "\n".join(out)


def _images(body: bytes) -> list[np.ndarray]:
    payload = json.loads(body)
    urls = [
        c["image_url"]["url"]
        for m in payload["messages"]
        if isinstance(m["content"], list)
        for c in m["content"]
        if c["type"] == "image_url"
    ]
    return [np.asarray(Image.open(io.BytesIO(base64.b64decode(u.split(",", 1)[1])))) for u in urls]


def test_canaries_never_leave_in_requests_logs_or_exports(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    study = open_study(write_study(tmp_path / "study"))
    assert study.identity.patient_id == PATIENT_ID  # the canaries really are in the study
    volume = study.find().load_volume()
    series = study.find().info
    history = (
        Turn(
            Question("Patient Quokka, ID ZX99173: any effusion?"),
            Answer("No effusion in Wilhelmina's chest."),
        ),
    )
    question = Question(SPOKEN_QUESTION, slice_index=1, series_uid=series.uid)
    prepared = prepare_question(volume, question, "qwen2.5-vl")
    prompt = build_prompt(question, prepared, family="qwen2.5-vl", history=history)
    request = to_request(prompt, prepared, AskOptions())
    assert leaked("\n".join(m.text for m in request.messages))  # before: full of identifiers

    clean, report = outgoing_request(
        request, study.identity, policy=PrivacyPolicy(allow_remote=True), remote=False
    )
    with loopback_server() as server:
        backend = OpenAICompatVLM(server.url, "test-model")
        backend.load()
        result = backend.generate(clean)
    (body,) = server.bodies
    sent = _texts(body)
    assert leaked(body.decode()) == []
    assert leaked(sent) == []
    assert "Is there a nodule in the left lung?" in sent  # the clinical question survives
    assert report.removed["name"] >= 3 and report.removed["id"] >= 2
    assert report.removed["date"] >= 2 and report.removed["institution"] == 1
    assert _images(body)[0].shape[2] == 3  # pixels did go

    with AuditLog() as log:
        log.append(
            AuditEntry(
                question=clean.messages[-1].text,
                answer=result.text,
                model="test-model",
                backend="openai",
                study_uid=series.study_uid,
                series_uid=series.uid,
                image_sha256=pixel_digest(img.pixels for img in clean.images),
            )
        )
        records = list(log.records())
    exported = to_json(records) + to_csv(records)
    assert leaked(exported) == []
    assert series.study_uid not in exported  # UIDs are salted hashes in the log

    loud = [r for r in caplog.records if r.levelno > logging.DEBUG]
    assert loud, "the path logs at INFO (so this check is not vacuous)"
    for record in loud:
        text = record.getMessage() + (record.exc_text or "")
        assert leaked(text) == [], (record.name, record.levelname)


def test_scrubber_removes_spoken_and_written_forms() -> None:
    scrubber = Scrubber.for_identity(IDENTITY)
    for text in (
        "wilhelmina quokka",
        "QUOKKA, WILHELMINA",
        "patient id z x 9 9 1 7 3",
        "ZX99173",
        "born 1961-03-05",
        "dob 05.03.1961",
        "5th of March 1961",
        "accession acc-55821-x",
        # tiny.en's renderings of the spoken chart (the letters run on or are lost).
        "accession CC 55821X",
        "the number was CC55821X",
        "MRN ZXi9173",
        "at saint bartleby  canary infirmary",
    ):
        clean, counts = scrubber.scrub(text)
        assert leaked(clean) == [], (text, clean)
        assert counts, text


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("call me on +44 20 7946 0958", "phone"),
        ("MRN: 48213977", "id"),
        ("medical record number 12-3456", "id"),
        ("accession CC 55821X, is there a nodule", "id"),
        ("uid 1.2.840.113619.2.55.3.604688119", "uid"),
        ("scan from 2024-01-03", "date"),
        ("mail jane.doe@example.org", "email"),
    ],
)
def test_generic_identifiers_go_without_knowing_the_patient(text: str, kind: str) -> None:
    clean, counts = Scrubber.for_identity(None).scrub(text)
    assert counts[kind] >= 1, clean
    assert f"[{kind}]" in clean


def test_a_labelled_id_split_into_words_goes_whole() -> None:
    # How tiny.en heard "accession A C C 5 5 8 2 1 X" once: the letters and digits apart.
    text = "accession CC 55821X, is there a nodule at slice 120?"
    clean, _ = Scrubber.for_identity(None).scrub(text)
    assert clean == "[id], is there a nodule at slice 120?"


@pytest.mark.parametrize(
    "text",
    [
        "Is there a 12 mm nodule at slice 120 in the left lower lobe?",
        "Compare boxes [120, 240, 360, 480] and [10, 20, 30, 40].",
        "Window 40 400, slices 3 to 7, T2 signal, grade 2.5",
    ],
)
def test_clinical_text_is_left_alone(text: str) -> None:
    assert scrub_text(text, IDENTITY) == text


def test_remote_is_refused_unless_allowed() -> None:
    request = GenerationRequest((ChatMessage("user", ("hello",)),))
    with pytest.raises(RemoteBackendDisabledError) as err:
        outgoing_request(request, IDENTITY, policy=PrivacyPolicy(), remote=True)
    assert "switched off" in err.value.user_message()
    assert PrivacyPolicy.from_settings(PrivacySettings()).allow_remote is False
    outgoing_request(request, IDENTITY, policy=PrivacyPolicy(allow_remote=True), remote=True)


def test_leak_check_is_a_last_line_of_defence() -> None:
    broken = Scrubber.for_identity(IDENTITY)
    assert broken.leaks("for ZX 99173") == ["id"]
    assert broken.leaks("nothing here") == []
    assert issubclass(RemoteBackendDisabledError, PrivacyError)


def test_burned_in_flags() -> None:
    assert burned_in_risk(burned_in_annotation=True).flagged
    assert not burned_in_risk(burned_in_annotation=False, modality="CT").flagged
    assert not burned_in_risk(
        burned_in_annotation=None, sop_class_uid="1.2.840.10008.5.1.4.1.1.2"
    ).flagged
    us = burned_in_risk(burned_in_annotation=False, sop_class_uid="1.2.840.10008.5.1.4.1.1.6.1")
    assert us.flagged and "ultrasound" in us.reasons[0]
    assert burned_in_risk(burned_in_annotation=None, modality="US").flagged
    sc = burned_in_risk(burned_in_annotation=None, sop_class_uid="1.2.840.10008.5.1.4.1.1.7.2")
    assert sc.flagged


def test_text_band_mask_and_masking() -> None:
    mask = text_band_mask(100, 40, 0.1)
    assert mask[:10].all() and mask[90:].all() and not mask[10:90].any()
    image = np.full((100, 40, 3), 200, np.uint8)
    masked = mask_text_bands(image, 0.1)
    assert (masked[:10] == 0).all() and (masked[90:] == 0).all() and (masked[10:90] == 200).all()
    assert (image == 200).all()  # the original is untouched


def test_flagged_images_are_masked_before_they_leave() -> None:
    image = np.full((50, 60, 3), 255, np.uint8)
    request = GenerationRequest((ChatMessage("user", (ImageInput(image), "what is this?")),))
    risk = burned_in_risk(burned_in_annotation=None, modality="US")
    policy = PrivacyPolicy(allow_remote=True, mask_text_bands=True, text_band_fraction=0.2)
    with loopback_server() as server:
        clean, report = outgoing_request(
            request, IDENTITY, policy=policy, remote=True, image_risk=risk
        )
        OpenAICompatVLM(server.url, "m").generate(clean)
    (sent,) = _images(server.bodies[0])
    assert report.masked_images == 1 and report.warnings
    assert (sent[:10] == 0).all() and (sent[40:] == 0).all() and (sent[10:40] == 255).all()


def test_unmasked_flagged_image_needs_confirmation_for_remote() -> None:
    image = np.zeros((20, 20, 3), np.uint8)
    request = GenerationRequest((ChatMessage("user", (ImageInput(image), "q")),))
    risk = burned_in_risk(burned_in_annotation=True)
    policy = PrivacyPolicy(allow_remote=True, mask_text_bands=False)
    with pytest.raises(BurnedInTextError, match="burned-in"):
        outgoing_request(request, None, policy=policy, remote=True, image_risk=risk)
    _, report = outgoing_request(
        request, None, policy=policy, remote=True, image_risk=risk, confirmed_burned_in=True
    )
    assert report.masked_images == 0 and report.warnings
    # A local backend needs no confirmation: the pixels stay on this computer.
    outgoing_request(request, None, policy=policy, remote=False, image_risk=risk)


def test_log_redactor_scrubs_records_above_debug() -> None:
    from voxrad.assistant.privacy.gate import LogRedactor

    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            self.format(record)
            records.append(record)

    handler = Keep()
    redactor = LogRedactor()
    handler.addFilter(redactor)
    log = logging.getLogger("voxrad.test.redactor")
    log.addHandler(handler)
    log.propagate = False
    log.setLevel(logging.DEBUG)
    try:
        log.info("opened %s", "/data/QUOKKA_WILHELMINA/ZX-99173")
        redactor.set_identity(IDENTITY)
        log.info("opened %s", "/data/QUOKKA_WILHELMINA/ZX-99173")
        log.info("scan of 2026-01-03 took 5 s")  # not the patient's: left alone
        try:
            raise ValueError("cannot read /data/Quokka/ZX99173/x.dcm")
        except ValueError:
            log.exception("load failed")
        log.debug("debug keeps %s", "QUOKKA")
    finally:
        log.removeHandler(handler)
    assert "QUOKKA" in records[0].getMessage()  # no study open yet: nothing to match
    assert leaked(records[1].getMessage()) == []
    assert records[2].getMessage() == "scan of 2026-01-03 took 5 s"
    assert records[3].exc_text and leaked(records[3].exc_text) == []
    assert "ValueError" in records[3].exc_text
    assert records[4].getMessage() == "debug keeps QUOKKA"


@pytest.mark.parametrize(
    "text",
    [
        "1." * 20000,
        " " * 40000,
        "z x 9 9 1 7 " * 4000,
        "mrn is number " * 3000,
        "12/12/" * 8000,
        "a.a@" * 10000,
        "+1 " * 10000,
    ],
)
def test_scrubbing_stays_linear_on_hostile_text(text: str) -> None:
    """A transcript can be anything: no pattern may backtrack into seconds."""
    import time

    scrubber = Scrubber.for_identity(IDENTITY)
    start = time.perf_counter()
    scrubber.scrub(text)
    assert time.perf_counter() - start < 1.0  # measured ~0.03 s; 30x slack for a busy CPU


@pytest.mark.parametrize("scope", ["slice", "region", "volume"])
def test_scrubbing_leaves_every_family_prompt_intact(scope: str) -> None:
    """The gate scrubs whole prompts; it must not touch format rules, coordinates or history."""
    from voxrad.core.conversation import Box
    from voxrad.core.families import _FAMILIES
    from voxrad.core.volume import Volume

    volume = Volume(np.zeros((9, 300, 420), np.int16), (2.5, 0.7, 0.7), modality="CT", units="HU")
    region = Box(100, 80, 220, 190) if scope == "region" else None
    question = Question("Is there a 12 mm nodule on slice 5?", 4, region, scope)  # type: ignore[arg-type]
    history = (Turn(Question("Any effusion?"), Answer('{"box_2d": [120, 240, 360, 480]} No.')),)
    scrubber = Scrubber.for_identity(IDENTITY)
    for family in sorted(_FAMILIES):
        prepared = prepare_question(volume, question, family)
        prompt = build_prompt(question, prepared, family=family, history=history)
        for message in prompt.messages:
            assert scrubber.scrub(message.text) == (message.text, {}), family


#: What faster-whisper tiny.en made of espeak-ng reading the canary question aloud (kept as
#: a fixed regression case; the test below produces it afresh).
GARBLED_TRANSCRIPT = (
    "This is Wilfelmiekwaka, MRN ZXI-9173, V8 on birth March 5th, 1961, accession, "
    "C-C-5-5-821X, from St. Arnold B. Canary, Infirmary. Is there a nodule in the left lung?"
)


def test_names_garbled_by_speech_recognition_still_go() -> None:
    scrubber = Scrubber.for_identity(IDENTITY)
    clean, counts = scrubber.scrub(GARBLED_TRANSCRIPT)
    assert leaked(clean) == [] and counts["name"] >= 1
    assert "Is there a nodule in the left lung?" in clean
    for spoken in ("Patient Kwaka", "Wilhelmena", "Zefirine", "Bartleby's"):
        assert "[" in scrubber.scrub(spoken)[0], spoken
    clinical = "hardening, anatomy, consolidation, effusion, pneumothorax, lymphadenopathy"
    assert scrubber.scrub(clinical)[0] == clinical


@pytest.mark.models
def test_spoken_canary_question_through_real_speech_recognition(tmp_path: Path) -> None:
    """espeak-ng reads the chart aloud, faster-whisper tiny.en transcribes it, and the gate
    sends none of it to a real loopback server."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from speech_support import espeak_wav, require_tools
    from voxrad.audio.files import read_wav
    from voxrad.backends.asr.faster_whisper import FasterWhisperTranscriber

    require_tools("espeak-ng")
    spoken = (
        "This is Wilhelmina Quokka, M R N Z X 9 9 1 7 3, date of birth March 5th 1961, "
        "accession A C C 5 5 8 2 1 X, from Saint Bartleby Canary Infirmary. "
        "Is there a nodule in the left lung?"
    )
    audio, rate = read_wav(str(espeak_wav(spoken, tmp_path)))
    transcriber = FasterWhisperTranscriber()
    transcriber.load()
    try:
        transcript = transcriber.transcribe(audio, sample_rate=rate).text
    finally:
        transcriber.close()
    request = GenerationRequest(
        (ChatMessage("user", (ImageInput(np.zeros((16, 16, 3), np.uint8)), transcript)),)
    )
    try:
        clean, report = outgoing_request(
            request, IDENTITY, policy=PrivacyPolicy(allow_remote=True), remote=True
        )
    except PrivacyError:
        # tiny.en's wording varies between runs; when a garbled identifier survives
        # scrubbing, the gate refuses to send anything, which is also a pass.
        return
    with loopback_server() as server:
        OpenAICompatVLM(server.url, "m").generate(clean)
    assert leaked(server.bodies[0].decode()) == [], transcript
    # Not vacuous: the recogniser did hear identifiers, and the gate removed them. How many it
    # hears varies from run to run (tiny.en once looped on the spelled-out record number
    # after the name, "M-R-M-V-X-I-N-V-V-V..."), so at least one; every canary the typed
    # chart holds is checked with exact text in the tests above.
    assert sum(report.removed.values()) >= 1, transcript
