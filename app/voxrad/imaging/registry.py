"""Open any supported path as a :class:`Study`: DICOM files, folders, DICOMDIR, zip,
NIfTI, PNG/JPEG."""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from pathlib import Path

from voxrad.core.errors import NoImagesFoundError, StudyLoadError
from voxrad.core.retrieval import incomplete_warning
from voxrad.core.study import SeriesInfo, SkippedFile
from voxrad.core.volume import Volume
from voxrad.imaging.dicom.build import build_volume
from voxrad.imaging.dicom.headers import FrameHeader
from voxrad.imaging.dicom.scan import dicomdir_sources, is_dicomdir, scan_sources
from voxrad.imaging.dicom.stack import StackPlan, plan_series
from voxrad.imaging.nifti import is_nifti, nifti_series
from voxrad.imaging.progress import CancelToken, ProgressCallback, check_cancel
from voxrad.imaging.raster import is_raster, raster_series
from voxrad.imaging.sources import FileSource, Source, list_sources
from voxrad.imaging.study import FirstSliceCallback, Series, Study, VolumeLoader

logger = logging.getLogger(__name__)

#: Files that are certainly not images; skipped without trying to parse them.
_IGNORED_SUFFIXES = (".txt", ".md", ".json", ".xml", ".csv", ".html", ".pdf", ".py", ".log")
_IGNORED_NAMES = ("LICENSE", "CITATIONS", "README", "LOCKFILE", "VERSION")


class DicomLoader(VolumeLoader):
    def __init__(self, plan: StackPlan) -> None:
        self.plan = plan

    def __call__(
        self,
        *,
        progress: ProgressCallback | None,
        cancel: CancelToken | None,
        on_first_slice: FirstSliceCallback | None,
        regularize: bool,
        skipped: list[SkippedFile],
    ) -> Volume:
        return build_volume(
            self.plan,
            progress=progress,
            cancel=cancel,
            on_first_slice=on_first_slice,
            regularize=regularize,
            skipped=skipped,
        )


def open_study(
    path: str | Path,
    *,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> Study:
    """Find every series under ``path`` (headers only; pixels load per series on demand).

    Raises :class:`StudyLoadError` when the path cannot be read at all and
    :class:`NoImagesFoundError` when it holds nothing displayable; individual bad files are
    listed in ``Study.skipped`` instead.
    """
    start = time.perf_counter()
    p = Path(path).expanduser()
    if not p.exists():
        raise StudyLoadError(f"{p} does not exist.", hint="Check the path and try again.")
    study = Study(path=str(p))
    try:
        if p.is_file() and is_nifti(p):
            study.series.append(nifti_series(p))
            study.files_seen = 1
        elif p.is_file() and is_raster(p):
            study.series.append(raster_series(p))
            study.files_seen = 1
        else:
            if p.is_file() and is_dicomdir(p):
                sources, missing = dicomdir_sources(p)
                study.skipped.extend(missing)
            else:
                sources = list_sources(p)
            _open_sources(study, sources, progress, cancel)
    except PermissionError as exc:
        raise StudyLoadError(
            f"No permission to read {p}.", hint="Ask IT for read access to this folder."
        ) from exc
    study.seconds = time.perf_counter() - start
    if p.is_dir():
        warning = incomplete_warning(p)
        if warning:
            study.warnings.append(warning)
    if not study.series:
        reasons = {s.reason for s in study.skipped}
        detail = f" ({'; '.join(sorted(reasons)[:3])})" if reasons else ""
        raise NoImagesFoundError(f"No images found in {p}{detail}.")
    logger.info(
        "opened study: %d series, %d files, %d skipped, %.3f s",
        len(study.series),
        study.files_seen,
        len(study.skipped),
        study.seconds,
    )
    return study


def _open_sources(
    study: Study,
    sources: list[Source],
    progress: ProgressCallback | None,
    cancel: CancelToken | None,
) -> None:
    candidates: list[Source] = []
    for source in sources:
        name = Path(source.name.split("!")[-1])
        if isinstance(source, FileSource) and is_nifti(name):
            _add_other(study, nifti_series, Path(source.path))
        elif isinstance(source, FileSource) and is_raster(name):
            _add_other(study, raster_series, Path(source.path))
        elif name.suffix.lower() in _IGNORED_SUFFIXES or name.stem.upper() in _IGNORED_NAMES:
            continue
        else:
            candidates.append(source)
    study.files_seen = len(sources)
    check_cancel(cancel)
    scan = scan_sources(candidates, progress=progress, cancel=cancel)
    study.skipped.extend(scan.skipped)
    if scan.identity is not None:
        study.identity = scan.identity
    study.series.extend(_series_from_frames(scan.frames))


def _add_other(study: Study, make, path: Path) -> None:  # type: ignore[no-untyped-def]
    try:
        study.series.append(make(path))
    except StudyLoadError as exc:
        study.skipped.append(SkippedFile(str(path), exc.message))


def _series_from_frames(frames: list[FrameHeader]) -> list[Series]:
    by_series: dict[str, list[FrameHeader]] = defaultdict(list)
    for f in frames:
        by_series[f.series_uid].append(f)
    out: list[Series] = []
    for members in by_series.values():
        for plan in plan_series(members):
            out.append(Series(info=_info(plan), loader=DicomLoader(plan)))
    out.sort(key=lambda s: (s.info.study_uid, s.info.series_number or 0, s.info.key))
    return out


def _info(plan: StackPlan) -> SeriesInfo:
    first = plan.first
    kind = plan.kind
    if first.samples_per_pixel == 3 and kind in ("image", "images"):
        kind = "rgb"
    return SeriesInfo(
        uid=plan.key,
        modality=first.modality,
        description=plan.description,
        shape=plan.output_shape(),
        study_uid=first.study_uid,
        series_number=first.series_number,
        body_part=first.body_part,
        kind=kind,
        file_count=len({f.source.name for f in plan.frames}),
        warnings=tuple(plan.warnings),
        sop_class_uid=first.sop_class_uid,
        burned_in_annotation=any(f.burned_in_annotation for f in plan.frames),
        frame_of_reference_uid=first.frame_of_reference,
        sop_instance_uids=tuple(f.sop_instance_uid for f in plan.frames),
    )
