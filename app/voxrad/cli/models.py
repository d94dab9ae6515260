"""``voxrad models list | pull NAME | verify [NAME] | remove NAME | import PATH``."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

    from voxrad.backends.catalog import ModelEntry


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "models",
        help="list, install, check and remove models",
        description=(
            "Models VoxRad can use, and the ones installed in the models folder. `pull` "
            "downloads from Hugging Face (resumable, checksummed); `import` installs files "
            "copied in by hand, for workstations without internet."
        ),
    )
    p.add_argument("--json", action="store_true", help="machine-readable output")
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    actions.add_parser("list", help="catalog models and whether they are installed")
    pull = actions.add_parser("pull", help="download a model")
    pull.add_argument("name")
    pull.add_argument("--token", help="Hugging Face token (default: HF_TOKEN or the saved login)")
    pull.add_argument(
        "--dry-run",
        action="store_true",
        help="show the files, sizes and disk space a pull needs, without downloading",
    )
    verify = actions.add_parser("verify", help="check installed models' checksums")
    verify.add_argument("name", nargs="?")
    remove = actions.add_parser("remove", help="delete an installed model")
    remove.add_argument("name")
    imp = actions.add_parser("import", help="install model files copied in by hand")
    imp.add_argument("path")
    imp.add_argument("--name", help="catalog name (needed for folders of whisper/transformers)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from voxrad.backends import model_store
    from voxrad.backends.catalog import find_installed, load_catalog
    from voxrad.cli.output import print_json
    from voxrad.core.settings import load_settings

    models_dir = load_settings().models.resolved_directory()
    catalog = load_catalog()
    if args.action == "list":
        rows: list[dict[str, object]] = []
        for e in catalog.models:
            installed = find_installed(e, models_dir)
            rows.append(
                {
                    "name": e.name,
                    "kind": e.kind,
                    "family": e.family,
                    "backend": e.backend,
                    "installed": installed is not None,
                    "ram_gb": e.ram_gb,
                    "vram_gb": e.vram_gb,
                    "boxes": e.capabilities.boxes,
                    "licence": e.licence,
                    "gated": e.gated,
                    "recommended": e.recommended,
                    "title": e.title,
                    "revision": e.revision,
                    "checksums": e.checksums,
                }
            )
        if args.json:
            print_json({"models_dir": str(models_dir), "models": rows})
            return 0
        print(f"models folder: {models_dir}")
        for r in rows:
            mark = "installed" if r["installed"] else "-"
            star = " (recommended)" if r["recommended"] else ""
            gated = ", gated" if r["gated"] else ""
            print(
                f"  {r['name']:<28} {r['kind']:<4} {r['backend']:<15} {mark:<10} "
                f"RAM {r['ram_gb']:g} GB{gated}{star}"
            )
            if r["checksums"] != "pinned":
                print(f"  {'':<28} checksum {r['checksums']}")
        return 0
    if args.action == "pull" and args.dry_run:
        return _dry_run(catalog.get(args.name), models_dir, args)
    if args.action == "pull":
        entry = catalog.get(args.name)
        if entry.terms and not args.json:
            print(f"{entry.title}\nlicence: {entry.licence}\nterms: {entry.terms}")
        manifest = model_store.pull(
            entry,
            models_dir,
            token=args.token or None,
            on_progress=None if args.json else lambda m: print(f"downloading {m}"),
        )
        if args.json:
            print_json(manifest.model_dump())
        else:
            print(f"installed {entry.name} in {models_dir / entry.install_dir}")
        return 0
    if args.action == "verify":
        entries = [catalog.get(args.name)] if args.name else catalog.models
        results = [model_store.verify(e, models_dir) for e in entries]
        if not args.name:
            results = [r for r in results if r.status != "not installed"]
        bad = [r for r in results if r.status in ("damaged", "incomplete")]
        if args.json:
            print_json([{"name": r.name, "status": r.status, "detail": r.detail} for r in results])
        else:
            if not results:
                print("no models installed")
            for res in results:
                print(f"  {res.name:<28} {res.status}{': ' + res.detail if res.detail else ''}")
        return 1 if bad else 0
    if args.action == "remove":
        entry = catalog.get(args.name)
        removed = model_store.remove(entry, models_dir)
        print(f"removed {entry.name}" if removed else f"{entry.name} was not installed")
        return 0
    from pathlib import Path

    manifest = model_store.import_path(Path(args.path), models_dir, catalog, name=args.name)
    if args.json:
        print_json(manifest.model_dump())
    else:
        print(f"imported {manifest.name}: {len(manifest.files)} files checked and recorded")
    return 0


def _dry_run(entry: ModelEntry, models_dir: Path, args: argparse.Namespace) -> int:
    """``pull NAME --dry-run``: what would be fetched, checked against the live listing."""
    from voxrad.backends import model_store
    from voxrad.cli.output import print_json

    plan = model_store.plan(entry, models_dir, token=args.token or None)
    if args.json:
        print_json(plan.to_dict())
        return 0 if plan.fits else 1
    print(f"{entry.title}\nfrom {plan.repo} at {plan.commit}\ninto {plan.folder}")
    for f in plan.files:
        size = f"{f.size:>15,} bytes" if f.size is not None else f"{'size unknown':>21}"
        check = {
            "catalog": "sha256 pinned by VoxRad",
            "hub": "sha256 from the hub, recorded at download",
            "none": "no checksum available",
        }[f.checksum_from]
        state = "  (already here)" if f.present else ""
        print(f"  {f.role:<8} {f.name:<48} {size}  {check}{state}")
    unknown = f" plus {plan.unknown_sizes} file(s) of unknown size" if plan.unknown_sizes else ""
    print(
        f"to download: {plan.download_bytes / 1e9:.2f} GB{unknown}; "
        f"free: {plan.free_bytes / 1e9:.1f} GB"
    )
    if not plan.fits:
        print("not enough disk space (1 GB is kept spare): free space or choose another folder")
        return 1
    print("nothing was downloaded (dry run)")
    return 0
