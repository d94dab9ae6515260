"""OS, Python, CPU, memory and installation probes, on this machine and on described ones."""

from __future__ import annotations

import os
import platform
import sys
from importlib import metadata
from pathlib import Path

import psutil
import pytest

import voxrad
from voxrad.doctor.check import Status
from voxrad.doctor.system import (
    assess_cpu,
    assess_installation,
    assess_memory,
    check_cpu,
    check_installation,
    check_memory,
    check_os,
    check_python,
    installed_versions,
)

GIB = 1024**3
linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")


def _proc_flags() -> set[str]:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("flags"):
            return set(line.split(":", 1)[1].split())
    return set()


@linux_only
def test_cpu_probe_reads_this_machines_model_cores_and_flags() -> None:
    check = check_cpu()
    truth = _proc_flags()
    assert check.detail["logical_cores"] == os.cpu_count()
    assert check.detail["model"]
    for flag in ("avx2", "avx512f", "f16c", "fma"):
        assert check.detail["flags"][flag] == (flag in truth), flag
    if "avx2" in truth:
        assert "AVX2" in check.summary
    slow = (os.cpu_count() or 0) < 4 or not {"avx2", "f16c"} <= truth
    expected = Status.WARNING if slow else Status.OK
    assert check.status is expected


def _facts(**changes: object) -> dict[str, object]:
    facts: dict[str, object] = {
        "model": "Test CPU",
        "machine": "x86_64",
        "x86": True,
        "logical_cores": 8,
        "physical_cores": 4,
        "flags": {"avx": True, "avx2": True, "fma": True, "f16c": True, "avx512f": False},
    }
    facts.update(changes)
    return facts


def test_cpu_without_avx2_or_f16c_warns_that_models_are_slower() -> None:
    flags = {"avx": True, "avx2": False, "fma": False, "f16c": False, "avx512f": False}
    check = assess_cpu(_facts(flags=flags))
    assert check.status is Status.WARNING
    assert "no AVX2/F16C" in check.summary
    assert "slower" in check.summary
    assert check.hint


def test_cpu_with_avx2_and_enough_cores_is_ok_and_unknown_flags_do_not_warn() -> None:
    assert assess_cpu(_facts()).status is Status.OK
    # Windows cannot tell F16C: unknown (None) is not reported as missing.
    unknown = {"avx": True, "avx2": True, "fma": None, "f16c": None, "avx512f": True}
    assert assess_cpu(_facts(flags=unknown)).status is Status.OK
    arm = assess_cpu(_facts(machine="arm64", x86=False, flags={}))
    assert arm.status is Status.OK
    assert "AVX" not in arm.summary


def test_cpu_with_two_cores_warns() -> None:
    check = assess_cpu(_facts(logical_cores=2, physical_cores=2))
    assert check.status is Status.WARNING
    assert "fewer than 4 cores" in check.summary


def test_memory_probe_matches_psutil() -> None:
    check = check_memory()
    assert check.detail["total_bytes"] == psutil.virtual_memory().total
    assert 0 < check.detail["available_bytes"] <= check.detail["total_bytes"]
    assert "GiB total" in check.summary


def test_memory_thresholds() -> None:
    assert assess_memory(2 * GIB, 1 * GIB).status is Status.PROBLEM
    assert assess_memory(6 * GIB, 4 * GIB).status is Status.WARNING
    low_free = assess_memory(32 * GIB, 1 * GIB)
    assert low_free.status is Status.WARNING
    assert "Close other programs" in low_free.hint
    assert assess_memory(32 * GIB, 20 * GIB).status is Status.OK


@linux_only
def test_os_probe_without_a_display_warns_that_the_window_cannot_open(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    check = check_os()
    assert check.status is Status.WARNING
    assert "no display" in check.summary
    assert check.detail["system"] == "Linux"
    assert check.detail["machine"] == platform.machine()
    pretty = next(
        line.split("=", 1)[1].strip('"')
        for line in Path("/etc/os-release").read_text().splitlines()
        if line.startswith("PRETTY_NAME=")
    )
    assert check.detail["distribution"] == pretty
    assert pretty in check.summary


@linux_only
def test_os_probe_with_a_display_is_ok(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISPLAY", ":0")
    assert check_os().status is Status.OK


def test_python_probe_reports_this_interpreter() -> None:
    check = check_python()
    assert check.status is Status.OK
    assert check.detail["version"] == platform.python_version()
    assert check.detail["executable"] == sys.executable
    assert platform.python_version() in check.summary


def test_installation_probe_reports_the_voxrad_version_and_real_package_versions() -> None:
    check = check_installation()
    assert check.detail["version"] == voxrad.__version__
    assert f"VoxRad {voxrad.__version__}" in check.summary
    assert check.detail["packages"]["vtk"] == metadata.version("vtk")
    assert check.detail["packages"]["numpy"] == metadata.version("numpy")
    assert installed_versions(("surely-not-a-real-distribution-xyz",)) == {
        "surely-not-a-real-distribution-xyz": None
    }


def _packages(**changes: str | None) -> dict[str, str | None]:
    packages: dict[str, str | None] = {
        "PySide6-Essentials": "6.8",
        "vtk": "9.4",
        "sounddevice": "0.5",
        "faster-whisper": "1.1",
        "pyttsx3": "2.99",
        "llama-cpp-python": "0.3",
        "transformers": None,
    }
    packages.update(changes)
    return packages


def test_installation_missing_viewer_is_a_problem_missing_engine_a_warning() -> None:
    assert assess_installation("1.0", _packages()).status is Status.OK
    no_gui = assess_installation("1.0", _packages(vtk=None))
    assert no_gui.status is Status.PROBLEM
    assert "viewer (vtk)" in no_gui.summary
    assert "voxrad[gui]" in no_gui.hint
    no_engine = assess_installation("1.0", _packages(**{"llama-cpp-python": None}))
    assert no_engine.status is Status.WARNING
    assert "questions about images cannot be answered" in no_engine.summary
    assert "voxrad[llama]" in no_engine.hint
    other_engine = _packages(**{"llama-cpp-python": None, "transformers": "4.50"})
    assert assess_installation("1.0", other_engine).status is Status.OK
