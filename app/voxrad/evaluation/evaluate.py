"""One call per kind of evaluation: dataset -> run folder -> results, summary and report."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from voxrad import __version__
from voxrad.evaluation.answerer import Answerer
from voxrad.evaluation.datasets import load_grounding, load_vqa
from voxrad.evaluation.report import write_report
from voxrad.evaluation.runner import Progress, open_run, run_grounding, run_vqa, select
from voxrad.evaluation.scores import summarize_grounding, summarize_vqa

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Outcome:
    """Where a run was written and what it measured."""

    folder: Path
    summary: dict[str, Any]
    files: dict[str, Path]


def default_folder(kind: str, dataset: Path, model: str) -> Path:
    """``<VoxRad data>/evaluations/<kind>-<dataset>-<model>``: the same run resumes there."""
    from voxrad.core.paths import data_dir

    name = dataset.stem if dataset.is_file() else dataset.name
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", f"{kind}-{name}-{model}")
    return data_dir() / "evaluations" / slug


def _meta(kind: str, dataset: Path, model: str, seed: int, limit: int | None) -> dict[str, Any]:
    resolved = dataset.resolve()
    return {
        "kind": kind,
        "dataset": str(resolved),
        "dataset_name": resolved.stem if resolved.is_file() else resolved.name,
        "model": model,
        "seed": seed,
        "limit": limit,
        "version": __version__,
    }


def evaluate_vqa(
    dataset: Path,
    answerer: Answerer,
    folder: Path,
    *,
    limit: int | None = None,
    seed: int = 0,
    baseline: bool = True,
    languages: tuple[str, ...] = ("en",),
    progress: TextIO | None = None,
    clock: Callable[[], float] | None = None,
) -> Outcome:
    """Ask the (seeded ``limit``-sample of the) questions of ``dataset``, with the image and,
    with ``baseline``, with a black image; write and return the results. Resumes ``folder``."""
    items = select(load_vqa(dataset, languages=languages), limit, seed)
    meta = {**_meta("vqa", dataset, answerer.name, seed, limit), "questions": len(items)}
    log = open_run(folder, meta)
    bar = Progress(len(items) * (2 if baseline else 1), "eval vqa", progress)
    extra = {} if clock is None else {"clock": clock}
    records = run_vqa(items, answerer, log, baseline=baseline, progress=bar, **extra)
    summary = summarize_vqa(records)
    return Outcome(folder, summary, write_report(folder, meta, summary, records=records))


def evaluate_grounding(
    dataset: Path,
    answerer: Answerer,
    folder: Path,
    *,
    limit: int | None = None,
    seed: int = 0,
    progress: TextIO | None = None,
    clock: Callable[[], float] | None = None,
) -> Outcome:
    """Ask for every label on every image of ``dataset``; write and return the results."""
    items = select(load_grounding(dataset), limit, seed)
    meta = {**_meta("grounding", dataset, answerer.name, seed, limit), "questions": len(items)}
    log = open_run(folder, meta)
    bar = Progress(len(items), "eval grounding", progress)
    extra = {} if clock is None else {"clock": clock}
    records = run_grounding(items, answerer, log, progress=bar, **extra)
    summary = summarize_grounding(records)
    images = {item.key: item.image for item in items}
    files = write_report(folder, meta, summary, records=records, images=images)
    return Outcome(folder, summary, files)
