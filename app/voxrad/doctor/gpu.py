"""GPU and CUDA: what the driver reports, and whether CTranslate2 (speech) can use it."""

from __future__ import annotations

import importlib.util
import json
import platform
import shutil
import subprocess
import sys
from typing import Any

from voxrad.doctor.check import Check, Status, gib

NAME = "gpu"

#: Below this much GPU memory a 4-bit 7B vision-language model plus speech does not fit.
MIN_GPU_MEMORY = 6 * 1024**3

_NVIDIA_QUERY = [
    "--query-gpu=name,memory.total,memory.free,driver_version",
    "--format=csv,noheader,nounits",
]

_NO_GPU_EFFECT = (
    "speech recognition and image answers run on the CPU: expect seconds per sentence "
    "and tens of seconds per answer"
)


def parse_nvidia_smi(text: str) -> list[dict[str, Any]]:
    """Parse ``nvidia-smi --query-gpu=name,memory.total,memory.free,driver_version`` CSV."""
    gpus = []
    for line in text.splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) != 4 or not parts[1].replace(".", "").isdigit():
            continue
        name, total, free, driver = parts
        gpus.append(
            {
                "name": name,
                "memory_total_bytes": int(float(total) * 1024**2),
                "memory_free_bytes": int(float(free) * 1024**2) if free[:1].isdigit() else None,
                "driver": driver,
            }
        )
    return gpus


def _nvidia_smi(timeout: float) -> dict[str, Any]:
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return {"present": False}
    try:
        done = subprocess.run(
            [exe, *_NVIDIA_QUERY],
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return {"present": True, "error": f"nvidia-smi did not answer within {timeout:g} s"}
    if done.returncode != 0:
        message = (done.stdout + done.stderr).strip().splitlines()
        return {"present": True, "error": message[0] if message else f"exit {done.returncode}"}
    return {"present": True, "gpus": parse_nvidia_smi(done.stdout)}


def _ctranslate2() -> dict[str, Any]:
    if importlib.util.find_spec("ctranslate2") is None:
        return {"installed": False}
    import ctranslate2

    count = int(ctranslate2.get_cuda_device_count())
    info: dict[str, Any] = {
        "installed": True,
        "version": ctranslate2.__version__,
        "cuda_devices": count,
    }
    if count:
        info["cuda_compute_types"] = sorted(ctranslate2.get_supported_compute_types("cuda"))
    return info


def _metal(timeout: float) -> dict[str, Any]:
    info: dict[str, Any] = {"apple_silicon": platform.machine() == "arm64"}
    try:
        done = subprocess.run(
            ["system_profiler", "SPDisplaysDataType", "-json"],
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
            check=False,
        )
        displays = json.loads(done.stdout or "{}").get("SPDisplaysDataType", [])
        info["gpus"] = [
            {
                "name": d.get("sppci_model", d.get("_name", "")),
                "metal": d.get("spdisplays_mtlgpufamilysupport", ""),
            }
            for d in displays
        ]
    except (OSError, subprocess.TimeoutExpired, ValueError) as exc:
        info["error"] = str(exc)
    return info


def assess_gpu(nvidia: dict[str, Any], ct2: dict[str, Any], metal: dict[str, Any] | None) -> Check:
    """Combine what nvidia-smi, CTranslate2 and (on macOS) Metal report into one check."""
    detail: dict[str, Any] = {"nvidia_smi": nvidia, "ctranslate2": ct2}
    if metal is not None:
        detail["metal"] = metal
    gpus = nvidia.get("gpus") or []
    if gpus:
        best = max(gpus, key=lambda g: g["memory_total_bytes"])
        described = f"{best['name']}, {gib(best['memory_total_bytes'])}, driver {best['driver']}"
        if len(gpus) > 1:
            described = f"{len(gpus)} GPUs; largest: {described}"
        if ct2.get("installed") and not ct2.get("cuda_devices"):
            return Check(
                NAME,
                Status.WARNING,
                f"{described}; speech recognition cannot use it (CTranslate2 sees no CUDA "
                "device) and runs on the CPU",
                detail,
                "Install the CUDA 12 cuBLAS and cuDNN 9 libraries: "
                "pip install nvidia-cublas-cu12 nvidia-cudnn-cu12",
            )
        if best["memory_total_bytes"] < MIN_GPU_MEMORY:
            return Check(
                NAME,
                Status.WARNING,
                f"{described}: less than {gib(MIN_GPU_MEMORY)}, larger models run partly on "
                "the CPU",
                detail,
                "Choose a smaller vision-language model, or a GPU with 8 GB or more.",
            )
        return Check(NAME, Status.OK, f"CUDA: {described}", detail)
    if nvidia.get("error"):
        return Check(
            NAME,
            Status.WARNING,
            f"an NVIDIA driver is installed but not working ({nvidia['error']}): {_NO_GPU_EFFECT}",
            detail,
            "Reinstall the NVIDIA driver (a reboot after a driver update often fixes this).",
        )
    if ct2.get("cuda_devices"):
        # Seen on Windows where nvidia-smi is not on PATH: CUDA works all the same.
        return Check(
            NAME,
            Status.OK,
            f"CUDA: {ct2['cuda_devices']} device(s) usable by CTranslate2 (nvidia-smi not found)",
            detail,
        )
    if metal is not None and metal.get("apple_silicon"):
        names = ", ".join(g["name"] for g in metal.get("gpus", []) if g.get("name"))
        return Check(
            NAME,
            Status.OK,
            f"Apple GPU (Metal){': ' + names if names else ''}, memory shared with the "
            "system; speech recognition runs on the CPU",
            detail,
        )
    return Check(
        NAME,
        Status.WARNING,
        f"no CUDA GPU found: {_NO_GPU_EFFECT}",
        detail,
        "This works, only slower. For faster answers use a workstation with an NVIDIA GPU "
        "(8 GB or more) and its driver.",
    )


def check_gpu(*, timeout: float = 5.0) -> Check:
    """Ask nvidia-smi, CTranslate2 and (on macOS) system_profiler about the GPU."""
    nvidia = _nvidia_smi(timeout)
    ct2 = _ctranslate2()
    metal = _metal(timeout) if sys.platform == "darwin" else None
    return assess_gpu(nvidia, ct2, metal)
