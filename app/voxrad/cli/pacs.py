"""``voxrad pacs echo | find | get | send``: the hospital's PACS over DICOMweb or DIMSE.

The node is ``--node NAME`` from settings (the default node when omitted), or ad hoc:
``--url http://HOST:PORT/dicom-web`` or ``--dimse HOST:PORT --called-ae AE``. A password or
token is never taken on the command line (it would show in the process list): it comes from
the environment variable the node names (``--secret-env``, default ``VOXRAD_PACS_SECRET``) or
the OS keyring. Exit codes: 0 done, 1 error, 2 bad usage, 4 PACS unreachable, 5 retrieve
incomplete (what arrived is kept; run it again to continue), 6 some files not sent.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from voxrad.core.settings import PacsNode, Settings
    from voxrad.pacs.base import PacsClient

EXIT_UNREACHABLE = 4
EXIT_INCOMPLETE = 5
EXIT_NOT_SENT = 6


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    common = argparse.ArgumentParser(add_help=False)
    where = common.add_argument_group("which PACS")
    where.add_argument("--node", metavar="NAME", help="a node from settings (default: its default)")
    where.add_argument("--url", help="ad-hoc DICOMweb node: its root, e.g. http://host/dicom-web")
    where.add_argument("--dimse", metavar="HOST:PORT", help="ad-hoc DIMSE node")
    where.add_argument("--called-ae", metavar="AE", help="the PACS's AE title (with --dimse)")
    where.add_argument("--calling-ae", metavar="AE", help="this workstation's AE title")
    where.add_argument("--user", help="ad-hoc DICOMweb: user name for HTTP basic authentication")
    where.add_argument("--token", action="store_true", help="ad-hoc DICOMweb: bearer token auth")
    where.add_argument(
        "--secret-env",
        metavar="VAR",
        help="environment variable holding the password or token (default VOXRAD_PACS_SECRET)",
    )
    common.add_argument("--json", action="store_true", help="machine-readable output")

    p = sub.add_parser(
        "pacs",
        help="query, retrieve from and send to a PACS (DICOMweb or DIMSE)",
        description=__doc__.split("\n\n", 1)[1] if __doc__ else None,
    )
    actions = p.add_subparsers(dest="pacs_action", metavar="ACTION", required=True)
    actions.add_parser("echo", parents=[common], help="check that the PACS answers")
    find = actions.add_parser("find", parents=[common], help="search for studies")
    find.add_argument("--patient-id")
    find.add_argument("--patient-name", help="wildcards allowed, e.g. 'DOE^J*'")
    find.add_argument("--accession")
    find.add_argument("--modality", help="e.g. CT")
    find.add_argument("--date", metavar="FROM-TO", help="YYYYMMDD, YYYYMMDD-YYYYMMDD, or open")
    find.add_argument("--limit", type=int, default=100)
    find.add_argument("--series", action="store_true", help="also list each study's series")
    find.add_argument("--phi", action="store_true", help="also print patient name and ID")
    get = actions.add_parser(
        "get", parents=[common], help="retrieve a study (or a series); prints its folder"
    )
    get.add_argument("study_uid")
    get.add_argument("--series", metavar="UID", help="only this series")
    get.add_argument("--out", metavar="DIR", help="folder to write (default: the PACS cache)")
    send = actions.add_parser("send", parents=[common], help="store DICOM files on the PACS")
    send.add_argument("paths", nargs="+", metavar="PATH", help="files or folders")
    p.set_defaults(run=run)


def _adhoc_node(args: argparse.Namespace, settings: Settings) -> PacsNode | None:
    from voxrad.core.settings import PacsNode

    secret_env = args.secret_env or "VOXRAD_PACS_SECRET"
    if args.url:
        auth = "bearer" if args.token else ("basic" if args.user else "none")
        return PacsNode(
            name="adhoc",
            protocol="dicomweb",
            url=args.url,
            auth=auth,
            username=args.user or "",
            secret_env=secret_env,
        )
    if args.dimse:
        host, _, port = args.dimse.rpartition(":")
        if not host or not port.isdigit():
            raise _usage(f"--dimse wants HOST:PORT, not '{args.dimse}'.")
        if not args.called_ae:
            raise _usage("--dimse needs --called-ae (the PACS's AE title).")
        return PacsNode(
            name="adhoc",
            protocol="dimse",
            host=host,
            port=int(port),
            called_ae=args.called_ae,
            calling_ae=args.calling_ae or "VOXRAD",
        )
    return None


class _UsageError(Exception):
    pass


def _usage(message: str) -> _UsageError:
    return _UsageError(message)


def parse_date_range(text: str | None) -> tuple[str, str]:
    """``--date`` as (from, to) ``YYYYMMDD`` strings; either may be empty (open range)."""
    if not text:
        return "", ""
    value = text.strip()
    if re.fullmatch(r"\d{8}", value):
        return value, value
    m = re.fullmatch(r"(\d{8})?-(\d{8})?", value)
    if not m or not (m.group(1) or m.group(2)):
        raise _usage(f"--date wants YYYYMMDD or FROM-TO (YYYYMMDD-YYYYMMDD), not '{text}'.")
    return m.group(1) or "", m.group(2) or ""


def run(args: argparse.Namespace) -> int:
    from voxrad.core.errors import PacsUnreachableError
    from voxrad.core.settings import load_settings
    from voxrad.pacs.registry import open_client

    settings = load_settings()
    try:
        node = _adhoc_node(args, settings) or settings.pacs.node(args.node)
        if node.protocol == "dimse" and args.calling_ae and node.name != "adhoc":
            node = node.model_copy(update={"calling_ae": args.calling_ae})
        handler = {"echo": _echo, "find": _find, "get": _get, "send": _send}[args.pacs_action]
        client = open_client(node)
        try:
            return handler(args, settings, node, client)
        finally:
            client.close()
    except _UsageError as exc:
        print(f"voxrad: {exc}", file=sys.stderr)
        return 2
    except PacsUnreachableError as exc:
        print(f"voxrad: {exc.user_message()}", file=sys.stderr)
        return EXIT_UNREACHABLE


def _echo(args: argparse.Namespace, settings: Settings, node: PacsNode, client: PacsClient) -> int:
    from voxrad.cli.output import print_json

    seconds = client.echo()
    if args.json:
        print_json({"node": node.name, "protocol": node.protocol, "ok": True, "seconds": seconds})
    else:
        print(f"OK: PACS node '{node.name}' ({node.protocol}) answered in {seconds * 1000:.0f} ms")
    return 0


def _find(args: argparse.Namespace, settings: Settings, node: PacsNode, client: PacsClient) -> int:
    from dataclasses import asdict

    from voxrad.cli.output import print_json
    from voxrad.pacs.base import StudyQuery

    date_from, date_to = parse_date_range(args.date)
    query = StudyQuery(
        patient_id=args.patient_id or "",
        patient_name=args.patient_name or "",
        accession=args.accession or "",
        modality=args.modality or "",
        date_from=date_from,
        date_to=date_to,
        limit=args.limit,
    )
    studies = client.find_studies(query)
    rows: list[dict[str, Any]] = []
    for s in studies:
        row = asdict(s)
        if not args.phi:
            row.pop("patient_id")
            row.pop("patient_name")
        if args.series:
            row["series"] = [asdict(x) for x in client.find_series(s.study_uid)]
        rows.append(row)
    if args.json:
        print_json({"node": node.name, "studies": rows})
        return 0
    print(f"{len(rows)} studies on '{node.name}'" + ("" if args.phi else " (patient hidden)"))
    for r in rows:
        counts = f"{r['series_count'] or '?'} series, {r['instance_count'] or '?'} images"
        who = f"  {r['patient_id']}  {r['patient_name']}" if args.phi else ""
        print(
            f"  {r['date'] or '--------'}  {'/'.join(r['modalities']) or '-':<6} {counts:<24} "
            f'"{r["description"]}"{who}'
        )
        print(f"    uid: {r['study_uid']}")
        for x in r.get("series", []):
            print(
                f"    series #{x['number'] if x['number'] is not None else '-'} {x['modality']} "
                f'"{x["description"]}" {x["instance_count"] or "?"} images: {x["series_uid"]}'
            )
    return 0


def _audit(settings: Settings, event: str, study_uid: str, details: dict[str, Any]) -> None:
    from voxrad.records.audit import AuditLog

    with AuditLog(hash_uids=settings.privacy.hash_audit_uids) as log:
        log.append_event(event, study_uid=study_uid, details=details)


def _get(args: argparse.Namespace, settings: Settings, node: PacsNode, client: PacsClient) -> int:
    from voxrad.cli.output import print_json, progress_printer
    from voxrad.core.errors import VoxRadError
    from voxrad.pacs.cache import study_folder

    if args.out:
        dest = Path(args.out).expanduser()
    else:
        dest = study_folder(settings.pacs.resolved_cache_dir(), node.name, args.study_uid)
    details: dict[str, Any] = {
        "node": node.name,
        "protocol": node.protocol,
        "scope": "series" if args.series else "study",
    }
    try:
        result = client.retrieve(
            args.study_uid, args.series, dest, progress=progress_printer(not args.json)
        )
    except VoxRadError as exc:
        _audit(settings, "pacs.retrieve", args.study_uid, {**details, "result": type(exc).__name__})
        raise
    details.update(
        result="complete" if result.complete else "incomplete",
        expected=result.expected,
        received=result.received,
        already_there=result.already_there,
        failed=len(result.failed),
        seconds=round(result.seconds, 3),
    )
    _audit(settings, "pacs.retrieve", args.study_uid, details)
    if args.json:
        print_json(
            {
                "folder": str(result.folder),
                "complete": result.complete,
                "expected": result.expected,
                "received": result.received,
                "already_there": result.already_there,
                "seconds": result.seconds,
                "failed": [{"sop_uid": f.sop_uid, "reason": f.reason} for f in result.failed],
            }
        )
    else:
        err = sys.stderr
        state = "complete" if result.complete else "INCOMPLETE"
        print(
            f"{state}: {result.present} of {result.expected} images "
            f"({result.received} received now, {result.already_there} already there) "
            f"in {result.seconds:.1f} s",
            file=err,
        )
        for f in result.failed:
            print(f"  failed {f.sop_uid or '(unknown image)'}: {f.reason}", file=err)
        if not result.complete:
            print("  run the same command again to fetch what is missing", file=err)
        print(result.folder)
    return 0 if result.complete else EXIT_INCOMPLETE


def _send_paths(paths: list[str]) -> list[Path]:
    from voxrad.core.errors import VoxRadError

    files: list[Path] = []
    for text in paths:
        p = Path(text).expanduser()
        if p.is_dir():
            files += sorted(f for f in p.rglob("*") if f.is_file() and not f.name.startswith("."))
        elif p.is_file():
            files.append(p)
        else:
            raise VoxRadError(f"{p} does not exist.", hint="Check the path and try again.")
    return files


def _send(args: argparse.Namespace, settings: Settings, node: PacsNode, client: PacsClient) -> int:
    from voxrad.cli.output import print_json
    from voxrad.core.errors import VoxRadError

    files = _send_paths(args.paths)
    details: dict[str, Any] = {"node": node.name, "protocol": node.protocol, "files": len(files)}
    try:
        outcomes = client.store(files)
    except VoxRadError as exc:
        _audit(settings, "pacs.send", "", {**details, "result": type(exc).__name__})
        raise
    sent = sum(o.ok for o in outcomes)
    # One record per study sent (files that are not DICOM have no study: one record for them).
    by_study: dict[str, list[bool]] = {}
    for o in outcomes:
        by_study.setdefault(o.study_uid, []).append(o.ok)
    for study_uid, oks in by_study.items():
        _audit(
            settings,
            "pacs.send",
            study_uid,
            {
                **details,
                "files": len(oks),
                "sent": sum(oks),
                "refused": len(oks) - sum(oks),
                "result": "sent" if all(oks) else "partly refused",
            },
        )
    if args.json:
        print_json(
            {
                "node": node.name,
                "files": [
                    {"path": o.path, "sop_uid": o.sop_uid, "ok": o.ok, "reason": o.reason}
                    for o in outcomes
                ],
            }
        )
    else:
        for o in outcomes:
            print(
                f"{'sent' if o.ok else 'NOT SENT'}: {o.path}"
                + (f" ({o.reason})" if o.reason else "")
            )
        print(f"{sent} of {len(outcomes)} files sent to '{node.name}'")
    return 0 if sent == len(outcomes) else EXIT_NOT_SENT
