"""The entry point a frozen build uses: doctor probes re-enter the executable, not ``-m``."""

from __future__ import annotations

import subprocess
import sys

import pytest

from voxrad.doctor import child


def test_child_command_from_source() -> None:
    assert child.child_command("gl") == [sys.executable, "-m", "voxrad.doctor.child", "gl"]


def test_child_command_when_frozen(monkeypatch: pytest.MonkeyPatch) -> None:
    # PyInstaller sets sys.frozen; sys.executable is then the app itself.
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    assert child.child_command("audio") == [sys.executable, "--doctor-child", "audio"]


def test_entry_script_dispatches_doctor_child() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "voxrad", "--doctor-child", "no-such-mode"],
        capture_output=True,
        text=True,
        env=child._child_env(),
        check=False,
    )
    assert done.returncode == 2
    assert "usage:" in done.stderr and "gl" in done.stderr


def test_entry_script_runs_the_cli() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "voxrad", "--version"],
        capture_output=True,
        text=True,
        env=child._child_env(),
        check=False,
    )
    assert done.returncode == 0 and done.stdout.startswith("VoxRad ")
