"""GPU probe: this machine has none; the combinations a hospital fleet has are assessed right."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from voxrad.doctor.check import Status
from voxrad.doctor.gpu import assess_gpu, check_gpu, parse_nvidia_smi

GIB = 1024**3

# What `nvidia-smi --query-gpu=name,memory.total,memory.free,driver_version
# --format=csv,noheader,nounits` prints on a two-GPU workstation.
NVIDIA_SMI_TWO_GPUS = """\
NVIDIA RTX A4000, 16376, 15902, 550.54.14
NVIDIA GeForce GTX 1050, 4096, [N/A], 550.54.14
"""


HAS_NVIDIA = shutil.which("nvidia-smi") is not None


@pytest.mark.skipif(HAS_NVIDIA, reason="describes a machine without an NVIDIA GPU")
def test_gpu_probe_on_this_machine_says_no_gpu_and_that_models_run_on_the_cpu() -> None:
    check = check_gpu()
    assert check.status is Status.WARNING  # slower, not broken
    assert "no CUDA GPU" in check.summary
    assert "run on the CPU" in check.summary
    assert check.detail["nvidia_smi"] == {"present": False}
    ct2 = check.detail["ctranslate2"]
    assert ct2["installed"] is True
    assert ct2["cuda_devices"] == 0
    assert "NVIDIA GPU" in check.hint


@pytest.mark.skipif(not HAS_NVIDIA, reason="needs an NVIDIA GPU and driver")
def test_gpu_probe_on_an_nvidia_machine_names_the_gpu_nvidia_smi_lists() -> None:
    names = subprocess.run(
        ["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    ).stdout
    expected = [n.strip() for n in names.splitlines() if n.strip()]
    check = check_gpu()
    assert check.status in (Status.OK, Status.WARNING)
    assert [g["name"] for g in check.detail["nvidia_smi"]["gpus"]] == expected
    assert any(n in check.summary for n in expected)


def test_nvidia_smi_csv_is_parsed_including_not_available_fields() -> None:
    gpus = parse_nvidia_smi(NVIDIA_SMI_TWO_GPUS)
    assert gpus == [
        {
            "name": "NVIDIA RTX A4000",
            "memory_total_bytes": 16376 * 1024**2,
            "memory_free_bytes": 15902 * 1024**2,
            "driver": "550.54.14",
        },
        {
            "name": "NVIDIA GeForce GTX 1050",
            "memory_total_bytes": 4096 * 1024**2,
            "memory_free_bytes": None,
            "driver": "550.54.14",
        },
    ]
    assert parse_nvidia_smi("No devices were found\n") == []


def _nvidia() -> dict[str, object]:
    return {"present": True, "gpus": parse_nvidia_smi(NVIDIA_SMI_TWO_GPUS)}


def test_gpu_usable_by_ctranslate2_is_ok_and_names_the_largest_gpu() -> None:
    check = assess_gpu(_nvidia(), {"installed": True, "cuda_devices": 2}, None)
    assert check.status is Status.OK
    assert "2 GPUs" in check.summary
    assert "NVIDIA RTX A4000" in check.summary
    assert "16.0 GiB" in check.summary


def test_gpu_that_ctranslate2_cannot_use_warns_with_the_cuda_library_hint() -> None:
    check = assess_gpu(_nvidia(), {"installed": True, "cuda_devices": 0}, None)
    assert check.status is Status.WARNING
    assert "CTranslate2 sees no CUDA device" in check.summary
    assert "nvidia-cudnn-cu12" in check.hint


def test_small_gpu_warns() -> None:
    small = {"present": True, "gpus": parse_nvidia_smi("GTX 1050, 4096, 4000, 550.1\n")}
    check = assess_gpu(small, {"installed": True, "cuda_devices": 1}, None)
    assert check.status is Status.WARNING
    assert "smaller" in check.hint


def test_broken_driver_and_missing_nvidia_smi_cases() -> None:
    broken = {
        "present": True,
        "error": "Failed to initialize NVML: Driver/library version mismatch",
    }
    check = assess_gpu(broken, {"installed": True, "cuda_devices": 0}, None)
    assert check.status is Status.WARNING
    assert "version mismatch" in check.summary
    assert "Reinstall the NVIDIA driver" in check.hint
    only_ct2 = assess_gpu({"present": False}, {"installed": True, "cuda_devices": 1}, None)
    assert only_ct2.status is Status.OK
    assert "nvidia-smi not found" in only_ct2.summary


def test_apple_silicon_metal_is_ok() -> None:
    metal = {
        "apple_silicon": True,
        "gpus": [{"name": "Apple M2 Pro", "metal": "spdisplays_metal3"}],
    }
    check = assess_gpu({"present": False}, {"installed": True, "cuda_devices": 0}, metal)
    assert check.status is Status.OK
    assert "Metal" in check.summary
    assert "Apple M2 Pro" in check.summary
