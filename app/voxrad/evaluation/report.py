"""The readable side of a run: ``summary.json``, ``report.md``, a reliability diagram and, for
grounding, one picture per query of true (green) against predicted (red) boxes. Pillow only."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from voxrad.evaluation.datasets import read_image

SUMMARY_FILE = "summary.json"
REPORT_FILE = "report.md"
RELIABILITY_FILE = "reliability.png"
PICTURES_DIR = "pictures"
TRUE_COLOR = (0, 200, 0)
PRED_COLOR = (230, 30, 30)
DISCLAIMER = (
    "Numbers describe this model on this dataset, on this machine. They are not a clinical "
    "validation; VoxRad is decision support, not a diagnosis."
)


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}%"


def _num(value: float | None, digits: int = 3) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def reliability_png(cal: dict[str, Any], path: Path, *, size: int = 360) -> Path:
    """A reliability diagram: accuracy per confidence bin (bars) against the diagonal."""
    from PIL import Image, ImageDraw

    margin = 40
    img = Image.new("RGB", (size, size), "white")
    draw = ImageDraw.Draw(img)
    inner = size - 2 * margin

    def xy(conf: float, acc: float) -> tuple[float, float]:
        return margin + conf * inner, size - margin - acc * inner

    draw.rectangle([margin, margin, size - margin, size - margin], outline="black")
    for b in cal["bins"]:
        if not b["count"] or b["accuracy"] is None:
            continue
        x0, y0 = xy(b["lower"], b["accuracy"])
        x1, y1 = xy(b["upper"], 0.0)
        draw.rectangle([x0 + 1, y0, x1 - 1, y1], fill=(70, 110, 200), outline="black")
        gx0, gy0 = xy(b["lower"], b["mean_confidence"])
        draw.line([gx0 + 1, gy0, x1 - 1, gy0], fill=(220, 60, 60), width=2)
    draw.line([xy(0, 0), xy(1, 1)], fill="grey", width=1)
    for t in (0.0, 0.5, 1.0):
        draw.text((xy(t, 0)[0] - 6, size - margin + 4), f"{t:g}", fill="black")
        draw.text((4, xy(0, t)[1] - 6), f"{t:g}", fill="black")
    draw.text((margin, size - 16), "confidence shown", fill="black")
    draw.text((margin, 4), f"ECE {_num(cal['ece'])}; n={cal['n']}", fill="black")
    draw.text((margin, 18), "bars: accuracy per bin; red: mean confidence", fill="black")
    img.save(path)
    return path


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name)[:120]


def box_picture(record: dict[str, Any], image_path: Path, folder: Path) -> Path:
    """The image with true boxes in green and predicted boxes (with confidence) in red."""
    from PIL import Image, ImageDraw

    from voxrad.evaluation.scores import predicted_boxes

    img = Image.fromarray(read_image(image_path))
    draw = ImageDraw.Draw(img)
    width = max(2, round(max(img.size) / 256))
    for t in record["truth"]:
        draw.rectangle(t, outline=TRUE_COLOR, width=width)
    for box, conf in predicted_boxes(record):
        draw.rectangle(list(box.as_tuple()), outline=PRED_COLOR, width=width)
        label = "?" if conf is None else f"{conf:.2f}"
        draw.text((box.x0 + 3, box.y0 + 2), label, fill=PRED_COLOR)
    draw.text((4, 4), f"{record['label']}: true green, predicted red", fill=(255, 255, 0))
    folder.mkdir(parents=True, exist_ok=True)
    out = folder / f"{_safe(Path(record['image']).stem)}__{_safe(str(record['label']))}.png"
    img.save(out)
    return out


def _vqa_rows(title: str, groups: dict[str, Any], blank: dict[str, Any] | None) -> list[str]:
    lines = [
        f"### {title}",
        "",
        "| group | n | closed acc. | open recall | open F1 | closed acc., blank image |",
        "|---|---|---|---|---|---|",
    ]
    for name, g in groups.items():
        b = (blank or {}).get(name)
        lines.append(
            f"| {name} | {g['n']} | {_pct(g['closed_accuracy'])} | {_pct(g['open_recall'])} "
            f"| {_pct(g['open_f1'])} | {_pct(b['closed_accuracy']) if b else 'n/a'} |"
        )
    return [*lines, ""]


def _latency(lat: dict[str, Any]) -> str:
    return (
        f"latency over {lat['n']} answers: p50 {_num(lat['p50_s'], 2)} s, "
        f"p90 {_num(lat['p90_s'], 2)} s, p99 {_num(lat['p99_s'], 2)} s"
    )


def _calibration_lines(cal: dict[str, Any]) -> list[str]:
    return [
        "## Calibration of the confidence shown",
        "",
        f"Expected calibration error ({len(cal['bins'])} equal bins): {_num(cal['ece'])} over "
        f"{cal['n']} answers; {cal['n_without_confidence']} showed no confidence.",
        "",
        f"![reliability diagram]({RELIABILITY_FILE})",
        "",
    ]


def vqa_markdown(meta: dict[str, Any], summary: dict[str, Any]) -> str:
    conds = summary["conditions"]
    img, blank = conds.get("image"), conds.get("blank")
    lines = [f"# VQA evaluation: {meta['model']} on {meta['dataset_name']}", "", DISCLAIMER, ""]
    lines.append(f"Questions: {meta['questions']}; seed {meta['seed']}; VoxRad {meta['version']}.")
    lines.append("")
    header = (
        "| | closed accuracy | open recall | open token F1 | errors | latency p50 / p90 / p99 |"
    )
    lines += [header, "|---|---|---|---|---|---|"]
    for name, label in (("image", "with the image"), ("blank", "blank image (text only)")):
        c = conds.get(name)
        if c is None:
            continue
        o, lat = c["overall"], c["latency"]
        lines.append(
            f"| {label} | {_pct(o['closed_accuracy'])} (n={o['closed_n']}) "
            f"| {_pct(o['open_recall'])} (n={o['open_n']}) | {_pct(o['open_f1'])} "
            f"| {c['errors']} | {_num(lat['p50_s'], 2)} / {_num(lat['p90_s'], 2)} / "
            f"{_num(lat['p99_s'], 2)} s |"
        )
    lines.append("")
    if blank is not None:
        lines += [
            "A model that scores as well on the blank image as on the real one is answering "
            "from the question's wording, not from the image.",
            "",
        ]
    if img is not None:
        b = blank or {}
        lines += _vqa_rows("By question type", img["by_question_type"], b.get("by_question_type"))
        lines += _vqa_rows("By organ", img["by_organ"], b.get("by_organ"))
    return "\n".join(lines + _calibration_lines(summary["calibration"])) + "\n"


def grounding_markdown(
    meta: dict[str, Any], summary: dict[str, Any], pictures: Sequence[Path]
) -> str:
    s = summary
    lines = [f"# Grounding evaluation: {meta['model']} on {meta['dataset_name']}", "", DISCLAIMER]
    lines += [
        "",
        f"Queries: {s['queries']} ({s['queries_with_boxes']} with a true box); IoU threshold "
        f"{s['iou_threshold']}; seed {meta['seed']}; VoxRad {meta['version']}.",
        "",
        "| mean IoU (top box) | hit rate @ IoU 0.5 | mAP (VOC all-point, IoU 0.5) "
        "| false alarms on images without a box | errors |",
        "|---|---|---|---|---|",
        f"| {_num(s['mean_iou'])} | {_pct(s['hit_rate'])} | {_num(s['map'])} "
        f"| {_pct(s['false_alarm_rate'])} | {s['errors']} |",
        "",
        _latency(s["latency"]) + ".",
        "",
        "| label | AP |",
        "|---|---|",
    ]
    lines += [f"| {k} | {_num(v)} |" for k, v in s["ap_by_label"].items()]
    lines += ["", *_calibration_lines(s["calibration"]), "## Pictures (true green, predicted red)"]
    lines.append("")
    lines += [f"![{p.stem}]({PICTURES_DIR}/{p.name})" for p in pictures]
    return "\n".join(lines) + "\n"


def write_report(
    folder: Path,
    meta: dict[str, Any],
    summary: dict[str, Any],
    *,
    records: Sequence[dict[str, Any]] = (),
    images: dict[str, Path] | None = None,
) -> dict[str, Path]:
    """Write ``summary.json``, ``report.md``, ``reliability.png`` (and grounding pictures)."""
    paths = {"summary": folder / SUMMARY_FILE, "report": folder / REPORT_FILE}
    payload = {"run": meta, "summary": summary}
    paths["summary"].write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    cal = summary["calibration"]
    paths["reliability"] = reliability_png(cal, folder / RELIABILITY_FILE)
    if meta["kind"] == "grounding":
        pictures = [
            box_picture(r, (images or {})[r["id"]], folder / PICTURES_DIR)
            for r in records
            if not r.get("error") and r["id"] in (images or {})
        ]
        text = grounding_markdown(meta, summary, pictures)
    else:
        text = vqa_markdown(meta, summary)
    paths["report"].write_text(text, encoding="utf-8")
    return paths
