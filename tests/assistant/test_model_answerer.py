"""ModelAnswerer: the pipeline's questions through answering.ask to an engine, on the model
thread; a model that is not installed is a message, not a crash. Like ``voxrad ask``, the
open study's identity is stripped from what leaves, a remote engine gets burned-in text bands
masked, and every answer is in the audit log before it is shown (or it is withheld)."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from pipeline_fakes import EventLog, FakeSpeaker, FakeTranscriber, FakeViewer
from privacy_support import (
    ACCESSION,
    BIRTH_DATE,
    INSTITUTION,
    NAME,
    PATIENT_ID,
    SPOKEN_QUESTION,
    leaked,
)

from voxrad.assistant.loop.pipeline import AssistantPipeline
from voxrad.assistant.model_answerer import ModelAnswerer
from voxrad.backends.tts.base import Speaker
from voxrad.backends.vlm.base import GenerationRequest, GenerationResult, TokenCallback
from voxrad.backends.vlm.registry import ModelSpec
from voxrad.core import paths
from voxrad.core.settings import PrivacySettings, VlmSettings
from voxrad.core.study import PatientIdentity, SeriesInfo
from voxrad.records.audit import AuditError, AuditLog, StoredRecord, default_dir
from voxrad.records.audit_verify import verify_log

REPLY = "The lungs are clear. No effusion is seen."


class FakeEngine:
    """A VisionLanguageModel that streams a fixed reply and records what it was sent.

    With ``gate``, streaming pauses before the word ``pause_at`` until the gate is set.
    """

    is_remote = False

    def __init__(
        self,
        spec: ModelSpec,
        reply: str = REPLY,
        gate: threading.Event | None = None,
        pause_at: str = "",
    ) -> None:
        self.name = spec.name
        self.reply = reply
        self.gate = gate
        self.pause_at = pause_at
        self.requests: list[GenerationRequest] = []
        self.threads: set[str] = set()
        self.closed = 0

    def load(self) -> None:
        self.threads.add(threading.current_thread().name)

    def generate(
        self,
        request: GenerationRequest,
        *,
        on_token: TokenCallback | None = None,
        cancel: threading.Event | None = None,
    ) -> GenerationResult:
        self.threads.add(threading.current_thread().name)
        self.requests.append(request)
        for word in self.reply.split(" "):
            if self.gate is not None and word == self.pause_at:
                self.gate.wait(10)
            if on_token is not None:
                on_token(word + " ")
        return GenerationResult(self.reply, model=self.name, timings={"generate": 0.01})

    def close(self) -> None:
        self.closed += 1


def run_pipeline(
    answerer: ModelAnswerer,
    speaker: Speaker,
    text: str,
    during: Callable[[EventLog], None] | None = None,
    viewer: FakeViewer | None = None,
) -> object:
    pipeline = AssistantPipeline(
        viewer or FakeViewer(),
        transcriber_factory=FakeTranscriber,
        answerer_factory=lambda: answerer,
        speaker_factory=lambda: speaker,
    )
    log = EventLog()
    pipeline.add_listener(log)
    pipeline.start()
    try:
        turn_id = pipeline.submit_text(text)
        if during is not None:
            during(log)
        return log.finished(turn_id, timeout=30)
    finally:
        assert pipeline.shutdown()


def test_question_reaches_the_engine_and_the_answer_is_spoken(tmp_path: Path) -> None:
    gguf = tmp_path / "tiny-medgemma.gguf"
    gguf.write_bytes(b"GGUF")
    engines: list[FakeEngine] = []

    def factory(spec: ModelSpec, settings: VlmSettings, privacy: PrivacySettings) -> FakeEngine:
        engines.append(FakeEngine(spec))
        return engines[-1]

    answerer = ModelAnswerer(VlmSettings(model=str(gguf)), tmp_path, engine_factory=factory)
    speaker = FakeSpeaker()
    turn = run_pipeline(answerer, speaker, "Is there an effusion?")
    assert turn.ok, turn.messages
    assert turn.answer.answer == REPLY and turn.model == "tiny-medgemma"
    assert {"prepare", "parse"} <= set(turn.answer.timings)
    assert turn.timings["image_preparation"] == turn.answer.timings["prepare"]
    (engine,) = engines
    assert engine.threads == {"voxrad-vlm"} and engine.closed == 1
    (request,) = engine.requests
    assert len(request.images) == 1  # the slice on screen, as pixels only
    assert "Is there an effusion?" in " ".join(m.text for m in request.messages)
    assert speaker.said == ["The lungs are clear.", "No effusion is seen."]


def test_model_not_installed_is_a_message_on_the_turn() -> None:
    answerer = ModelAnswerer(VlmSettings(), paths.default_models_dir())  # nothing installed
    turn = run_pipeline(answerer, FakeSpeaker(), "Is there an effusion?")
    assert turn.answer is None
    assert "voxrad models pull" in turn.error, turn.error


MEDGEMMA_REPLY = (
    "The image shows fluid.\nFinal Answer: There is a small right effusion. No pneumothorax.\n"
    '```json\n[{"box_2d": [100, 200, 300, 400], "label": "effusion"}]\n```\nConfidence: 80%'
)


def test_answer_is_spoken_while_generating_without_reasoning_or_boxes(tmp_path: Path) -> None:
    gguf = tmp_path / "tiny-medgemma.gguf"
    gguf.write_bytes(b"GGUF")
    gate = threading.Event()
    engines: list[FakeEngine] = []

    def factory(spec: ModelSpec, settings: VlmSettings, privacy: PrivacySettings) -> FakeEngine:
        engines.append(FakeEngine(spec, MEDGEMMA_REPLY, gate, pause_at="No"))
        return engines[-1]

    def while_generating(log: EventLog) -> None:
        first = log.wait_for(lambda e: e.kind == "sentence")
        assert first.text == "There is a small right effusion."
        assert "answer" not in log.kinds()  # spoken before the model finished
        gate.set()

    answerer = ModelAnswerer(VlmSettings(model=str(gguf)), tmp_path, engine_factory=factory)
    speaker = FakeSpeaker()
    turn = run_pipeline(answerer, speaker, "Is there an effusion?", while_generating)
    assert turn.answer.answer == "There is a small right effusion. No pneumothorax."
    assert len(turn.answer.findings) == 1
    assert speaker.said == ["There is a small right effusion.", "No pneumothorax."]


IDENTITY = PatientIdentity(NAME, PATIENT_ID, BIRTH_DATE, ACCESSION, INSTITUTION)
STUDY_UID = "1.2.826.0.1.3680043.8.498.1001"
SERIES_UID = "1.2.826.0.1.3680043.8.498.1002"


def series_info(modality: str = "CT", *, burned_in: bool = False) -> SeriesInfo:
    return SeriesInfo(
        SERIES_UID,
        modality,
        "canary chest",
        (4, 8, 8),
        study_uid=STUDY_UID,
        burned_in_annotation=burned_in,
    )


def engine_answerer(
    tmp_path: Path,
    *,
    remote: bool = False,
    privacy: PrivacySettings | None = None,
    audit_dir: Path | None = None,
) -> tuple[ModelAnswerer, list[FakeEngine]]:
    tmp_path.mkdir(parents=True, exist_ok=True)
    gguf = tmp_path / "tiny-medgemma.gguf"
    gguf.write_bytes(b"GGUF")
    engines: list[FakeEngine] = []

    def factory(spec: ModelSpec, settings: VlmSettings, privacy: PrivacySettings) -> FakeEngine:
        engines.append(FakeEngine(spec))
        engines[-1].is_remote = remote
        return engines[-1]

    answerer = ModelAnswerer(
        VlmSettings(model=str(gguf)),
        tmp_path,
        privacy=privacy,
        engine_factory=factory,
        audit_dir=audit_dir,
    )
    return answerer, engines


def audit_records() -> list[StoredRecord]:
    with AuditLog() as log:
        return list(log.records())


def test_canary_identity_never_reaches_the_engine_and_the_answer_is_audited(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    writers: list[str] = []
    append = AuditLog.append

    def append_and_note(log: AuditLog, entry: object) -> StoredRecord:
        writers.append(threading.current_thread().name)
        return append(log, entry)  # type: ignore[arg-type]

    monkeypatch.setattr(AuditLog, "append", append_and_note)
    answerer, engines = engine_answerer(tmp_path)
    viewer = FakeViewer(identity=IDENTITY, series=series_info())
    turn = run_pipeline(answerer, FakeSpeaker(), SPOKEN_QUESTION, viewer=viewer)
    assert turn.ok, turn.messages
    assert turn.answer.answer == REPLY

    (request,) = engines[0].requests
    sent = "\n".join(m.text for m in request.messages)
    assert leaked(sent) == []
    assert "Is there a nodule in the left lung?" in sent  # the clinical question survives

    (record,) = audit_records()
    assert writers == ["voxrad-vlm"]  # written on the model thread, not the GUI's
    assert verify_log(default_dir()).ok
    body = record.body
    assert leaked(body["question"]) == [] and "nodule in the left lung" in body["question"]
    assert body["answer"] == REPLY and body["model"] == "tiny-medgemma"
    assert body["backend"] == "llama-cpp" and body["remote"] is False
    assert len(body["model_sha256"]) == 64  # the weights file's checksum
    assert body["uids"] == "hmac-sha256"  # privacy.hash_audit_uids is on by default
    dumped = json.dumps(body)
    assert body["series"] and SERIES_UID not in dumped and STUDY_UID not in dumped
    assert leaked(dumped) == []


def test_audit_uids_in_clear_when_the_site_asks_for_it(tmp_path: Path) -> None:
    privacy = PrivacySettings(hash_audit_uids=False)
    answerer, _ = engine_answerer(tmp_path, privacy=privacy)
    viewer = FakeViewer(identity=IDENTITY, series=series_info())
    turn = run_pipeline(answerer, FakeSpeaker(), "Is there an effusion?", viewer=viewer)
    assert turn.ok, turn.messages
    (record,) = audit_records()
    assert (record.body["study"], record.body["series"]) == (STUDY_UID, SERIES_UID)


def test_unwritable_audit_log_withholds_the_answer(tmp_path: Path) -> None:
    blocked = tmp_path / "audit"
    blocked.write_text("a file where the audit folder should be")
    answerer, engines = engine_answerer(tmp_path, audit_dir=blocked)
    speaker = FakeSpeaker()
    turn = run_pipeline(answerer, speaker, "Is there an effusion?")
    assert turn.answer is None
    assert "audit log" in turn.error and "withheld" in turn.error, turn.error
    assert "writable" in turn.error  # the hint says what to fix
    assert engines[0].requests == []  # checked before the model ran: nothing left VoxRad
    assert speaker.said == []


def test_failed_audit_write_after_generation_withholds_the_answer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def disk_full(log: AuditLog, entry: object) -> StoredRecord:
        raise AuditError("The answer could not be written to the audit log.")

    monkeypatch.setattr(AuditLog, "append", disk_full)
    answerer, engines = engine_answerer(tmp_path)
    turn = run_pipeline(answerer, FakeSpeaker(), "Is there an effusion?")
    assert len(engines[0].requests) == 1  # the model answered ...
    assert turn.answer is None  # ... but the answer is not shown
    assert "could not be written to the audit log" in turn.error
    assert "withheld" in turn.error, turn.error


def sent_pixels(tmp_path: Path, *, remote: bool, series: SeriesInfo | None) -> np.ndarray:
    privacy = PrivacySettings(allow_remote_backends=True)
    answerer, engines = engine_answerer(tmp_path, remote=remote, privacy=privacy)
    viewer = FakeViewer(identity=IDENTITY, series=series)
    turn = run_pipeline(answerer, FakeSpeaker(), "Is there an effusion?", viewer=viewer)
    assert turn.ok, turn.messages
    (request,) = engines[0].requests
    (image,) = request.images
    return image.pixels


def test_remote_engine_gets_burned_in_text_bands_masked(tmp_path: Path) -> None:
    flagged = series_info("US", burned_in=True)
    local = sent_pixels(tmp_path / "local", remote=False, series=flagged)
    remote = sent_pixels(tmp_path / "remote", remote=True, series=flagged)
    band = int(np.ceil(remote.shape[0] * PrivacySettings().text_band_fraction))
    # The local engine sees the whole image; the remote one gets black text bands.
    assert local[:band].any() and local[-band:].any()
    assert not remote[:band].any() and not remote[-band:].any()
    assert np.array_equal(remote[band:-band], local[band:-band])
    (record,) = (r for r in audit_records() if r.body["remote"])
    assert any("Text bands were masked" in w for w in record.body["warnings"])


def test_remote_engine_unflagged_series_is_sent_whole(tmp_path: Path) -> None:
    local = sent_pixels(tmp_path / "local", remote=False, series=series_info("CT"))
    remote = sent_pixels(tmp_path / "remote", remote=True, series=series_info("CT"))
    assert np.array_equal(local, remote)
