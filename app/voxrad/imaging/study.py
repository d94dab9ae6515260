"""A study as opened from disk: its series, what was skipped, and how to load each series."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from voxrad.core.errors import StudyLoadError
from voxrad.core.study import PatientIdentity, SeriesInfo, SkippedFile
from voxrad.core.volume import Volume
from voxrad.imaging.progress import CancelToken, ProgressCallback

FirstSliceCallback = Callable[[int, np.ndarray], None]


class VolumeLoader:
    """Builds one series' volume on demand (the pixels are read only when asked)."""

    def __call__(
        self,
        *,
        progress: ProgressCallback | None,
        cancel: CancelToken | None,
        on_first_slice: FirstSliceCallback | None,
        regularize: bool,
        skipped: list[SkippedFile],
    ) -> Volume:
        raise NotImplementedError


@dataclass
class Series:
    """One displayable series: its description and a way to load its pixels."""

    info: SeriesInfo
    loader: VolumeLoader

    def load_volume(
        self,
        *,
        progress: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
        on_first_slice: FirstSliceCallback | None = None,
        regularize: bool = True,
        skipped: list[SkippedFile] | None = None,
    ) -> Volume:
        """Read and build the volume; see :func:`voxrad.imaging.dicom.build.build_volume`."""
        return self.loader(
            progress=progress,
            cancel=cancel,
            on_first_slice=on_first_slice,
            regularize=regularize,
            skipped=skipped if skipped is not None else [],
        )


@dataclass
class Study:
    """Everything found under one path."""

    path: str
    series: list[Series] = field(default_factory=list)
    skipped: list[SkippedFile] = field(default_factory=list)
    identity: PatientIdentity = field(default_factory=PatientIdentity)
    files_seen: int = 0
    seconds: float = 0.0
    #: Study-wide warnings, e.g. a PACS retrieve into this folder that did not finish.
    warnings: list[str] = field(default_factory=list)

    def find(self, key: str | int | None = None) -> Series:
        """A series by key, UID prefix or 1-based number in the list; the largest by default."""
        if not self.series:
            raise StudyLoadError(f"No images found in {self.path}.")
        if key is None:
            volumes = [s for s in self.series if s.info.kind == "volume"] or self.series
            return max(volumes, key=lambda s: s.info.shape[0] * s.info.shape[1] * s.info.shape[2])
        if isinstance(key, int) or (isinstance(key, str) and key.isdigit() and len(key) < 4):
            index = int(key) - 1
            if 0 <= index < len(self.series):
                return self.series[index]
        text = str(key)
        exact = [s for s in self.series if s.info.key == text]
        if exact:
            return exact[0]
        prefixed = [s for s in self.series if s.info.key.startswith(text)]
        if len(prefixed) == 1:
            return prefixed[0]
        known = ", ".join(f"{n + 1}: {s.info.key}" for n, s in enumerate(self.series))
        raise StudyLoadError(f"No single series matches '{text}'.", hint=f"Choose one of {known}.")
