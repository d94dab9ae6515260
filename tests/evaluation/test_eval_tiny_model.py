"""``voxrad eval`` through the real engine: a tiny random-weight Gemma 3 vision-language model,
converted to GGUF + mmproj by llama.cpp's own converter, run by the llama.cpp backend.

What it says is noise, so the numbers are meaningless; the mechanics are exact: every question
is asked with its image and with a blank one, the scores are those of the recorded answers, the
confidence is the engine's log-probability estimate, a rerun asks nothing, and the same seed
gives the same answers.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from voxrad.cli import main
from voxrad.evaluation import metrics

pytestmark = [pytest.mark.models, pytest.mark.slow]


@pytest.fixture(scope="module")
def tiny_model(tiny_gguf: tuple[Path, Path]) -> Path:
    """The session's tiny Gemma 3 GGUF (its mmproj lies beside it)."""
    return tiny_gguf[0]


@pytest.fixture(autouse=True)
def small_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    # 2048: the tiny model's 400-token vocabulary spends ~1 token per 1.4 characters, so
    # MedGemma's grounding prompt (the makers' box instructions) is ~920 tokens here.
    monkeypatch.setenv("VOXRAD_VLM__CONTEXT_TOKENS", "2048")
    monkeypatch.setenv("VOXRAD_VLM__MAX_ANSWER_TOKENS", "16")
    monkeypatch.setenv("VOXRAD_VLM__GPU_LAYERS", "0")


def _eval(kind: str, dataset: Path, model: Path, out: Path, *extra: str) -> int:
    args = ["eval", kind, "--dataset", str(dataset), "--model", str(model), "--out", str(out)]
    return main([*args, "--json", *extra])


def _records(out: Path) -> list[dict]:  # type: ignore[type-arg]
    return [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]


def test_vqa_mechanics_through_the_real_engine(
    tiny_model: Path, shared_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sample = shared_data / "vqa-rad-sample"
    out = tmp_path / "run"
    assert _eval("vqa", sample, tiny_model, out, "--limit", "3") == 0
    summary = json.loads(capsys.readouterr().out)["summary"]
    records = _records(out)
    assert len(records) == 6
    assert sorted(r["condition"] for r in records) == ["blank"] * 3 + ["image"] * 3
    assert {r["key"] for r in records if r["condition"] == "image"} == {
        r["key"] for r in records if r["condition"] == "blank"
    }
    for r in records:
        assert r["error"] is None and r["latency_s"] > 0
        assert isinstance(r["prediction"], str)
        assert r["confidence_source"] == "logprobs" and 0.0 < r["confidence"] <= 1.0
    assert json.loads((out / "run.json").read_text())["model"] == tiny_model.stem
    # The summary is exactly the metrics of the recorded answers.
    image = [r for r in records if r["condition"] == "image"]
    closed = [
        metrics.closed_correct(r["prediction"], r["answer"])
        for r in image
        if r["answer_type"] == "CLOSED"
    ]
    opened = [
        metrics.token_f1(r["prediction"], r["answer"]) for r in image if r["answer_type"] == "OPEN"
    ]
    overall = summary["conditions"]["image"]["overall"]
    assert overall["n"] == 3 and overall["closed_n"] == len(closed)
    assert overall["closed_accuracy"] == metrics.mean([float(c) for c in closed])
    assert overall["open_f1"] == metrics.mean(opened)
    assert summary["calibration"]["n"] == 3
    assert (out / "report.md").is_file() and (out / "reliability.png").is_file()

    # A rerun finds every item done and asks nothing.
    assert _eval("vqa", sample, tiny_model, out, "--limit", "3") == 0
    assert json.loads(capsys.readouterr().out)["summary"] == summary
    assert len(_records(out)) == 6
    # The same seed gives the same answers in a fresh folder.
    again = tmp_path / "again"
    assert _eval("vqa", sample, tiny_model, again, "--limit", "3") == 0
    capsys.readouterr()
    first = {r["id"]: r["prediction"] for r in records}
    assert {r["id"]: r["prediction"] for r in _records(again)} == first


def test_grounding_mechanics_through_the_real_engine(
    tiny_model: Path, shared_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "grounding"
    assert _eval("grounding", shared_data / "cxr" / "boxes.json", tiny_model, out) == 0
    summary = json.loads(capsys.readouterr().out)["summary"]
    records = _records(out)
    assert [r["image"] for r in records] == ["tbx11k-tb0005.png", "tbx11k-h0001.png"]
    assert all(r["error"] is None for r in records)
    assert summary["queries"] == 2 and summary["queries_with_boxes"] == 1
    assert summary["map"] is not None and 0.0 <= summary["map"] <= 1.0
    pictures = sorted(p.name for p in (out / "pictures").iterdir())
    assert pictures == [
        "tbx11k-h0001__ActiveTuberculosis.png",
        "tbx11k-tb0005__ActiveTuberculosis.png",
    ]
