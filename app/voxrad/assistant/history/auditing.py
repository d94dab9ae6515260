"""The hook that puts every answer in the audit log (:mod:`voxrad.records.audit`).

Call :func:`record_answer` once per answer shown, with the request exactly as it left
VoxRad (after :func:`voxrad.assistant.privacy.gate.outgoing_request`): the log then holds the
question as the model received it (identifiers scrubbed) and the digest of the very pixels it
saw, plus the settings that shape what a model answers (never secrets such as API keys).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from voxrad.assistant.privacy.gate import Scrubber
from voxrad.backends.vlm.base import GenerationRequest
from voxrad.core.conversation import Answer, Question
from voxrad.core.settings import Settings
from voxrad.core.study import PatientIdentity, SeriesInfo
from voxrad.records.audit import AuditEntry, AuditLog, StoredRecord
from voxrad.records.canonical import pixel_digest

#: vlm settings that change an answer. Keys, URLs' credentials and timeouts are left out.
_VLM_FIELDS = (
    "backend",
    "model",
    "gpu_layers",
    "context_tokens",
    "max_answer_tokens",
    "temperature",
    "sample_temperature",
    "self_consistency_samples",
    "server_model",
)


def output_settings(settings: Settings, request: GenerationRequest | None = None) -> dict[str, Any]:
    """The settings that affect what the model answers, flat ``section.field`` keys.

    The site server appears as its host name only (no path, user or key); the request's own
    sampling values are added when given, since a caller may override the settings.
    """
    vlm = settings.vlm
    out: dict[str, Any] = {f"vlm.{name}": getattr(vlm, name) for name in _VLM_FIELDS}
    out["vlm.server_host"] = urlsplit(vlm.server_url).hostname or ""
    for name, value in settings.privacy.model_dump().items():
        out[f"privacy.{name}"] = value
    if request is not None:
        out["request.max_tokens"] = request.max_tokens
        out["request.temperature"] = request.temperature
        out["request.top_p"] = request.top_p
        out["request.seed"] = request.seed
    return out


def audit_entry(
    answer: Answer,
    question: Question,
    sent: GenerationRequest,
    *,
    identity: PatientIdentity | None,
    backend: str,
    remote: bool,
    settings: Settings,
    series: SeriesInfo | None = None,
    sop_instance_uids: Sequence[str] = (),
    model_sha256: str = "",
) -> AuditEntry:
    """The audit entry for one answer (see :func:`record_answer`)."""
    question_text = Scrubber.for_identity(identity).scrub(question.text)[0]
    return AuditEntry(
        question=question_text,
        answer=answer.answer,
        model=answer.model,
        backend=backend,
        findings=tuple(f.to_dict() for f in answer.findings),
        confidence=answer.confidence,
        confidence_source=answer.confidence_source,
        model_sha256=model_sha256,
        study_uid=series.study_uid if series else "",
        series_uid=series.uid if series else question.series_uid,
        sop_instance_uids=tuple(sop_instance_uids),
        image_sha256=pixel_digest(image.pixels for image in sent.images),
        remote=remote,
        settings=output_settings(settings, sent),
        warnings=answer.warnings,
        finish_reason=answer.finish_reason,
    )


def seen_sop_instance_uids(answer: Answer, series: SeriesInfo) -> tuple[str, ...]:
    """SOP Instance UIDs of the images the model saw, when slices map 1:1 to acquired images.

    A resampled volume (tilt, irregular spacing) has interpolated slices that belong to no
    single image: then nothing is claimed.
    """
    uids = series.sop_instance_uids
    if len(uids) != series.shape[0]:
        return ()
    return tuple(uids[k] for k in answer.seen_slices if 0 <= k < len(uids))


def record_answer(
    log: AuditLog,
    answer: Answer,
    question: Question,
    sent: GenerationRequest,
    *,
    identity: PatientIdentity | None,
    backend: str,
    remote: bool,
    settings: Settings,
    series: SeriesInfo | None = None,
    sop_instance_uids: Sequence[str] = (),
    model_path: Path | None = None,
) -> StoredRecord:
    """Write the answer to ``log`` and return the committed record.

    ``model_path`` is the weights file (its SHA-256 is cached by the log, so large files are
    hashed once). Raises :class:`~voxrad.records.audit.AuditError` when the log cannot be
    written: the caller must then not present the answer as audited.
    """
    checksum = log.file_checksum(model_path) if model_path is not None else ""
    if not sop_instance_uids and series is not None:
        sop_instance_uids = seen_sop_instance_uids(answer, series)
    entry = audit_entry(
        answer,
        question,
        sent,
        identity=identity,
        backend=backend,
        remote=remote,
        settings=settings,
        series=series,
        sop_instance_uids=sop_instance_uids,
        model_sha256=checksum,
    )
    return log.append(entry)
