"""A self-contained HTML study report: key images with boxes, the questions and answers, the
model, and the disclaimer. De-identified: it carries no patient header values, and every free
text (questions, answers, labels, warnings) goes through the caller's ``text_filter`` (the
assistant passes its privacy scrubber), because a spoken question can hold a name.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime

import numpy as np

from voxrad import __version__
from voxrad.core.conversation import Answer
from voxrad.records.keyimage import draw_findings, png_bytes

DISCLAIMER = (
    "Decision support, not a diagnosis. These answers were produced by an AI model and can be "
    "wrong; a qualified clinician is responsible for every reading."
)

_CSS = """
body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;color:#222}
.disclaimer{border:2px solid #C62828;background:#FFEBEE;padding:.6rem 1rem;font-weight:600}
.turn{border-top:1px solid #ccc;padding:1rem 0;page-break-inside:avoid}
.q{font-weight:600}.conf{font-weight:600}
.warn{color:#8a4b00}img{max-width:100%;image-rendering:pixelated;border:1px solid #999}
table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.2rem .5rem;text-align:left}
"""


@dataclass(frozen=True)
class ReportTurn:
    """One question and its answer; ``image`` is acquired slice ``image_slice`` as RGB uint8.
    The report draws the boxes of the findings on that slice, with filtered labels."""

    question: str
    answer: Answer
    image: np.ndarray | None = None
    confidence_words: str = ""
    confidence_color: str = "#757575"
    flagged_labels: frozenset[str] = frozenset()
    image_slice: int | None = None


def _img(rgb: np.ndarray) -> str:
    data = base64.b64encode(png_bytes(rgb)).decode("ascii")
    return f'<img alt="key image" src="data:image/png;base64,{data}">'


def _turn_html(n: int, turn: ReportTurn, clean: Callable[[str], str]) -> str:
    esc = html.escape
    answer = turn.answer
    findings = tuple(replace(f, label=clean(f.label)) for f in answer.findings)
    flagged = frozenset(clean(label) for label in turn.flagged_labels)
    parts = [f'<section class="turn"><h2>Question {n}</h2>']
    parts.append(f'<p class="q">{esc(clean(turn.question))}</p>')
    if answer.cut_off:
        # Above the text, not among the warnings below it: the fragment must not read as a reply.
        parts.append(f'<p class="warn cut-off">{esc(clean(answer.cut_off_note))}</p>')
    parts.append(f"<p>{esc(clean(answer.answer))}</p>")
    if answer.reasoning:
        parts.append(
            f"<details><summary>Reasoning</summary><p>{esc(clean(answer.reasoning))}</p></details>"
        )
    if turn.confidence_words:
        color = turn.confidence_color if turn.confidence_color.startswith("#") else "#757575"
        parts.append(
            f'<p class="conf" style="color:{esc(color[:7])}">'
            f"{esc(clean(turn.confidence_words))}</p>"
        )
    if findings:
        rows = "".join(
            f"<tr><td>{i}</td><td>{esc(f.label)}</td>"
            f"<td>{'' if f.slice_index is None else f.slice_index + 1}</td>"
            f"<td>{'' if f.confidence is None else f'{round(100 * f.confidence)}%'}</td></tr>"
            for i, f in enumerate(findings, start=1)
        )
        parts.append(
            "<table><tr><th>#</th><th>Finding</th><th>Slice</th><th>Confidence</th>"
            f"</tr>{rows}</table>"
        )
    for warning in answer.warnings:
        if warning != answer.cut_off_note:
            parts.append(f'<p class="warn">{esc(clean(warning))}</p>')
    if turn.image is not None:
        # Only boxes drawn on this slice: a box from another slice would mislead.
        shown = [(n, f) for n, f in enumerate(findings, 1) if f.slice_index == turn.image_slice]
        drawn = draw_findings(
            turn.image, [f for _, f in shown], flagged=flagged, numbers=[n for n, _ in shown]
        )
        parts.append(_img(drawn))
    parts.append("</section>")
    return "\n".join(parts)


def study_report_html(
    turns: Sequence[ReportTurn],
    *,
    text_filter: Callable[[str], str],
    model: str,
    model_sha256: str = "",
    backend: str = "",
    generated_at: datetime | None = None,
) -> str:
    """The report as one HTML document (images embedded as PNG data URLs).

    ``text_filter`` must remove identifiers from free text (it is required so that no caller
    can forget it); pass ``lambda s: s`` only for a report that stays in the patient's record.
    """
    esc = html.escape
    when = (generated_at or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M %Z").strip()
    model_line = esc(model) + (f" (SHA-256 {esc(model_sha256[:16])}…)" if model_sha256 else "")
    body = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        "<title>VoxRad study report</title>",
        f"<style>{_CSS}</style></head><body>",
        "<h1>VoxRad study report</h1>",
        f'<p class="disclaimer">{esc(DISCLAIMER)}</p>',
        f"<p>Model: {model_line}" + (f"; engine: {esc(backend)}" if backend else "") + "<br>",
        f"VoxRad {esc(__version__)}; generated {esc(when)}; de-identified (no patient details)."
        "</p>",
    ]
    body.extend(_turn_html(n, t, text_filter) for n, t in enumerate(turns, start=1))
    body.append(f'<p class="disclaimer">{esc(DISCLAIMER)}</p></body></html>')
    return "\n".join(body) + "\n"
