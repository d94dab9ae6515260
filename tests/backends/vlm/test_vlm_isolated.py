"""The engine in a child process (IsolatedVLM) with a scripted engine: streaming, cancel,
a child that aborts, MemoryError, load errors crossing the pipe, close and process exit."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from multiprocessing.connection import wait
from pathlib import Path

import numpy as np
import psutil
import pytest

from vlm_support import measure_cancel
from voxrad.assistant.loop.question_run import OUT_OF_MEMORY, message_for
from voxrad.backends.vlm.base import (
    ChatMessage,
    GenerationRequest,
    ImageInput,
    VisionLanguageModel,
)
from voxrad.backends.vlm.isolated import (
    CRASHED,
    CRASHED_HINT,
    CRASHED_LOADING,
    CRASHED_LOADING_HINT,
    CRASHED_MID_ANSWER,
    IsolatedVLM,
)
from voxrad.backends.vlm.registry import BACKENDS, ModelSpec, create_app_vlm
from voxrad.core.errors import BackendError, DependencyMissingError, ModelNotInstalledError
from voxrad.core.settings import PrivacySettings, VlmSettings

FAKE = "isolation_fakes:create"


def _spec(name: str = "scripted") -> ModelSpec:
    return ModelSpec(name, "gemma3", "fake")


def _isolated(name: str = "scripted") -> IsolatedVLM:
    return IsolatedVLM(FAKE, _spec(name), VlmSettings(), PrivacySettings())


def _ask(
    text: str, *, max_tokens: int = 5, images: tuple[ImageInput, ...] = ()
) -> GenerationRequest:
    return GenerationRequest((ChatMessage("user", (*images, text)),), max_tokens=max_tokens)


def _children() -> set[int]:
    """This process's children, without multiprocessing's own resource tracker (started
    once, with the first process-shared event, and kept for the life of this process)."""
    out = set()
    for child in psutil.Process().children(recursive=True):
        try:
            if "resource_tracker" not in " ".join(child.cmdline()):
                out.add(child.pid)
        except psutil.NoSuchProcess:
            pass
    return out


@pytest.fixture(scope="module")
def scripted() -> Iterator[IsolatedVLM]:
    model = _isolated()
    model.load()
    yield model
    model.close()


def test_registry_wraps_local_engines_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(BACKENDS, "fake", FAKE)
    wrapped = create_app_vlm(_spec(), VlmSettings(backend="fake"))
    assert isinstance(wrapped, IsolatedVLM) and isinstance(wrapped, VisionLanguageModel)
    assert wrapped.target == FAKE
    off = create_app_vlm(_spec(), VlmSettings(backend="fake", separate_process=False))
    assert type(off).__name__ == "FakeScriptedVLM"
    remote = ModelSpec("qwen2.5-vl-7b", "qwen2.5-vl", "openai")
    server = VlmSettings(backend="openai", server_url="http://127.0.0.1:9/v1")
    assert type(create_app_vlm(remote, server)).__name__ == "OpenAICompatVLM"


def test_pieces_stream_back_and_logs_cross_without_the_prompt(
    scripted: IsolatedVLM, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    assert scripted.pid is not None and scripted.pid != os.getpid()
    image = ImageInput(np.full((48, 80, 3), 100, np.uint8))
    pieces: list[str] = []
    result = scripted.generate(_ask("Is there a nodule?", images=(image,)), on_token=pieces.append)
    assert pieces == ["image 80x48 mean 100.0 ", "w1 ", "w2 ", "w3 ", "w4 "]
    assert result.text == "".join(pieces) and result.completion_tokens == 5
    assert result.model == "scripted"
    child = [r for r in caplog.records if r.name == "isolation_fakes"]
    assert [r.getMessage() for r in child] == ["fake engine answering with up to 5 pieces"]
    assert child[0].process == scripted.pid
    assert "nodule" not in caplog.text  # the prompt is logged at DEBUG only


def test_cancel_mid_stream_within_200_ms(scripted: IsolatedVLM) -> None:
    latency, raised = measure_cancel(scripted, _ask("Count.", max_tokens=500))
    assert raised == "GenerationCancelledError"
    assert latency < 0.2
    assert scripted.generate(_ask("Again.", max_tokens=2)).text == "w0 w1 "


def test_memory_error_in_the_child_is_the_out_of_memory_message(scripted: IsolatedVLM) -> None:
    pid = scripted.pid
    with pytest.raises(MemoryError) as info:
        scripted.generate(_ask("memory"))
    assert message_for(info.value, "model") == OUT_OF_MEMORY
    with pytest.raises(BackendError, match=r"failed while answering \(TypeError\)"):
        scripted.generate(_ask("bug"))
    assert scripted.pid == pid  # errors the engine raised leave the child running


def test_abort_in_the_child_is_a_message_and_the_next_question_gets_a_fresh_child(
    caplog: pytest.LogCaptureFixture,
) -> None:
    model = _isolated()
    model.load()
    try:
        first = model.pid
        with pytest.raises(BackendError) as info:
            model.generate(_ask("abort"))
        assert info.value.message == CRASHED and info.value.hint == CRASHED_HINT
        assert "SIGABRT" not in info.value.user_message()
        assert "signal SIGABRT" in caplog.text  # how it died goes to the log
        assert first not in _children()  # reaped: no zombie left behind
        assert model.generate(_ask("Hello.", max_tokens=2)).text == "w0 w1 "
        assert model.pid not in (None, first)
    finally:
        model.close()


def test_child_killed_mid_answer_returns_the_fragment_marked_as_cut_off() -> None:
    model = _isolated()
    model.load()
    try:
        first = model.pid
        streamed: list[str] = []
        result = model.generate(_ask("abort-mid"), on_token=streamed.append)
        assert result.text == "Final Answer: The le" == "".join(streamed)
        assert result.finish_reason == "engine"
        assert result.finish_detail == CRASHED_MID_ANSWER
        assert first not in _children()
        again = model.generate(_ask("Hello.", max_tokens=2))
        assert (again.text, again.finish_reason) == ("w0 w1 ", "complete")
    finally:
        model.close()


@pytest.mark.parametrize(
    ("name", "error", "message", "hint"),
    [
        (
            "missing",
            ModelNotInstalledError,
            "The model file missing.gguf is missing.",
            "Copy it back into models/.",
        ),
        (
            "no-deps",
            DependencyMissingError,
            "The fake engine is not installed.",
            "Install it with: pip install 'voxrad[fake]'",
        ),
        ("load-abort", BackendError, CRASHED_LOADING, CRASHED_LOADING_HINT),
    ],
)
def test_load_errors_cross_with_message_and_hint(
    name: str, error: type[BackendError], message: str, hint: str
) -> None:
    before = _children()
    model = _isolated(name)
    with pytest.raises(error) as info:
        model.load()
    assert type(info.value) is error
    assert (info.value.message, info.value.hint) == (message, hint)
    if isinstance(info.value, DependencyMissingError):
        assert info.value.extra == "fake"
    assert model.pid is None and _children() <= before
    model.close()


def test_close_leaves_no_process_and_is_safe_twice() -> None:
    model = _isolated()
    model.load()
    pid = model.pid
    assert pid in _children()
    model.close()
    model.close()
    assert pid not in _children() and not psutil.pid_exists(pid or 0)
    with pytest.raises(BackendError, match="not loaded"):
        model.generate(_ask("Hello."))


def test_the_app_exits_without_close_and_takes_the_child_with_it(tmp_path: Path) -> None:
    script = textwrap.dedent(
        f"""
        import sys
        sys.path[:0] = {[str(Path(__file__).parent), *sys.path]!r}
        from voxrad.backends.vlm.isolated import IsolatedVLM
        from voxrad.backends.vlm.registry import ModelSpec
        from voxrad.core.settings import PrivacySettings, VlmSettings

        if __name__ == "__main__":
            model = IsolatedVLM({FAKE!r}, ModelSpec("s", "gemma3", "fake"), VlmSettings(),
                                PrivacySettings())
            model.load()
            print(model.pid, flush=True)
        """
    )
    (tmp_path / "app.py").write_text(script, encoding="utf-8")
    done = subprocess.run(
        [sys.executable, str(tmp_path / "app.py")],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert not psutil.pid_exists(int(done.stdout.split()[0]))


def test_the_model_thread_answers_again_after_its_engine_died() -> None:
    """As the app runs it: on the ``voxrad-vlm`` worker, which closes the engine after a
    BackendError and loads it again for the next question."""
    from voxrad.assistant.loop.workers import BackendWorker

    before = _children()
    worker: BackendWorker[IsolatedVLM] = BackendWorker("voxrad-vlm", _isolated)
    worker.start()
    try:
        crashed = worker.submit(lambda model: model.generate(_ask("abort")), "crash")
        assert crashed.done.wait(30)
        assert isinstance(crashed.error, BackendError)
        assert message_for(crashed.error, "model") == f"{CRASHED} {CRASHED_HINT}"
        again = worker.submit(lambda model: model.generate(_ask("Hello.", max_tokens=2)), "ok")
        assert again.done.wait(30)
        assert again.error is None and again.result is not None
        assert again.result.text == "w0 w1 "
    finally:
        assert worker.stop(timeout=15)
    assert _children() <= before


def test_a_failing_token_callback_leaves_the_child_in_step(scripted: IsolatedVLM) -> None:
    def fail(piece: str) -> None:
        raise RuntimeError("the caller's callback failed")

    pid = scripted.pid
    with pytest.raises(RuntimeError, match="callback failed"):
        scripted.generate(_ask("Count.", max_tokens=200), on_token=fail)
    # The next answer is this request's own, from the same child.
    assert scripted.generate(_ask("Next.", max_tokens=3)).text == "w0 w1 w2 "
    assert scripted.pid == pid


def test_child_records_pass_the_parents_identifier_redactor() -> None:
    """The app's handlers carry the redactor (voxrad.main.configure_logging): a record the
    child sends goes through them like one logged here."""
    from voxrad.assistant.privacy.gate import LogRedactor
    from voxrad.core.study import PatientIdentity

    redactor = LogRedactor()
    redactor.set_identity(PatientIdentity(name="QUOKKA^WILHELMINA", patient_id="MRN-558213"))
    seen: list[str] = []
    handler = logging.Handler(logging.INFO)
    handler.emit = lambda record: seen.append(record.getMessage())  # type: ignore[method-assign]
    handler.addFilter(redactor)
    target = logging.getLogger("isolation_fakes")
    target.addHandler(handler)
    target.setLevel(logging.INFO)
    model = _isolated("Quokka_Wilhelmina-MRN-558213")
    try:
        model.load()
    finally:
        model.close()
        target.removeHandler(handler)
        target.setLevel(logging.NOTSET)
    assert len(seen) == 1 and seen[0].startswith("fake engine ")
    assert "Quokka" not in seen[0] and "558213" not in seen[0]


def test_a_child_killed_between_questions_is_replaced_for_the_next(
    caplog: pytest.LogCaptureFixture,
) -> None:
    model = _isolated()
    model.load()
    try:
        first = model.pid
        assert first is not None and model._process is not None
        os.kill(first, signal.SIGKILL)  # as the OOM killer would
        assert wait([model._process.sentinel], 10)
        assert model.generate(_ask("Hello.", max_tokens=2)).text == "w0 w1 "
        assert model.pid != first
        assert "ended while idle (signal SIGKILL)" in caplog.text
    finally:
        model.close()
