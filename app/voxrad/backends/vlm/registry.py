"""Vision-language engines by name, imported only when used, and which model they run.

``settings.vlm.model`` is a catalog name (``voxrad models list``) or a path to a GGUF file (its
vision projector beside it, ``mmproj*.gguf``) or to a transformers folder.
"""

from __future__ import annotations

from pathlib import Path

from voxrad.backends.catalog import Catalog, UnknownModelError, load_catalog, require_installed
from voxrad.backends.vlm.base import VisionLanguageModel
from voxrad.backends.vlm.engines import ModelSpec, build_engine
from voxrad.core.errors import BackendError
from voxrad.core.families import guess_family
from voxrad.core.settings import PrivacySettings, VlmSettings

#: Engine name -> "module:factory". The factory takes (ModelSpec, VlmSettings, PrivacySettings).
BACKENDS: dict[str, str] = {
    "llama-cpp": "voxrad.backends.vlm.llama_cpp:create",
    "transformers": "voxrad.backends.vlm.transformers_bnb:create",
    "openai": "voxrad.backends.vlm.openai_compat:create",
}
#: Engines that are never moved into a child process (a remote server is out of process already).
IN_PROCESS = frozenset({"openai"})
__all__ = ["BACKENDS", "ModelSpec", "build_engine", "create_app_vlm", "create_vlm", "resolve_model"]
_ALIASES = {"llama.cpp": "llama-cpp", "llamacpp": "llama-cpp", "openai-compat": "openai"}


def backend_name(name: str) -> str:
    key = _ALIASES.get(name.strip().lower(), name.strip().lower())
    if key not in BACKENDS:
        raise BackendError(
            f"Unknown model engine {name!r}.",
            hint=f"Set vlm.backend to one of: {', '.join(sorted(BACKENDS))}.",
        )
    return key


def resolve_model(
    settings: VlmSettings, models_dir: Path, catalog: Catalog | None = None
) -> ModelSpec:
    """The :class:`ModelSpec` for ``settings.model`` with ``settings.backend``.

    Raises
    ------
    ModelNotInstalledError
        A catalog model whose files are not in ``models_dir`` (the hint says how to install).
    UnknownModelError
        Neither a catalog name nor an existing path.
    """
    backend = backend_name(settings.backend)
    name = settings.model.strip()
    if backend == "openai":
        served = settings.server_model.strip() or name
        family = _catalog_family(served, catalog) or guess_family(served)
        return ModelSpec(served, family, backend)
    path = Path(name).expanduser()
    if path.suffix.lower() == ".gguf" or path.is_dir():
        if not path.exists():
            raise UnknownModelError(
                f"The model file {path} does not exist.",
                hint="Check vlm.model, or install a catalog model with `voxrad models pull`.",
            )
        mmproj = None
        if path.is_file():
            found = sorted(p for p in path.parent.glob("*mmproj*.gguf") if p != path)
            mmproj = found[0] if found else None
        return ModelSpec(path.stem, guess_family(path.name), backend, path, mmproj)
    catalog = catalog or load_catalog()
    entry = catalog.get(name)
    if entry.kind != "vlm":
        raise UnknownModelError(
            f"'{entry.name}' is a speech model, not an image model.",
            hint="Pick an image model from `voxrad models list`.",
        )
    installed = require_installed(entry, models_dir)
    if entry.backend == "transformers":
        return ModelSpec(entry.name, entry.family, backend, installed.folder)
    return ModelSpec(
        entry.name,
        entry.family,
        backend,
        installed.path_of("weights"),
        installed.path_of("mmproj"),
    )


def _catalog_family(name: str, catalog: Catalog | None) -> str | None:
    try:
        return (catalog or load_catalog()).get(name).family or None
    except (UnknownModelError, BackendError):
        return None
    except Exception:  # a damaged catalog must not stop a remote server from being used
        return None


def create_vlm(
    spec: ModelSpec, settings: VlmSettings, privacy: PrivacySettings | None = None
) -> VisionLanguageModel:
    """A (not yet loaded) engine for ``spec``, in this process."""
    return build_engine(
        BACKENDS[backend_name(spec.backend)], spec, settings, privacy or PrivacySettings()
    )


def create_app_vlm(
    spec: ModelSpec, settings: VlmSettings, privacy: PrivacySettings | None = None
) -> VisionLanguageModel:
    """The engine as the viewer's assistant runs it: with ``settings.separate_process``, a
    local engine runs in a child process (:class:`~voxrad.backends.vlm.isolated.IsolatedVLM`),
    so a native crash or a GPU out-of-memory abort cannot close the viewer. A remote engine
    (``openai``) is already out of process and is never wrapped.
    """
    backend = backend_name(spec.backend)
    if not settings.separate_process or backend in IN_PROCESS:
        return create_vlm(spec, settings, privacy)
    from voxrad.backends.vlm.isolated import IsolatedVLM

    return IsolatedVLM(BACKENDS[backend], spec, settings, privacy or PrivacySettings())
