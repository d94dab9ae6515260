"""``voxrad settings``: show the effective settings and where they are stored."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "settings",
        help="show the effective settings and the settings file",
        description=(
            "Print the settings in effect (file, then VOXRAD_* environment overrides) and the "
            "folders VoxRad uses."
        ),
    )
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from voxrad.cli.output import print_json
    from voxrad.core import paths
    from voxrad.core.settings import load_settings

    settings = load_settings()
    payload = {
        "settings_file": str(paths.settings_path()),
        "log_dir": str(paths.log_dir()),
        "data_dir": str(paths.data_dir()),
        "models_dir": str(settings.models.resolved_directory()),
        "settings": settings.model_dump(),
    }
    if args.json:
        print_json(payload)
        return 0
    for key in ("settings_file", "log_dir", "data_dir", "models_dir"):
        print(f"{key.replace('_', ' ')}: {payload[key]}")
    print()
    for section, values in payload["settings"].items():
        if isinstance(values, dict):
            for name, value in values.items():
                print(f"{section}.{name} = {value!r}")
        else:
            print(f"{section} = {values!r}")
    return 0
