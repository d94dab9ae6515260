"""A cut-off answer through the whole app path, from a real loopback site server whose stream
drops mid-answer: the panel's turn, the spoken reply, the audit record, the saved
conversation and the HTML report all say it was cut off, and the next question is whole."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from pipeline_fakes import EventLog, FakeSpeaker, FakeTranscriber, FakeViewer

from site_server_support import NORMAL_TEXT, FaultServer, cut_mid_answer, fault_server, url_of
from voxrad.assistant.model_answerer import ModelAnswerer
from voxrad.assistant.pipeline import AssistantPipeline
from voxrad.assistant.store import record_from_dict, record_to_dict
from voxrad.backends.vlm.engines import ModelSpec
from voxrad.backends.vlm.openai_compat import OpenAICompatVLM
from voxrad.core.conversation import CUT_OFF_SPOKEN, Answer
from voxrad.core.settings import PrivacySettings, VlmSettings
from voxrad.records.audit import AuditLog
from voxrad.records.report import ReportTurn, study_report_html


def _answerer(tmp_path: Path, srv: FaultServer) -> ModelAnswerer:
    gguf = tmp_path / "tiny-medgemma.gguf"
    gguf.write_bytes(b"GGUF")

    def factory(spec: ModelSpec, settings: VlmSettings, privacy: PrivacySettings) -> object:
        return OpenAICompatVLM(url_of(srv), "m", read_timeout_s=2.0)

    return ModelAnswerer(
        VlmSettings(model=str(gguf)),
        tmp_path,
        engine_factory=factory,  # type: ignore[arg-type]
        audit_dir=tmp_path / "audit",
    )


def _ask(answerer: ModelAnswerer, speaker: FakeSpeaker, text: str) -> tuple[object, list[object]]:
    saved: list[object] = []
    pipeline = AssistantPipeline(
        FakeViewer(),
        transcriber_factory=FakeTranscriber,
        answerer_factory=lambda: answerer,
        speaker_factory=lambda: speaker,
    )
    log = EventLog()
    pipeline.add_listener(log)
    pipeline.open_conversation([], saved.append)
    pipeline.start()
    try:
        turn_id = pipeline.submit_text(text)
        return log.finished(turn_id, timeout=30), saved
    finally:
        assert pipeline.shutdown()


def test_a_stream_cut_mid_answer_is_marked_everywhere(tmp_path: Path) -> None:
    with fault_server() as srv:
        srv.scenarios.append(cut_mid_answer)
        speaker = FakeSpeaker()
        turn, saved = _ask(_answerer(tmp_path, srv), speaker, "Is there an effusion?")
        answer: Answer = turn.answer  # type: ignore[attr-defined]
        # The panel's turn: the fragment, marked, with the reason first among its notes.
        assert answer.answer == "The le"
        assert answer.cut_off and answer.finish_reason == "connection"
        assert answer.cut_off_note == (
            "The answer was cut off: the connection to the model server 127.0.0.1 was lost."
        )
        assert answer.warnings[0] == answer.cut_off_note
        # Spoken: not the unfinished "The le", but that it was cut off.
        assert speaker.said == [CUT_OFF_SPOKEN]
        # The audit record says how the answer ended.
        (record,) = AuditLog(tmp_path / "audit").records()
        assert record.body["answer"] == "The le"
        assert (record.body["finish_reason"], record.body["cut_off"]) == ("connection", True)
        # The saved conversation keeps the mark.
        (stored,) = saved
        again = record_from_dict(record_to_dict(stored))  # type: ignore[arg-type]
        assert again.answer is not None and again.answer.cut_off_note == answer.cut_off_note
        # The HTML report puts the mark above the fragment, once.
        page = study_report_html(
            [ReportTurn("Is there an effusion?", answer, image=np.zeros((4, 4, 3), np.uint8))],
            text_filter=lambda s: s,
            model="m",
        )
        assert page.count("The answer was cut off") == 1
        assert page.index("The answer was cut off") < page.index("<p>The le</p>")

        # The next question is whole, and spoken as the answer.
        speaker = FakeSpeaker()
        turn, _ = _ask(_answerer(tmp_path, srv), speaker, "Is there an effusion?")
        answer = turn.answer  # type: ignore[attr-defined]
        assert (answer.answer, answer.finish_reason) == ("no nodule.", "complete")
        assert not answer.cut_off and answer.cut_off_note == ""
        assert speaker.said == ["no nodule."]
        assert NORMAL_TEXT.endswith(answer.answer)
        assert list(AuditLog(tmp_path / "audit").records())[-1].body["cut_off"] is False


def test_turns_saved_before_answers_said_how_they_ended_read_as_complete() -> None:
    old = {
        "answer": "No effusion.",
        "reasoning": "",
        "findings": [],
        "confidence": None,
        "confidence_source": "none",
        "stated_confidence": None,
        "warnings": [],
        "model": "m",
        "family": "medgemma",
        "raw_text": "",
        "timings": {},
    }
    record = {
        "turn_id": 1,
        "source": "typed",
        "kind": "question",
        "transcript": "q",
        "command": None,
        "question": None,
        "answer": old,
        "model": "m",
        "messages": [],
        "error": "",
        "cancelled": False,
        "spoken": False,
        "timings": {},
        "created": 0.0,
    }
    answer = record_from_dict(record).answer
    assert answer is not None and not answer.cut_off
    odd = record_from_dict({**record, "answer": {**old, "finish_reason": "??"}}).answer
    assert odd is not None and odd.cut_off  # an unknown ending is never read as whole
