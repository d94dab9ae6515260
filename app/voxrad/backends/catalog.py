"""The model catalog (``models/catalog.json``) and what is installed in the models folder.

The catalog is data: which models VoxRad supports, where they come from, what they need and
the terms a user must accept. Each installed model lives in ``<models dir>/<install dir>/``
with a ``voxrad-manifest.json`` recording the files' sha256 and size as they were downloaded
or imported, so ``voxrad models verify`` can tell a damaged copy from a good one even where
the catalog could not carry a checksum.
"""

from __future__ import annotations

import fnmatch
import hashlib
import logging
import re
from collections.abc import Callable
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, ValidationError, model_validator

from voxrad.core import paths
from voxrad.core.errors import ModelNotInstalledError, VoxRadError

logger = logging.getLogger(__name__)

MANIFEST = "voxrad-manifest.json"
CATALOG_ENV = "VOXRAD_MODEL_CATALOG"


class CatalogError(VoxRadError):
    """The model catalog is missing or damaged."""

    default_hint = "Reinstall VoxRad, or point VOXRAD_MODEL_CATALOG at a valid catalog.json."


class UnknownModelError(VoxRadError):
    """A model name that the catalog does not list."""


_GLOB = re.compile(r"[*?\[\]]")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_COMMIT = re.compile(r"^[0-9a-f]{40}$")


class ModelFile(BaseModel):
    """One file of a model.

    A GGUF model names its files exactly (``name``): a glob would match the repository's
    other quantisations and projectors (``mmproj-F16`` and ``mmproj-BF16`` both match
    ``mmproj*F16.gguf``). A ``snapshot`` takes the whole repository (``pattern`` ``*``).
    ``sha256``/``size`` are what public sources pin; null where none is public, and then
    the hub's own LFS checksum is checked and recorded at the first download.
    """

    role: Literal["weights", "mmproj", "snapshot"]
    name: str = ""
    pattern: str = ""
    sha256: str | None = None
    size: int | None = None

    @model_validator(mode="after")
    def _one_file_or_snapshot(self) -> ModelFile:
        if self.role == "snapshot":
            if self.name or not self.pattern:
                raise ValueError("a snapshot takes a pattern (usually '*'), not a file name")
        elif not self.name or self.pattern or _GLOB.search(self.name):
            raise ValueError(f"the {self.role} file must be named exactly, without wildcards")
        if self.sha256 is not None and not _SHA256.match(self.sha256):
            raise ValueError(f"sha256 must be 64 lower-case hex digits, not {self.sha256!r}")
        return self

    @property
    def label(self) -> str:
        return self.name or self.pattern

    def matches(self, filename: str) -> bool:
        """Whether ``filename`` (a path in the repository or a folder) is this file.

        Case is ignored on every platform, so a model copied in on Windows (where
        ``MMPROJ-F16.GGUF`` and ``mmproj-F16.gguf`` are one file) is found on Linux too.
        """
        base = filename.replace("\\", "/").rsplit("/", 1)[-1]
        if self.role == "snapshot":
            return fnmatch.fnmatchcase(filename.casefold(), self.pattern.casefold())
        return base.casefold() == self.name.rsplit("/", 1)[-1].casefold()


class Capabilities(BaseModel):
    boxes: bool = False
    volume_3d: bool = False
    languages: list[str] = Field(default_factory=lambda: ["en"])


class ModelEntry(BaseModel):
    name: str
    title: str
    kind: Literal["vlm", "asr"]
    #: Prompt and answer format (see voxrad.core.families); empty for speech models.
    family: str = ""
    backend: Literal["llama-cpp", "transformers", "faster-whisper"]
    hf_repo: str
    revision: str = "main"
    files: list[ModelFile]
    ram_gb: float
    vram_gb: float | None = None
    capabilities: Capabilities = Capabilities()
    licence: str
    licence_url: str = ""
    terms: str = ""
    gated: bool = False
    recommended: bool = False
    #: The Hugging Face id of the unquantised weights (transformers path), if any.
    transformers_repo: str = ""
    notes: str = ""
    #: Where the revision, sizes and checksums come from (public sources), in words.
    provenance: str = ""

    @property
    def install_dir(self) -> str:
        # faster-whisper models keep the folder name the speech backend looks for.
        return f"faster-whisper-{self.name}" if self.kind == "asr" else self.name

    def file_for(self, role: str) -> ModelFile | None:
        return next((f for f in self.files if f.role == role), None)

    @property
    def pinned_revision(self) -> bool:
        """Whether ``revision`` is a commit (not a branch that can move)."""
        return bool(_COMMIT.match(self.revision))

    @property
    def checksums(self) -> Literal["pinned", "recorded on first download"]:
        """Where the files' checksums come from: the catalog, or the first download.

        A snapshot (speech models, transformers folders) is always checked against the
        hub's own LFS checksums at download time and recorded then.
        """
        named = [f for f in self.files if f.role != "snapshot"]
        if named and all(f.sha256 and f.size for f in named):
            return "pinned"
        return "recorded on first download"


class Catalog(BaseModel):
    schema_version: int = 2
    models: list[ModelEntry]

    def get(self, name: str) -> ModelEntry:
        """The entry called ``name`` (case-insensitive)."""
        for entry in self.models:
            if entry.name.lower() == name.strip().lower():
                return entry
        known = ", ".join(e.name for e in self.models)
        raise UnknownModelError(
            f"VoxRad has no model called '{name}'.", hint=f"Known models: {known}."
        )

    def of_kind(self, kind: str) -> list[ModelEntry]:
        return [e for e in self.models if e.kind == kind]


def default_catalog_path() -> Path:
    """``models/catalog.json`` in the source tree (or VOXRAD_MODEL_CATALOG)."""
    import os

    override = os.environ.get(CATALOG_ENV, "").strip()
    if override:
        return Path(override)
    return paths.install_root() / "models" / "catalog.json"


def load_catalog(path: Path | None = None) -> Catalog:
    path = path or default_catalog_path()
    try:
        return Catalog.model_validate_json(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise CatalogError(f"The model catalog was not found at {path}.") from exc
    except (ValidationError, ValueError) as exc:
        raise CatalogError(
            f"The model catalog at {path} is damaged: {exc}".splitlines()[0]
        ) from exc


# -- installed models ------------------------------------------------------------------------
class InstalledFile(BaseModel):
    role: str
    path: str
    sha256: str
    size: int


class Manifest(BaseModel):
    name: str
    source: Literal["hub", "import"]
    hf_repo: str = ""
    revision: str = ""
    files: list[InstalledFile]


def sha256_of(path: Path, progress: Callable[[int], None] | None = None) -> str:
    """The file's sha256 in hex, read in 8 MiB blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(8 << 20):
            digest.update(block)
            if progress is not None:
                progress(len(block))
    return digest.hexdigest()


def read_manifest(folder: Path) -> Manifest | None:
    try:
        return Manifest.model_validate_json((folder / MANIFEST).read_text(encoding="utf-8"))
    except (FileNotFoundError, ValidationError, ValueError):
        return None


def write_manifest(folder: Path, manifest: Manifest) -> Path:
    path = folder / MANIFEST
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(manifest.model_dump_json(indent=2), encoding="utf-8")
    tmp.replace(path)
    return path


class InstalledModel(BaseModel):
    entry: ModelEntry
    folder: Path
    manifest: Manifest | None = None

    def path_of(self, role: str) -> Path | None:
        if self.manifest is not None:
            for f in self.manifest.files:
                if f.role == role:
                    return self.folder / f.path
        spec = self.entry.file_for(role)
        if spec is None:
            return None
        if spec.role == "snapshot":
            return self.folder
        matches = sorted(p for p in self.folder.iterdir() if spec.matches(p.name))
        return matches[0] if matches else None


def find_installed(entry: ModelEntry, models_dir: Path) -> InstalledModel | None:
    """The installed copy of ``entry`` when all its files are present, else None."""
    folder = models_dir / entry.install_dir
    if not folder.is_dir():
        return None
    installed = InstalledModel(entry=entry, folder=folder, manifest=read_manifest(folder))
    for spec in entry.files:
        path = installed.path_of(spec.role)
        if path is None or not path.exists():
            return None
    return installed


def require_installed(entry: ModelEntry, models_dir: Path) -> InstalledModel:
    """Like :func:`find_installed` but raises :class:`ModelNotInstalledError` naming the fix."""
    installed = find_installed(entry, models_dir)
    if installed is None:
        terms = " It is gated: accept its terms on huggingface.co first." if entry.gated else ""
        raise ModelNotInstalledError(
            f"The model '{entry.name}' ({entry.title}) is not installed in {models_dir}.",
            hint=(
                f"Install it with `voxrad models pull {entry.name}` ({entry.ram_gb:g} GB RAM "
                f"needed){terms}, or copy its files in and run `voxrad models import PATH "
                f"--name {entry.name}`."
            ),
        )
    return installed
