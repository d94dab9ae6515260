"""``voxrad open PATH``: open a study in the desktop viewer."""

from __future__ import annotations

import argparse
from pathlib import Path

from voxrad.core.errors import StudyLoadError


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "open",
        help="open a study in the viewer",
        description="Open a DICOM file or folder, DICOMDIR, zip, NIfTI, PNG or JPEG in the viewer.",
    )
    p.add_argument("path", help="the study to open")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from voxrad.main import run_gui

    path = Path(args.path).expanduser()
    if not path.exists():
        raise StudyLoadError(f"{path} does not exist.", hint="Check the path and try again.")
    return run_gui(str(path))
