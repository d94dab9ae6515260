"""``voxrad info PATH``: the series of a study with their geometry, warnings and skipped files."""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np

from voxrad.core.geometry import orientation_label


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "info",
        help="describe the series in a file, folder, DICOMDIR or zip",
        description=(
            "List every series found under PATH with its geometry (LPS), value range, warnings "
            "and skipped files. Patient identity is hidden unless --phi is given."
        ),
    )
    p.add_argument("path", help="DICOM file, folder, DICOMDIR, zip, NIfTI, PNG or JPEG")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--phi", action="store_true", help="also print patient name and ID")
    p.add_argument(
        "--headers-only",
        action="store_true",
        help="do not read pixels (faster; no value range, decode problems not detected)",
    )
    p.add_argument(
        "--no-resample",
        action="store_true",
        help="describe slices as acquired, without correcting tilt or irregular spacing",
    )
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from voxrad.assistant.privacy.gate import log_redactor
    from voxrad.cli.output import print_json, progress_printer
    from voxrad.imaging.registry import open_study

    progress = progress_printer(not args.json)
    study = open_study(args.path, progress=progress)
    log_redactor().set_identity(study.identity)
    rows = []
    for series in study.series:
        row = _describe_info(series.info)
        if not args.headers_only:
            skipped: list[Any] = []
            volume = series.load_volume(
                progress=progress, regularize=not args.no_resample, skipped=skipped
            )
            row.update(_describe_volume(volume))
            study.skipped.extend(skipped)
        rows.append(row)
    payload: dict[str, Any] = {
        "path": study.path,
        "files_seen": study.files_seen,
        "scan_seconds": round(study.seconds, 4),
        "series": rows,
        "skipped": [{"path": s.path, "reason": s.reason} for s in study.skipped],
        "warnings": list(study.warnings),
    }
    if args.phi:
        ident = study.identity
        payload["patient"] = {
            "name": ident.name,
            "id": ident.patient_id,
            "birth_date": ident.birth_date,
            "accession_number": ident.accession_number,
        }
    if args.json:
        print_json(payload)
    else:
        _print_human(payload, phi=args.phi)
    return 0


def _describe_info(info: Any) -> dict[str, Any]:
    return {
        "uid": info.uid,
        "series_number": info.series_number,
        "modality": info.modality,
        "description": info.description,
        "body_part": info.body_part,
        "kind": info.kind,
        "files": info.file_count,
        "shape": list(info.shape),
        "warnings": list(info.warnings),
    }


def _describe_volume(volume: Any) -> dict[str, Any]:
    lo, hi = volume.value_range()
    direction = np.asarray(volume.direction)
    return {
        "shape": list(volume.shape),
        "channels": int(volume.voxels.shape[3]) if volume.is_color else 1,
        "spacing": [round(s, 6) for s in volume.spacing],
        "spacing_calibrated": volume.spacing_calibrated,
        "origin": [round(o, 4) for o in volume.origin],
        "direction": [[round(float(v), 6) for v in row] for row in direction],
        "axis_labels": [orientation_label(direction[:, n]) for n in range(3)],
        "value_range": [lo, hi],
        "units": volume.units,
        "dtype": str(volume.voxels.dtype),
        "photometric": volume.photometric,
        "window_presets": [
            {"name": p.name, "center": p.center, "width": p.width, "source": p.source}
            for p in volume.presets()
        ],
        "warnings": list(volume.warnings),
    }


def _print_human(payload: dict[str, Any], *, phi: bool) -> None:
    print(f"Study: {payload['path']}")
    print(
        f"  {payload['files_seen']} files, {len(payload['series'])} series, "
        f"{len(payload['skipped'])} skipped, scanned in {payload['scan_seconds']:.2f} s"
    )
    for w in payload["warnings"]:
        print(f"  WARNING: {w}")
    if phi:
        pat = payload["patient"]
        print(f"  Patient: {pat['name']}  ID {pat['id']}  born {pat['birth_date'] or '-'}")
    else:
        print("  Patient: hidden (use --phi to show)")
    for n, s in enumerate(payload["series"], start=1):
        number = f"#{s['series_number']} " if s["series_number"] is not None else ""
        print(f'\nSeries {n}: {number}{s["modality"]} "{s["description"]}" ({s["kind"]})')
        print(f"  uid: {s['uid']}")
        shape = s["shape"]
        print(f"  shape (slices x rows x columns): {shape[0]} x {shape[1]} x {shape[2]}")
        if "spacing" in s:
            sp = s["spacing"]
            unit = "mm" if s["spacing_calibrated"] else "px (uncalibrated)"
            print(f"  spacing (slice, row, column): {sp[0]:.4g} x {sp[1]:.4g} x {sp[2]:.4g} {unit}")
            print("  origin (LPS mm): " + ", ".join(f"{v:.2f}" for v in s["origin"]))
            d = s["direction"]
            for axis, name in enumerate(("slice", "row", "column")):
                vec = ", ".join(f"{d[r][axis] + 0.0:+.4f}" for r in range(3))  # no "-0"
                print(f"  direction of {name} axis (LPS): ({vec})")
            labels = s["axis_labels"]
            print(
                f"  axes: slices towards {labels[0] or '?'}, rows towards {labels[1] or '?'}, "
                f"columns towards {labels[2] or '?'}"
            )
            lo, hi = s["value_range"]
            print(f"  values: {lo:g} .. {hi:g} {s['units']}".rstrip())
        warnings = s.get("warnings", [])
        for w in warnings:
            print(f"  warning: {w}")
    if payload["skipped"]:
        print("\nSkipped files:")
        for item in payload["skipped"]:
            print(f"  {item['path']}: {item['reason']}")
