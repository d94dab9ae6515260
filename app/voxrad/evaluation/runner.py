"""Run an :class:`~voxrad.evaluation.answerer.Answerer` over a dataset, resumably.

Each finished item is appended as one JSON line to ``results.jsonl`` in the run folder and
flushed to disk before the next item starts, so a crash or Ctrl-C loses at most the item in
progress; running again skips every item already recorded (items that failed with an error are
tried again). ``run.json`` records what the run measures; a folder holding a run of another
model or dataset is refused rather than mixed.
"""

from __future__ import annotations

import json
import logging
import os
import random
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any, TextIO, TypeVar

from voxrad.core.conversation import Answer
from voxrad.core.errors import VoxRadError
from voxrad.evaluation.answerer import Answerer
from voxrad.evaluation.datasets import GroundingItem, VqaItem, blank_like, read_image

logger = logging.getLogger(__name__)

RESULTS_FILE = "results.jsonl"
RUN_FILE = "run.json"
#: The conditions of a VQA run: the real image, and a black image of the same size.
CONDITIONS = ("image", "blank")
T = TypeVar("T", VqaItem, GroundingItem)


class RunFolderError(VoxRadError):
    """The output folder holds a different run, or cannot be written."""

    default_hint = "Choose another --out folder, or delete the old one to start again."


def grounding_question(item: GroundingItem) -> str:
    """The question asked for one grounding query."""
    return (
        f"Locate every {item.phrase} in this image and give a box for each. "
        f"If there is no {item.phrase}, say so and give no box."
    )


def select(items: Sequence[T], limit: int | None, seed: int) -> list[T]:
    """The first-come subset for ``--limit``: a seeded random sample, kept in dataset order.

    The same ``seed`` always picks the same items, so a resumed run asks the same questions.
    """
    if limit is None or limit >= len(items):
        return list(items)
    chosen = sorted(random.Random(seed).sample(range(len(items)), max(limit, 0)))
    return [items[i] for i in chosen]


class ResultLog:
    """``results.jsonl``: one record per finished item, appended and synced one at a time."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / RESULTS_FILE
        self.records: dict[str, dict[str, Any]] = {}
        if self.path.exists():
            self._load()

    def _load(self) -> None:
        data = self.path.read_bytes()
        if data and not data.endswith(b"\n"):
            # A crash mid-write left a torn last line: drop it, so the next append starts clean.
            keep = data[: data.rfind(b"\n") + 1]
            logger.warning("dropping an unfinished last record in %s", self.path)
            self.path.write_bytes(keep)
            data = keep
        for n, line in enumerate(data.decode("utf-8", errors="replace").splitlines(), 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                self.records[str(record["id"])] = record
            except (json.JSONDecodeError, KeyError, TypeError) as exc:
                raise RunFolderError(f"Line {n} of {self.path} is damaged.") from exc

    def done(self, record_id: str) -> bool:
        record = self.records.get(record_id)
        return record is not None and not record.get("error")

    def append(self, record: dict[str, Any]) -> None:
        line = json.dumps(record, ensure_ascii=False) + "\n"
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(line)
            handle.flush()
            os.fsync(handle.fileno())
        self.records[str(record["id"])] = record


def open_run(folder: Path, meta: dict[str, Any]) -> ResultLog:
    """Create or reopen a run folder whose ``run.json`` must match ``meta`` (except limit)."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RunFolderError(f"Could not create the output folder {folder}.") from exc
    run_file = folder / RUN_FILE
    if run_file.exists():
        old = json.loads(run_file.read_text(encoding="utf-8"))
        for key in ("kind", "dataset", "model", "seed"):
            if old.get(key) != meta.get(key):
                raise RunFolderError(
                    f"{folder} holds a run with {key} {old.get(key)!r}, not {meta.get(key)!r}."
                )
    run_file.write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    return ResultLog(folder)


class Progress:
    """A one-line progress bar on a terminal, else a line every 10 %; both on stderr."""

    def __init__(self, total: int, label: str, stream: TextIO | None = None) -> None:
        self.total, self.label = total, label
        self.stream = stream if stream is not None else sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.start = time.monotonic()
        self._last_decile = -1

    def update(self, done: int, skipped: int = 0) -> None:
        frac = done / self.total if self.total else 1.0
        elapsed = time.monotonic() - self.start
        fresh = done - skipped
        eta = (elapsed / fresh * (self.total - done)) if fresh > 0 else 0.0
        bar = "#" * round(frac * 24)
        text = f"{self.label} [{bar:<24}] {done}/{self.total} ({elapsed:.0f}s, eta {eta:.0f}s)"
        if self.tty:
            self.stream.write("\r" + text + ("\n" if done >= self.total else ""))
        elif int(frac * 10) > self._last_decile or done >= self.total:
            self._last_decile = int(frac * 10)
            self.stream.write(text + "\n")
        self.stream.flush()


def _answer_record(answer: Answer) -> dict[str, Any]:
    return {
        "prediction": answer.answer,
        "confidence": answer.confidence,
        "confidence_source": answer.confidence_source,
        "stated_confidence": answer.stated_confidence,
        "findings": [
            {
                "label": f.label,
                "box": None if f.box is None else list(f.box.as_tuple()),
                "confidence": f.confidence,
            }
            for f in answer.findings
        ],
        "warnings": list(answer.warnings),
    }


def _ask(
    answerer: Answerer,
    question: str,
    image: Any,
    clock: Callable[[], float],
) -> dict[str, Any]:
    start = clock()
    try:
        answer = answerer.answer(question, image)
    except VoxRadError as exc:
        # One failed item must not end a long run; it is recorded and retried next time.
        logger.warning("item failed: %s", type(exc).__name__)
        return {"error": exc.user_message(), "latency_s": clock() - start}
    return {**_answer_record(answer), "latency_s": clock() - start, "error": None}


def run_vqa(
    items: Sequence[VqaItem],
    answerer: Answerer,
    log: ResultLog,
    *,
    baseline: bool = True,
    progress: Progress | None = None,
    clock: Callable[[], float] = time.perf_counter,
) -> list[dict[str, Any]]:
    """Ask every question with its image (and, with ``baseline``, with a black image).

    Returns the records of this selection, in dataset order, old and new.
    """
    conditions = CONDITIONS if baseline else CONDITIONS[:1]
    jobs = [(item, cond) for item in items for cond in conditions]
    skipped = sum(log.done(f"{cond}:{item.key}") for item, cond in jobs)
    done = skipped
    if progress is not None:
        progress.update(done, skipped)
    cache: dict[Path, Any] = {}
    for item, cond in jobs:
        rid = f"{cond}:{item.key}"
        if log.done(rid):
            continue
        if item.image not in cache:
            cache.clear()  # questions are grouped by image in these datasets: keep one
            cache[item.image] = read_image(item.image)
        image = cache[item.image]
        shown = image if cond == "image" else blank_like(image)
        result = _ask(answerer, item.question, shown, clock)
        record = {
            "id": rid,
            "key": item.key,
            "condition": cond,
            **{k: v for k, v in asdict(item).items() if k not in ("key", "image")},
            "image": item.image.name,
            **result,
        }
        log.append(record)
        done += 1
        if progress is not None:
            progress.update(done, skipped)
    return [log.records[f"{c}:{i.key}"] for i, c in jobs]


def run_grounding(
    items: Sequence[GroundingItem],
    answerer: Answerer,
    log: ResultLog,
    *,
    progress: Progress | None = None,
    clock: Callable[[], float] = time.perf_counter,
) -> list[dict[str, Any]]:
    """Ask each (image, label) query; returns the records of this selection in order."""
    skipped = sum(log.done(item.key) for item in items)
    done = skipped
    if progress is not None:
        progress.update(done, skipped)
    for item in items:
        if log.done(item.key):
            continue
        image = read_image(item.image)
        result = _ask(answerer, grounding_question(item), image, clock)
        record = {
            "id": item.key,
            "key": item.key,
            "image": item.image.name,
            "label": item.label,
            "truth": [list(b.as_tuple()) for b in item.boxes],
            "width": int(image.shape[1]),
            "height": int(image.shape[0]),
            **result,
        }
        log.append(record)
        done += 1
        if progress is not None:
            progress.update(done, skipped)
    return [log.records[item.key] for item in items]
