"""Installing, checking and removing models in the models folder.

Downloads go through a :class:`Hub` (the real one wraps ``huggingface_hub``: resumable
downloads into the model's folder, a progress bar, gated-model errors). Every file is checked
against the catalog's sha256, else the hub's LFS sha256, and recorded in the folder's manifest
so ``verify`` works offline forever after. Hand-copied files (offline hospitals) are imported
with the same checks.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

from voxrad.backends.catalog import (
    MANIFEST,
    Catalog,
    InstalledFile,
    Manifest,
    ModelEntry,
    ModelFile,
    find_installed,
    read_manifest,
    sha256_of,
    write_manifest,
)
from voxrad.core.errors import DependencyMissingError, VoxRadError

logger = logging.getLogger(__name__)

#: Free space kept beyond the download itself (bytes): the disk must not fill up.
DISK_MARGIN = 1_000_000_000
_SKIP_IN_SNAPSHOT = (".gitattributes",)


class ModelStoreError(VoxRadError):
    """A model could not be installed, checked or removed."""


class ModelAccessError(ModelStoreError):
    default_hint = (
        "Log in with a Hugging Face token (set HF_TOKEN, or run `hf auth login`) and accept the "
        "model's terms on its Hugging Face page, then pull again."
    )


class InsufficientDiskError(ModelStoreError):
    default_hint = "Free disk space, or set models.directory to a larger disk."


class ChecksumMismatchError(ModelStoreError):
    default_hint = "The file was damaged in transfer: pull (or copy) it again."


@dataclass(frozen=True)
class RemoteFile:
    name: str
    size: int | None = None
    sha256: str | None = None


@dataclass(frozen=True)
class RepoListing:
    """A repository's files at one commit (``revision`` resolved, so every file of a
    model comes from the same commit even when the catalog names a branch)."""

    commit: str
    files: list[RemoteFile]


class Hub(Protocol):
    """Where model files come from."""

    def list_files(self, repo: str, revision: str, token: str | None) -> RepoListing: ...

    def download(
        self, repo: str, filename: str, revision: str, folder: Path, token: str | None
    ) -> Path: ...


class HuggingFaceHub:
    """The Hugging Face hub through ``huggingface_hub`` (needs the internet)."""

    def _errors(self) -> tuple[type[Exception], type[Exception], type[Exception]]:
        from huggingface_hub import errors

        return errors.GatedRepoError, errors.RepositoryNotFoundError, errors.HfHubHTTPError

    def list_files(self, repo: str, revision: str, token: str | None) -> RepoListing:
        try:
            from huggingface_hub import HfApi
        except ImportError as exc:
            raise DependencyMissingError("Model downloads (huggingface_hub)", "models") from exc
        gated, missing, http = self._errors()
        try:
            info = HfApi().model_info(repo, revision=revision, files_metadata=True, token=token)
        except gated as exc:
            raise ModelAccessError(
                f"The model {repo} is gated: its terms must be accepted."
            ) from exc
        except missing as exc:
            raise ModelAccessError(
                f"The model {repo} was not found, or needs a login to be seen."
            ) from exc
        except (http, OSError) as exc:
            raise ModelStoreError(
                f"The model hub could not be reached ({type(exc).__name__}).",
                hint="Check the internet connection or proxy; offline sites can copy the files "
                "in and run `voxrad models import PATH`.",
            ) from exc
        out = []
        for sibling in info.siblings or []:
            lfs = getattr(sibling, "lfs", None)
            sha = getattr(lfs, "sha256", None) if lfs is not None else None
            out.append(RemoteFile(sibling.rfilename, getattr(sibling, "size", None), sha))
        return RepoListing(commit=str(info.sha or revision), files=out)

    def download(
        self, repo: str, filename: str, revision: str, folder: Path, token: str | None
    ) -> Path:
        from huggingface_hub import hf_hub_download

        gated, _, http = self._errors()
        try:
            # local_dir keeps partial downloads in <folder>/.cache and resumes them.
            path = hf_hub_download(repo, filename, revision=revision, local_dir=folder, token=token)
        except gated as exc:
            raise ModelAccessError(
                f"The model {repo} is gated: its terms must be accepted."
            ) from exc
        except (http, OSError) as exc:
            raise ModelStoreError(
                f"Downloading {filename} failed ({type(exc).__name__}).",
                hint="Run the same command again: the download resumes where it stopped.",
            ) from exc
        return Path(str(path))


def match_files(entry: ModelEntry, remote: list[RemoteFile]) -> list[tuple[ModelFile, RemoteFile]]:
    """Which remote file each catalog file is (all repository files for a snapshot).

    A named file must be in the listing exactly once (case ignored), with the size and
    checksum the catalog pins, where the listing shows them: a repository that changed
    is refused here, before gigabytes are downloaded.
    """
    pairs: list[tuple[ModelFile, RemoteFile]] = []
    for spec in entry.files:
        if spec.role == "snapshot":
            pairs += [(spec, r) for r in remote if r.name not in _SKIP_IN_SNAPSHOT]
            continue
        hits = [r for r in remote if spec.matches(r.name)]
        if len(hits) != 1:
            names = ", ".join(r.name for r in hits) or "none"
            raise ModelStoreError(
                f"{entry.hf_repo} at {entry.revision[:12]} should hold one file named "
                f"{spec.name} for {entry.name}; it holds {len(hits)} ({names}).",
                hint="The repository changed: update VoxRad, or import the files by hand "
                "(`voxrad models import PATH`).",
            )
        remote_file = hits[0]
        if spec.size is not None and remote_file.size is not None and spec.size != remote_file.size:
            raise ModelStoreError(
                f"{remote_file.name} in {entry.hf_repo} is {remote_file.size:,} bytes, not the "
                f"{spec.size:,} bytes VoxRad's catalog pins for {entry.name}.",
                hint="The file was replaced upstream: update VoxRad, or import a verified copy.",
            )
        if spec.sha256 and remote_file.sha256 and spec.sha256 != remote_file.sha256.lower():
            raise ChecksumMismatchError(
                f"{remote_file.name} in {entry.hf_repo} is not the file VoxRad's catalog pins "
                f"for {entry.name} (its checksum differs)."
            )
        pairs.append((spec, remote_file))
    return pairs


def free_space(folder: Path) -> tuple[Path, int]:
    """The nearest existing folder at or above ``folder`` and its free bytes."""
    probe = folder
    while not probe.exists():
        probe = probe.parent
    return probe, shutil.disk_usage(probe).free


def check_disk(folder: Path, needed: int) -> None:
    probe, free = free_space(folder)
    if needed + DISK_MARGIN > free:
        raise InsufficientDiskError(
            f"Not enough disk space: {needed / 1e9:.1f} GB needed (plus 1 GB spare), "
            f"{free / 1e9:.1f} GB free on {probe}."
        )


def _expected_sha(spec: ModelFile, remote: RemoteFile | None) -> str | None:
    if spec.role != "snapshot" and spec.sha256:
        return spec.sha256.lower()
    return remote.sha256.lower() if remote is not None and remote.sha256 else None


@dataclass(frozen=True)
class PlannedFile:
    role: str
    name: str
    size: int | None
    sha256: str | None
    #: "catalog" (pinned by VoxRad), "hub" (the hub's LFS checksum) or "none".
    checksum_from: Literal["catalog", "hub", "none"]
    present: bool


@dataclass(frozen=True)
class PullPlan:
    """What ``pull`` would fetch: the files, their sizes and the disk they need."""

    name: str
    repo: str
    revision: str
    commit: str
    folder: Path
    files: tuple[PlannedFile, ...]
    free_bytes: int

    @property
    def download_bytes(self) -> int:
        return sum(f.size or 0 for f in self.files if not f.present)

    @property
    def unknown_sizes(self) -> int:
        return sum(1 for f in self.files if f.size is None and not f.present)

    @property
    def fits(self) -> bool:
        return self.download_bytes + DISK_MARGIN <= self.free_bytes

    def to_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "repo": self.repo,
            "revision": self.revision,
            "commit": self.commit,
            "folder": str(self.folder),
            "files": [f.__dict__ for f in self.files],
            "download_bytes": self.download_bytes,
            "free_bytes": self.free_bytes,
            "fits": self.fits,
        }


def plan(
    entry: ModelEntry, models_dir: Path, *, hub: Hub | None = None, token: str | None = None
) -> PullPlan:
    """What ``pull`` would download, checked against the repository's listing, without
    downloading anything (``voxrad models pull NAME --dry-run``)."""
    hub = hub or HuggingFaceHub()
    listing = hub.list_files(entry.hf_repo, entry.revision, token)
    folder = models_dir / entry.install_dir
    files = []
    for spec, remote in match_files(entry, listing.files):
        sha = _expected_sha(spec, remote)
        source: Literal["catalog", "hub", "none"] = (
            "catalog" if spec.role != "snapshot" and spec.sha256 else "hub" if sha else "none"
        )
        size = spec.size if spec.role != "snapshot" and spec.size is not None else remote.size
        local = folder / remote.name
        present = local.is_file() and (size is None or local.stat().st_size == size)
        files.append(PlannedFile(spec.role, remote.name, size, sha, source, present))
    _, free = free_space(folder)
    return PullPlan(
        name=entry.name,
        repo=entry.hf_repo,
        revision=entry.revision,
        commit=listing.commit,
        folder=folder,
        files=tuple(files),
        free_bytes=free,
    )


def pull(
    entry: ModelEntry,
    models_dir: Path,
    *,
    hub: Hub | None = None,
    token: str | None = None,
    on_progress: Callable[[str], None] | None = None,
) -> Manifest:
    """Download ``entry`` into ``models_dir``; resumes partial downloads, checks every file.

    Every file is fetched from the one commit the listing resolved, so a branch that moves
    during the download cannot mix two versions of a model.
    """
    hub = hub or HuggingFaceHub()
    folder = models_dir / entry.install_dir
    listing = hub.list_files(entry.hf_repo, entry.revision, token)
    pairs = match_files(entry, listing.files)
    needed = sum(r.size or 0 for _, r in pairs if not (folder / r.name).is_file())
    folder.mkdir(parents=True, exist_ok=True)
    check_disk(folder, needed)
    files: list[InstalledFile] = []
    for spec, remote in pairs:
        if on_progress is not None:
            on_progress(f"{entry.name}: {remote.name}")
        path = hub.download(entry.hf_repo, remote.name, listing.commit, folder, token)
        digest = sha256_of(path)
        expected = _expected_sha(spec, remote)
        if expected is not None and digest != expected:
            path.unlink(missing_ok=True)
            raise ChecksumMismatchError(f"{remote.name} of {entry.name} failed its checksum.")
        if spec.role != "snapshot" and spec.size is not None and path.stat().st_size != spec.size:
            path.unlink(missing_ok=True)
            raise ChecksumMismatchError(f"{remote.name} of {entry.name} has the wrong size.")
        files.append(
            InstalledFile(role=spec.role, path=remote.name, sha256=digest, size=path.stat().st_size)
        )
    manifest = Manifest(
        name=entry.name,
        source="hub",
        hf_repo=entry.hf_repo,
        revision=listing.commit,
        files=files,
    )
    write_manifest(folder, manifest)
    logger.info("installed model %s (%d files)", entry.name, len(files))
    return manifest


VerifyStatus = Literal["ok", "damaged", "incomplete", "not installed", "unrecorded"]


@dataclass(frozen=True)
class VerifyResult:
    name: str
    status: VerifyStatus
    detail: str = ""


def verify(entry: ModelEntry, models_dir: Path) -> VerifyResult:
    """Recompute every file's sha256 and compare with the manifest and the catalog.

    A folder without a manifest (copied in by hand, never imported) is "unrecorded": its
    checksums are computed and recorded now, and compared with the catalog where it has them.
    """
    folder = models_dir / entry.install_dir
    if not folder.is_dir():
        return VerifyResult(entry.name, "not installed")
    manifest = read_manifest(folder)
    if manifest is None:
        installed = find_installed(entry, models_dir)
        if installed is None:
            return VerifyResult(entry.name, "incomplete", "files are missing")
        result = record_folder(entry, folder, source="import")
        return VerifyResult(
            entry.name, "unrecorded", f"checksums recorded ({len(result.files)} files)"
        )
    problems = []
    for f in manifest.files:
        path = folder / f.path
        if not path.is_file():
            problems.append(f"{f.path} is missing")
            continue
        if path.stat().st_size != f.size or sha256_of(path) != f.sha256:
            problems.append(f"{f.path} changed since it was installed")
            continue
        spec = entry.file_for(f.role)
        if spec is not None and spec.role != "snapshot" and spec.sha256 and spec.sha256 != f.sha256:
            problems.append(f"{f.path} is not the file the catalog lists")
    if problems:
        return VerifyResult(entry.name, "damaged", "; ".join(problems))
    return VerifyResult(entry.name, "ok", f"{len(manifest.files)} files")


def record_folder(entry: ModelEntry, folder: Path, *, source: Literal["hub", "import"]) -> Manifest:
    """Checksum the files of ``entry`` in ``folder`` and write the manifest."""
    files: list[InstalledFile] = []
    for spec in entry.files:
        if spec.role == "snapshot":
            for path in sorted(p for p in folder.rglob("*") if p.is_file()):
                rel = path.relative_to(folder)
                if rel.name == MANIFEST or ".cache" in rel.parts:
                    continue
                files.append(
                    InstalledFile(
                        role="snapshot",
                        path=rel.as_posix(),
                        sha256=sha256_of(path),
                        size=path.stat().st_size,
                    )
                )
            continue
        hits = sorted(p for p in folder.iterdir() if p.is_file() and spec.matches(p.name))
        if len(hits) != 1:
            raise ModelStoreError(
                f"{folder} should hold one file named {spec.name} for {entry.name}; "
                f"it holds {len(hits)}.",
                hint=f"Copy {spec.name} from {entry.hf_repo} into that folder.",
            )
        digest = sha256_of(hits[0])
        if spec.size is not None and hits[0].stat().st_size != spec.size:
            raise ChecksumMismatchError(
                f"{hits[0].name} is {hits[0].stat().st_size:,} bytes, not the {spec.size:,} "
                f"bytes of the file the catalog lists for {entry.name}."
            )
        if spec.sha256 and digest != spec.sha256.lower():
            raise ChecksumMismatchError(
                f"{hits[0].name} is not the file the catalog lists for {entry.name}."
            )
        files.append(
            InstalledFile(
                role=spec.role, path=hits[0].name, sha256=digest, size=hits[0].stat().st_size
            )
        )
    manifest = Manifest(name=entry.name, source=source, hf_repo=entry.hf_repo, files=files)
    write_manifest(folder, manifest)
    return manifest


def _matches(entry: ModelEntry, names: list[str]) -> bool:
    specs = [s for s in entry.files if s.role != "snapshot"]
    return bool(specs) and all(any(s.matches(n) for n in names) for s in specs)


def import_path(
    path: Path, models_dir: Path, catalog: Catalog, *, name: str | None = None
) -> Manifest:
    """Copy hand-carried model files into the models folder, checked and recorded.

    ``path`` is a folder (a GGUF pair, or a faster-whisper / transformers folder) or one GGUF
    file with its ``mmproj`` beside it. Without ``name`` the catalog entry is found by file
    names (GGUF models only).
    """
    path = path.expanduser()
    if not path.exists():
        raise ModelStoreError(f"{path} does not exist.", hint="Check the path and try again.")
    folder_in = path if path.is_dir() else path.parent
    names = [p.name for p in folder_in.iterdir() if p.is_file()]
    if name is not None:
        entry = catalog.get(name)
    else:
        found = [e for e in catalog.models if e.backend == "llama-cpp" and _matches(e, names)]
        if len(found) != 1:
            raise ModelStoreError(
                f"VoxRad cannot tell which model the files in {folder_in} are.",
                hint="Name it: voxrad models import PATH --name NAME (see `voxrad models list`).",
            )
        entry = found[0]
    target = models_dir / entry.install_dir
    if target.resolve() == folder_in.resolve():
        return record_folder(entry, target, source="import")
    target.mkdir(parents=True, exist_ok=True)
    if any(s.role == "snapshot" for s in entry.files):
        total = sum(p.stat().st_size for p in folder_in.rglob("*") if p.is_file())
        check_disk(target, total)
        shutil.copytree(folder_in, target, dirs_exist_ok=True)
    else:
        chosen = [folder_in / n for s in entry.files for n in names if s.matches(n)]
        check_disk(target, sum(p.stat().st_size for p in chosen))
        for src in chosen:
            shutil.copy2(src, target / src.name)
        try:
            manifest = record_folder(entry, target, source="import")
        except ChecksumMismatchError:
            for src in chosen:  # a refused copy must not look installed
                (target / src.name).unlink(missing_ok=True)
            if not any(target.iterdir()):
                target.rmdir()
            raise
        logger.info("imported model %s (%d files)", entry.name, len(manifest.files))
        return manifest
    manifest = record_folder(entry, target, source="import")
    logger.info("imported model %s (%d files)", entry.name, len(manifest.files))
    return manifest


def remove(entry: ModelEntry, models_dir: Path) -> bool:
    """Delete the model's folder; False when it was not installed."""
    folder = models_dir / entry.install_dir
    if not folder.is_dir():
        return False
    shutil.rmtree(folder)
    return True
