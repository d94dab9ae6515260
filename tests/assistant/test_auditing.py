"""The audit hook: the record holds what was sent, scrubbed, with the settings that matter."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
from privacy_support import ACCESSION, BIRTH_DATE, INSTITUTION, NAME, PATIENT_ID, leaked

from voxrad.assistant.history.auditing import output_settings, record_answer
from voxrad.assistant.privacy.gate import PrivacyPolicy, burned_in_risk, outgoing_request
from voxrad.backends.vlm.base import ChatMessage, GenerationRequest, ImageInput
from voxrad.core.conversation import Answer, Box, Finding, Question
from voxrad.core.settings import Settings
from voxrad.core.study import PatientIdentity, SeriesInfo
from voxrad.records.audit import AuditLog
from voxrad.records.audit_verify import verify_log
from voxrad.records.canonical import canonical_json, pixel_digest

IDENTITY = PatientIdentity(NAME, PATIENT_ID, BIRTH_DATE, ACCESSION, INSTITUTION)


def test_record_answer_holds_what_was_sent(tmp_path: Path) -> None:
    settings = Settings(
        vlm={
            "temperature": 0.2,
            "api_key": "sk-SECRET-KEY",
            "server_url": "https://ai.example.org/v1",
        },
    )
    image = np.full((40, 40, 3), 200, np.uint8)
    question = Question("Quokka ZX-99173: is there a nodule?", slice_index=4, series_uid="9.9")
    request = GenerationRequest((ChatMessage("user", (ImageInput(image), question.text)),))
    sent, _ = outgoing_request(
        request,
        IDENTITY,
        policy=PrivacyPolicy(allow_remote=True),
        remote=True,
        image_risk=burned_in_risk(burned_in_annotation=True),
    )
    answer = Answer(
        "A nodule.",
        findings=(Finding("nodule", Box(1, 2, 3, 4), 0.7, 4),),
        confidence=0.7,
        confidence_source="logprobs",
        model="medgemma-1.5-4b-it",
    )
    weights = tmp_path / "model.gguf"
    weights.write_bytes(b"gguf weights")
    series = SeriesInfo(
        uid="1.2.3.4.5.6", modality="CT", description="", shape=(9, 40, 40), study_uid="1.2.3.4.5"
    )
    with AuditLog(tmp_path / "audit") as log:
        record = record_answer(
            log,
            answer,
            question,
            sent,
            identity=IDENTITY,
            backend="openai",
            remote=True,
            settings=settings,
            series=series,
            sop_instance_uids=("1.2.3.4.5.6.7",),
            model_path=weights,
        )
    body = record.body
    assert body["question"] == "[name] [id]: is there a nodule?"
    assert leaked(canonical_json(body)) == []
    # The digest is of the masked pixels that actually left, not of the original image.
    assert body["image_sha256"] == pixel_digest([sent.images[0].pixels])
    assert body["image_sha256"] != pixel_digest([image])
    assert body["model_sha256"] == hashlib.sha256(b"gguf weights").hexdigest()
    assert body["remote"] is True and body["backend"] == "openai"
    assert body["findings"][0]["box_px"] == [1.0, 2.0, 3.0, 4.0]
    assert body["settings"]["vlm.temperature"] == 0.2
    assert body["settings"]["vlm.server_host"] == "ai.example.org"
    assert body["settings"]["privacy.allow_remote_backends"] is False
    assert "SECRET" not in canonical_json(body)
    assert "1.2.3.4.5" not in canonical_json(body) and len(body["sop_instances"]) == 1
    assert verify_log(tmp_path / "audit").ok


def test_output_settings_never_hold_secrets() -> None:
    values = output_settings(Settings(vlm={"api_key": "sk-XYZ", "api_key_env": "MY_KEY_VAR"}))
    assert "sk-XYZ" not in canonical_json(values)
    assert not any("key" in k for k in values)
