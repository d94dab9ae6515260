"""``voxrad audit verify|export``: check the audit log's chain, or write records out."""

from __future__ import annotations

import argparse
import sys


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "audit",
        help="verify or export the audit log of answers",
        description=(
            "Every answer VoxRad gives is recorded in an append-only, hash-chained audit log. "
            "'verify' checks that no record was edited, deleted, reordered, inserted or cut "
            "off (exit 1 naming the record when one was); 'export' writes records as CSV or "
            "JSON."
        ),
    )
    actions = p.add_subparsers(dest="audit_action", metavar="ACTION", required=True)
    v = actions.add_parser("verify", help="check the hash chain of the whole log")
    v.add_argument("--json", action="store_true", help="machine-readable output")
    v.set_defaults(run=run_verify)
    e = actions.add_parser("export", help="write records of a date range as CSV or JSON")
    e.add_argument("--from", dest="start", metavar="DATE", help="first day (YYYY-MM-DD, local)")
    e.add_argument("--to", dest="end", metavar="DATE", help="last day, included (YYYY-MM-DD)")
    e.add_argument("--format", choices=["csv", "json"], default="csv")
    e.add_argument("--output", "-o", metavar="FILE", help="write here instead of stdout")
    e.set_defaults(run=run_export)


def run_verify(args: argparse.Namespace) -> int:
    from voxrad.cli.output import print_json
    from voxrad.records.audit import default_dir
    from voxrad.records.audit_verify import verify_log

    report = verify_log()
    if args.json:
        print_json({"log": str(default_dir()), **report.to_dict()})
    elif report.ok:
        print(f"audit log OK: {report.records} records, chain intact ({default_dir()})")
    else:
        print(f"audit log FAILED verification ({default_dir()}):")
        for problem in report.problems:
            where = f"record {problem.seq}" if problem.seq is not None else "log"
            print(f"  {problem.kind} [{where}]: {problem.message}")
    return 0 if report.ok else 1


def run_export(args: argparse.Namespace) -> int:
    from pathlib import Path

    from voxrad.records.audit import AuditLog, default_dir
    from voxrad.records.audit_export import export, parse_bound
    from voxrad.records.audit_verify import verify_log

    start, end = parse_bound(args.start, end=False), parse_bound(args.end, end=True)
    if not (default_dir() / "audit.sqlite3").exists():
        print("voxrad: the audit log is empty (no answer has been given yet).", file=sys.stderr)
        return 1
    with AuditLog() as log:
        text = export(log.records(start, end), args.format)
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    report = verify_log()
    if not report.ok:
        # The rows are still written: an investigation needs them, marked as unverified.
        print(
            "voxrad: warning: the audit log fails verification "
            f"({len(report.problems)} problems); run `voxrad audit verify`.",
            file=sys.stderr,
        )
        return 1
    return 0
