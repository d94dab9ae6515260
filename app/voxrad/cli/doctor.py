"""``voxrad doctor``: what this workstation has for VoxRad, and what to fix first."""

from __future__ import annotations

import argparse
import textwrap
from typing import Any

_EPILOG = """\
Each item is ok, warning (VoxRad works, but something is slower or missing, e.g. no GPU or
no microphone) or problem (a part of VoxRad cannot work until it is fixed). Every probe has
a time limit, so a hanging driver shows up as a problem instead of stopping the report.

exit status:
  0  no problem (warnings allowed)
  1  at least one item is a problem
"""

_MARKERS = {"ok": "[ OK ]", "warning": "[WARN]", "problem": "[FAIL]"}


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "doctor",
        help="check this workstation: CPU, GPU, OpenGL, audio, voices, models, disk, folders",
        description=(
            "Check what this workstation offers VoxRad (OS, Python, CPU, memory, GPU/CUDA,\n"
            "OpenGL, audio devices, text-to-speech voices, installed models, disk space,\n"
            "folders) and say what to do about each warning or problem."
        ),
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--json",
        action="store_true",
        help='machine-readable output: {"status": ..., "checks": [...]}',
    )
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from voxrad import __version__
    from voxrad.cli.output import print_json
    from voxrad.doctor.check import Status, count_by_status, overall_status
    from voxrad.doctor.probes import run_doctor

    checks = run_doctor()
    status = overall_status(checks)
    if args.json:
        payload: dict[str, Any] = {
            "voxrad_version": __version__,
            "status": status.value,
            "counts": {s.value: n for s, n in count_by_status(checks).items()},
            "checks": [c.to_dict() for c in checks],
        }
        print_json(payload)
    else:
        _print_table(checks, __version__)
    return 1 if status is Status.PROBLEM else 0


def _print_table(checks: list[Any], version: str) -> None:
    from voxrad.doctor.check import Status, count_by_status, overall_status

    width = max(len(c.name) for c in checks)
    indent = " " * (len(_MARKERS["ok"]) + 1 + width + 2)
    print(f"VoxRad {version} doctor\n")
    for check in checks:
        marker = _MARKERS[check.status.value]
        lines = textwrap.wrap(check.summary, 96 - len(indent)) or [""]
        print(f"{marker} {check.name:<{width}}  {lines[0]}")
        for line in lines[1:]:
            print(indent + line)
        if check.hint:
            for n, line in enumerate(textwrap.wrap(check.hint, 96 - len(indent) - 3)):
                print(indent + ("-> " if n == 0 else "   ") + line)
    counts = count_by_status(checks)
    print(
        f"\nOverall: {overall_status(checks).value} ({counts[Status.OK]} ok, "
        f"{counts[Status.WARNING]} warning(s), {counts[Status.PROBLEM]} problem(s))"
    )
