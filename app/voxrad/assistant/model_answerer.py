"""The pipeline's :class:`~voxrad.assistant.loop.turns.Answerer` over a real vision-language engine.

Resolving the model (catalog name or file), creating the engine and loading it all happen in
:meth:`ModelAnswerer.load`, which the pipeline calls on its model thread, so a missing model
becomes a message on the first question instead of a crash at start-up, and the engine
(llama.cpp context, CUDA state) lives on that one thread.

The raw token stream holds the model's reasoning and box syntax, which must not be read
aloud: :class:`~voxrad.assistant.reply.stream.AnswerTextFilter` passes only the answer
proper to ``on_answer_text``, so the first sentence is spoken while the model still writes.

Like ``voxrad ask``, every request leaves through the privacy gate with the open study's
identity (and, for a remote engine, the series' burned-in text risk), and every answer is
written to the audit log before it is returned: an answer that cannot be recorded is
withheld, with a message that says so. The log is opened and written on the model thread,
never on the GUI thread.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

from voxrad.assistant.answering import AskOptions, ask
from voxrad.assistant.history.auditing import record_answer
from voxrad.assistant.privacy.gate import BurnedInRisk, PrivacyPolicy, burned_in_risk
from voxrad.assistant.reply.stream import AnswerTextFilter
from voxrad.backends.vlm.base import GenerationRequest, VisionLanguageModel
from voxrad.backends.vlm.registry import ModelSpec, create_app_vlm, resolve_model
from voxrad.core.conversation import Answer, Question, Turn
from voxrad.core.errors import BackendError
from voxrad.core.settings import PrivacySettings, Settings, VlmSettings
from voxrad.core.study import PatientIdentity, SeriesInfo
from voxrad.core.volume import Volume
from voxrad.records.audit import AuditError, AuditLog

logger = logging.getLogger(__name__)

EngineFactory = Callable[[ModelSpec, VlmSettings, PrivacySettings], VisionLanguageModel]

WITHHELD = "The answer is withheld: VoxRad shows no answer it cannot record in the audit log."


class AnswerNotAuditedError(AuditError):
    """An answer (or the question about to be asked) cannot be recorded: nothing is shown.

    The message says the answer is withheld, so the clinician does not wait for it or act on
    any text that streamed before the write failed.
    """


def _withheld(exc: BaseException) -> AnswerNotAuditedError:
    if isinstance(exc, AuditError):
        return AnswerNotAuditedError(f"{exc.message} {WITHHELD}", hint=exc.hint or None)
    reason = f"The audit log could not be written ({type(exc).__name__})."
    return AnswerNotAuditedError(f"{reason} {WITHHELD}")


class ModelAnswerer:
    """Answers questions with the model named in the ``vlm`` settings.

    Parameters
    ----------
    settings, privacy
        The ``vlm`` and ``privacy`` settings sections.
    models_dir
        Where installed models are (``settings.models.resolved_directory()``).
    engine_factory
        Builds the engine for a resolved model; defaults to the registry's
        :func:`~voxrad.backends.vlm.registry.create_app_vlm` (in a child process when
        ``settings.separate_process``).
    audit_dir
        Where the audit log is (default: :func:`voxrad.records.audit.default_dir`). The
        answerer holds the application's one :class:`~voxrad.records.audit.AuditLog`, opened
        on the model thread with ``privacy.hash_audit_uids``.
    options
        How to ask (default: :meth:`AskOptions.from_settings` of ``settings``); ``voxrad ask``
        passes its own answer length and sample count.
    """

    def __init__(
        self,
        settings: VlmSettings,
        models_dir: Path,
        *,
        privacy: PrivacySettings | None = None,
        engine_factory: EngineFactory | None = None,
        audit_dir: Path | None = None,
        options: AskOptions | None = None,
    ) -> None:
        self.settings = settings
        self.models_dir = models_dir
        self.privacy = privacy or PrivacySettings()
        self.audit_dir = audit_dir
        self._engine_factory = engine_factory or create_app_vlm
        self._model: VisionLanguageModel | None = None
        self._spec: ModelSpec | None = None
        self._audit: AuditLog | None = None
        self.options = options or AskOptions.from_settings(settings)
        self.name = settings.model
        self._requests = 0
        #: The audit record of the last answer (``voxrad ask`` prints its number).
        self.last_audit_seq: int | None = None

    @property
    def notice(self) -> str:
        """What the loaded engine says the clinician should know (e.g. it runs without a GPU,
        unquantised); empty when nothing."""
        return str(getattr(self._model, "notice", "") or "")

    def resolve(self) -> ModelSpec:
        """Find the model's files without loading anything (ModelNotInstalledError): quick,
        so "not installed" is said before a study or a model is read."""
        if self._spec is None:
            self._spec = resolve_model(self.settings, self.models_dir)
            self.name = self._spec.name
        return self._spec

    def load(self) -> None:
        """Resolve, create and load the engine (ModelNotInstalledError, BackendError).

        Also opens the audit log and hashes the weights file into its cache, so the first
        answer does not wait for either; a log that cannot be opened now is tried again at
        each question (the folder may be fixed meanwhile).
        """
        spec = self.resolve()
        model = self._engine_factory(spec, self.settings, self.privacy)
        model.load()
        self._model = model
        try:
            log = self._audit_log()
            weights = self._weights()
            if weights is not None:
                log.file_checksum(weights)
        except (AuditError, OSError, sqlite3.Error) as exc:
            logger.warning("audit log not ready after loading the model: %s", type(exc).__name__)

    def answer(
        self,
        question: Question,
        volume: Volume,
        *,
        history: Sequence[Turn] = (),
        on_token: Callable[[str], None] | None = None,
        on_answer_text: Callable[[str], None] | None = None,
        cancel: threading.Event | None = None,
        identity: PatientIdentity | None = None,
        series: SeriesInfo | None = None,
    ) -> Answer:
        """Answer through :func:`voxrad.assistant.answering.ask` and record the answer.

        Raises
        ------
        AnswerNotAuditedError
            The audit log cannot be opened (checked before the model runs) or written (the
            generated answer is then withheld).
        PrivacyError, BackendError, GenerationCancelledError
            As :func:`~voxrad.assistant.answering.ask`.
        """
        if self._model is None or self._spec is None:
            raise BackendError("The model is not loaded.", hint="Ask again in a moment.")
        try:
            # Before generating: an answer that cannot be recorded is not worth waiting for.
            log = self._audit_log()
        except AuditError as exc:
            raise _withheld(exc) from exc
        self._requests += 1
        stream = AnswerTextFilter(self._spec.family)

        def token(piece: str) -> None:
            if on_token is not None:
                on_token(piece)
            speakable = stream.feed(piece)
            if speakable and on_answer_text is not None:
                on_answer_text(speakable)

        remote = self._model.is_remote
        sent: list[GenerationRequest] = []
        answer = ask(
            self._model,
            volume,
            question,
            family=self._spec.family,
            model_name=self._spec.name,
            history=history,
            options=self.options,
            on_token=token,
            cancel=cancel,
            request_id=self._requests,
            identity=identity,
            privacy=PrivacyPolicy.from_settings(self.privacy),
            remote=remote,
            # Burned-in text matters only when pixels leave this workstation.
            image_risk=image_risk(series, volume) if remote else None,
            on_request_sent=sent.append,
        )
        try:
            record = record_answer(
                log,
                answer,
                question,
                sent[0],
                identity=identity,
                backend=self._spec.backend,
                remote=remote,
                # Only these two sections shape an answer (auditing.output_settings).
                settings=Settings.model_construct(vlm=self.settings, privacy=self.privacy),
                series=series,
                model_path=self._weights(),
            )
        except (AuditError, OSError, sqlite3.Error) as exc:
            logger.error("answer withheld: the audit log could not be written", exc_info=exc)
            raise _withheld(exc) from exc
        logger.debug("answer recorded as audit record %d", record.seq)
        self.last_audit_seq = record.seq
        return answer

    def close(self) -> None:
        model, self._model = self._model, None
        if model is not None:
            model.close()
        log, self._audit = self._audit, None
        if log is not None:
            log.close()

    def _audit_log(self) -> AuditLog:
        if self._audit is None:
            self._audit = AuditLog(self.audit_dir, hash_uids=self.privacy.hash_audit_uids)
        return self._audit

    def _weights(self) -> Path | None:
        """The weights file to checksum (a transformers folder or a server has none)."""
        path = self._spec.model_path if self._spec is not None else None
        return path if path is not None and path.is_file() else None


def image_risk(series: SeriesInfo | None, volume: Volume) -> BurnedInRisk:
    """The burned-in text risk of the series shown, as ``voxrad ask`` judges it.

    Without the series' headers (a preview, a non-DICOM file) the volume's modality still
    flags ultrasound and screen captures.
    """
    if series is None:
        return burned_in_risk(burned_in_annotation=None, modality=volume.modality)
    return burned_in_risk(
        burned_in_annotation=series.burned_in_annotation or None,
        sop_class_uid=series.sop_class_uid,
        modality=series.modality,
    )
