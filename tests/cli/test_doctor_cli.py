"""``voxrad doctor`` as IT runs it: a child ``python -m voxrad`` with real probes."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

EXPECTED = [
    "voxrad", "os", "python", "cpu", "memory", "gpu", "opengl", "audio", "tts", "wake", "models",
    "dicom", "disk", "folders",
]  # fmt: skip


def _doctor(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    import os

    return subprocess.run(
        [sys.executable, "-m", "voxrad", "doctor", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
        check=False,
    )


def test_doctor_json_parses_lists_every_check_and_exits_0_without_problems() -> None:
    started = time.monotonic()
    done = _doctor("--json")
    elapsed = time.monotonic() - started
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)
    assert [c["name"] for c in report["checks"]] == EXPECTED
    for check in report["checks"]:
        assert check["status"] in ("ok", "warning"), check
        assert check["summary"]
        assert isinstance(check["detail"], dict)
        if check["status"] == "warning":
            assert check["hint"], check
    assert report["status"] == "warning"  # no GPU here, software OpenGL
    assert report["counts"]["problem"] == 0
    assert sum(report["counts"].values()) == len(EXPECTED)
    by_name = {c["name"]: c for c in report["checks"]}
    assert by_name["gpu"]["status"] == "warning"
    assert by_name["opengl"]["detail"]["software"] is True
    # The probes run concurrently: the whole report stays well under the slowest time limit.
    assert elapsed < 10.0


def test_doctor_exits_1_when_an_item_is_a_problem(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the models folder should be")
    done = _doctor("--json", env={"VOXRAD_MODELS__DIRECTORY": str(blocker)})
    assert done.returncode == 1, done.stderr
    report = json.loads(done.stdout)
    assert report["status"] == "problem"
    by_name = {c["name"]: c for c in report["checks"]}
    assert by_name["models"]["status"] == "problem"
    assert by_name["folders"]["status"] == "problem"


def test_doctor_prints_an_aligned_table_with_markers_hints_and_overall_line() -> None:
    done = _doctor()
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    rows = [line for line in lines if line.startswith(("[ OK ]", "[WARN]", "[FAIL]"))]
    # "[WARN] name     summary": markers are 6 wide, names padded to the longest.
    assert [row[7:].split()[0] for row in rows] == EXPECTED
    column = 7 + max(len(n) for n in EXPECTED) + 2
    for row in rows:
        assert row[column - 2 : column] == "  ", row
        assert row[column] != " ", row
    gpu = next(row for row in rows if " gpu " in row)
    assert gpu.startswith("[WARN]")
    assert any(line.strip().startswith("-> ") for line in lines)
    assert lines[-1].startswith("Overall: warning (")


def test_doctor_help_documents_the_exit_status() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "voxrad", "doctor", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0
    assert "exit status" in done.stdout
    assert "0  no problem" in done.stdout
    assert "1  at least one item is a problem" in done.stdout
    assert "--json" in done.stdout
