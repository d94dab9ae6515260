"""``voxrad export``: an audited answer's findings to DICOM SR, a key image and an HTML report.

The answer comes from the audit log (so only what VoxRad really said can be exported) and is
matched to the study by its series UID (salted hashes are compared on this installation):
findings are never attached to a study they were not given on.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "export",
        help="export an audited answer as DICOM SR, key image and HTML report",
        description=(
            "Write the findings of audit record N (see `voxrad audit export`) for the study at "
            "PATH as a DICOM Comprehensive 3D SR (TID 1500), a key-image secondary capture "
            "with the boxes burned in, and a de-identified HTML report. The DICOM objects "
            "belong to the patient's study (for PACS); the HTML report holds no patient "
            "details. Decision support, not a diagnosis."
        ),
    )
    p.add_argument("path", help="the study the answer was given on (folder, file, zip)")
    p.add_argument("--record", type=int, required=True, metavar="N", help="audit record number")
    p.add_argument("--out", default=".", metavar="DIR", help="output folder (default: here)")
    p.add_argument(
        "--what",
        default="sr,sc,html",
        help="comma-separated: sr (structured report), sc (key image), html (report)",
    )
    p.set_defaults(run=run)


def _record(seq: int) -> Any:
    from voxrad.core.errors import VoxRadError
    from voxrad.records.audit import AuditLog
    from voxrad.records.audit_verify import verify_log

    report = verify_log()
    if not report.ok:
        raise VoxRadError(
            "The audit log fails verification, so its answers cannot be exported.",
            hint="Run `voxrad audit verify` and report the problem to IT.",
        )
    with AuditLog() as log:
        found = [r for r in log.records() if r.seq == seq]
    if not found:
        raise VoxRadError(
            f"There is no audit record {seq}.",
            hint="`voxrad audit export` lists the records with their numbers.",
        )
    return found[0]


def _answer(body: dict[str, Any]) -> Any:
    from voxrad.core.conversation import CUT_OFF_PREFIX, Answer, Box, Finding, finish_reason_from

    findings = []
    for f in body.get("findings", []):
        box = Box(*f["box_px"]) if f.get("box_px") else None
        findings.append(Finding(f.get("label", ""), box, f.get("confidence"), f.get("slice")))
    warnings = tuple(str(w) for w in body.get("warnings", []))
    # The record keeps the cut-off note among its warnings: its reason is the note's tail.
    detail = next((w[len(CUT_OFF_PREFIX) :] for w in warnings if w.startswith(CUT_OFF_PREFIX)), "")
    return Answer(
        body.get("answer", ""),
        findings=tuple(findings),
        confidence=body.get("confidence"),
        warnings=warnings,
        model=body.get("model", ""),
        finish_reason=finish_reason_from(body.get("finish_reason")),
        finish_detail=detail,
    )


def _series_for(study: Any, body: dict[str, Any]) -> Any:
    from voxrad.core.errors import VoxRadError
    from voxrad.records.audit import installation_salt
    from voxrad.records.canonical import salted_uid

    wanted = body.get("series", "")
    salt = installation_salt() if body.get("uids") == "hmac-sha256" else None
    for series in study.series:
        uid = series.info.uid
        if wanted and (salted_uid(uid, salt) if salt is not None else uid) == wanted:
            return series
    raise VoxRadError(
        f"Audit record {body.get('seq')} was not given on a series of this study.",
        hint="Open the study the question was asked about.",
    )


def _headers(series: Any, volume: Any) -> dict[int, Any]:
    """Acquired slice index -> full header of the file that is exactly that slice."""
    import numpy as np
    import pydicom

    plan = getattr(series.loader, "plan", None)
    out: dict[int, Any] = {}
    for frame in getattr(plan, "frames", []):
        if frame.frame is not None or frame.position is None:
            continue  # multi-frame or unpositioned: boxes go out as SCOORD3D
        k, j, i = volume.patient_to_index(np.asarray(frame.position, dtype=float))
        if abs(k - round(k)) > 1e-3 or abs(j) > 1e-3 or abs(i) > 1e-3:
            continue  # resampled volume: this file is not one of its slices
        if (frame.rows, frame.columns) != volume.shape[1:]:
            continue
        with frame.source.open() as fp:
            out[round(k)] = pydicom.dcmread(fp, stop_before_pixels=True)
    return out


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from voxrad.assistant.checks.safety import confidence_display
    from voxrad.assistant.privacy.gate import Scrubber
    from voxrad.core.errors import VoxRadError
    from voxrad.imaging.registry import open_study
    from voxrad.records.dicom_export import findings_sr, key_image_capture
    from voxrad.records.keyimage import draw_findings, slice_rgb
    from voxrad.records.report import ReportTurn, study_report_html

    what = {w.strip() for w in args.what.split(",") if w.strip()}
    unknown = what - {"sr", "sc", "html"}
    if unknown or not what:
        raise VoxRadError(
            f"Unknown export kind: {', '.join(sorted(unknown)) or 'none'}.",
            hint="Use --what with sr, sc and/or html.",
        )
    record = _record(args.record)
    study = open_study(args.path)
    series = _series_for(study, record.body)
    volume = series.load_volume()
    answer = _answer(record.body)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    boxed = [f for f in answer.findings if f.box is not None and f.slice_index is not None]
    headers = _headers(series, volume) if what & {"sr", "sc"} else {}
    if "sr" in what:
        evidence = list(headers.values())
        frame_uid = str(evidence[0].get("FrameOfReferenceUID", "")) if evidence else ""
        sr = findings_sr(
            answer,
            evidence=evidence,
            sources=headers,
            volume=volume,
            frame_of_reference_uid=frame_uid,
            model_sha256=record.body.get("model_sha256", ""),
        )
        written.append(out / f"voxrad-{args.record}-sr.dcm")
        sr.dataset.save_as(written[-1], enforce_file_format=True)
    key_slice = boxed[0].slice_index if boxed else None
    on_slice = [f for f in answer.findings if f.slice_index == key_slice]
    if "sc" in what and key_slice is not None and key_slice in headers:
        rgb = draw_findings(slice_rgb(volume, key_slice), on_slice)
        written.append(out / f"voxrad-{args.record}-key.dcm")
        key_image_capture(rgb, headers[key_slice]).save_as(written[-1], enforce_file_format=True)
    elif "sc" in what:
        print(
            "voxrad: no key image: no box lies on an original slice of this series.",
            file=sys.stderr,
        )
    if "html" in what:
        scrub = Scrubber.for_identity(study.identity)
        shown = confidence_display(answer.confidence)
        image = slice_rgb(volume, key_slice) if key_slice is not None else None
        turn = ReportTurn(
            record.body.get("question", ""),
            answer,
            image,
            shown.words,
            shown.color,
            image_slice=key_slice,
        )
        html = study_report_html(
            [turn],
            text_filter=lambda s: scrub.scrub(s)[0],
            model=answer.model,
            model_sha256=record.body.get("model_sha256", ""),
            backend=record.body.get("backend", ""),
        )
        written.append(out / f"voxrad-{args.record}-report.html")
        written[-1].write_text(html, encoding="utf-8")
    for path in written:
        print(path)
    return 0
