"""`voxrad info`, `--version`, error handling: run as a user would, in a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cli_support import run_voxrad
from voxrad import __version__


def test_version_matches_changelog(voxrad_home: Path) -> None:
    result = run_voxrad("--version", home=voxrad_home)
    assert result.returncode == 0
    assert result.stdout.strip() == f"VoxRad {__version__}"
    changelog = (Path(__file__).parents[2] / "CHANGELOG.md").read_text()
    assert f"## [{__version__}]" in changelog


def test_info_json_on_real_ct_hides_patient(shared_data: Path, voxrad_home: Path) -> None:
    result = run_voxrad("info", str(shared_data / "ct-abdomen-134"), "--json", home=voxrad_home)
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    (series,) = payload["series"]
    assert series["modality"] == "CT"
    assert series["shape"] == [134, 512, 512]
    assert series["spacing"] == pytest.approx([3.0, 1.07421875, 1.07421875])
    assert series["origin"] == pytest.approx([-275.0, -178.1, 85.91])
    assert series["axis_labels"] == ["S", "P", "L"]
    assert series["value_range"] == [-1000.0, 1988.0]
    assert series["units"] == "HU"
    assert "patient" not in payload
    assert "Pancreas-CT-CB_001" not in result.stdout  # the (de-identified) patient name
    with_phi = run_voxrad(
        "info",
        str(shared_data / "ct-abdomen-134"),
        "--json",
        "--phi",
        "--headers-only",
        home=voxrad_home,
    )
    assert json.loads(with_phi.stdout)["patient"]["name"] == "Pancreas-CT-CB_001"


def test_info_human_output_shows_tilt_warning(shared_data: Path, voxrad_home: Path) -> None:
    result = run_voxrad("info", str(shared_data / "ct-head-tilt-28"), home=voxrad_home)
    assert result.returncode == 0, result.stderr
    assert "warning: Gantry tilt of 18.5°" in result.stdout
    assert "Patient: hidden (use --phi to show)" in result.stdout
    assert "spacing (slice, row, column): 4.002 x 0.4883 x 0.4883 mm" in result.stdout


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p / "missing", "does not exist"),
        (lambda p: (p / "junk.dcm").write_bytes(b"x" * 300) and p / "junk.dcm", "not a DICOM file"),
    ],
)
def test_errors_are_one_line_without_traceback(
    tmp_path: Path, voxrad_home: Path, make, message
) -> None:
    target = make(tmp_path)
    result = run_voxrad("info", str(target), home=voxrad_home)
    assert result.returncode == 1
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("voxrad: ") and message in lines[0]
    assert "Traceback" not in result.stderr


def test_log_written_without_patient_data(shared_data: Path, voxrad_home: Path) -> None:
    run_voxrad(
        "info", str(shared_data / "ct-abdomen-134"), "--phi", "--headers-only", home=voxrad_home
    )
    log = (voxrad_home / "logs" / "voxrad.log").read_text()
    assert "opened study: 1 series" in log
    assert "Pancreas-CT-CB_001" not in log


def test_window_without_display_is_a_clear_error(voxrad_home: Path) -> None:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")
    }
    env["VOXRAD_HOME"] = str(voxrad_home)
    result = subprocess.run(
        [sys.executable, "-m", "voxrad"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "voxrad: No graphical display found for the VoxRad window. Start VoxRad from a desktop "
        "session (or set DISPLAY); the command-line tools (voxrad info, voxrad doctor) work "
        "without one."
    ]
