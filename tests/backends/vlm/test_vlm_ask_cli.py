"""``voxrad ask`` end to end with real engines on a real chest X-ray: the tiny Gemma 3 model
through llama.cpp (GGUF + mmproj) and through transformers (NF4)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from voxrad.cli import main

pytestmark = [pytest.mark.models, pytest.mark.filterwarnings("ignore:.*kernels.*:UserWarning")]


def _ask(capsys: pytest.CaptureFixture[str], image: Path, *extra: str) -> dict[str, object]:
    code = main(
        ["ask", str(image), "Is the heart enlarged?", "--max-tokens", "8", "--json", *extra]
    )
    captured = capsys.readouterr()
    data: dict[str, object] = json.loads(captured.out)
    # 8 tokens may end the answer early: then it says so, and the exit code is 4.
    assert code == (0 if data["complete"] else 4), captured.err
    return data


@pytest.mark.slow
def test_ask_with_llama_cpp(
    capsys: pytest.CaptureFixture[str], shared_data: Path, tiny_gguf: tuple[Path, Path]
) -> None:
    image = shared_data / "cxr" / "nih-00000001_000-cardiomegaly.png"
    out = _ask(capsys, image, "--model", str(tiny_gguf[0]), "--region", "300,300,200,150")
    assert out["model"] == "tiny-gemma3-f16"
    assert out["family"] == "medgemma"
    assert out["question_scope"] == "region"
    assert out["confidence_source"] == "logprobs"
    assert 0.0 < out["confidence"] <= 1.0  # type: ignore[operator]
    timings = out["timings_s"]
    assert {"load_study", "load_model", "prepare", "generate", "parse", "total"} <= set(timings)  # type: ignore[arg-type]
    assert out["complete"] is False and out["finish_reason"] == "length"  # 8 tokens
    assert out["warnings"][0] == out["cut_off_note"]  # type: ignore[index]
    assert "longest answer allowed (8 tokens" in str(out["cut_off_note"])
    assert out["disclaimer"]
    # The answer is in the audit log, whose chain verifies.
    from voxrad.records.audit import AuditLog
    from voxrad.records.audit_verify import verify_log

    log = AuditLog()
    records = list(log.records())
    assert [r.seq for r in records][-1] == out["audit_record"]
    assert records[-1].body["model"] == "tiny-gemma3-f16"
    assert records[-1].body["cut_off"] is True
    assert verify_log(log.directory).ok


@pytest.mark.slow
def test_ask_with_transformers_nf4(
    capsys: pytest.CaptureFixture[str], shared_data: Path, tiny_hf: Path
) -> None:
    image = shared_data / "cxr" / "nih-00000001_000-cardiomegaly.png"
    out = _ask(capsys, image, "--model", str(tiny_hf), "--backend", "transformers")
    assert out["confidence_source"] == "logprobs"
    assert "CPU" in str(out["notice"])
