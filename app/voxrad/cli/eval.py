"""``voxrad eval vqa|grounding``: measure an installed model on a VQA or box dataset."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

_EPILOG = """\
Runs resume: every finished item is saved at once in OUT/results.jsonl, so after a crash or
Ctrl-C the same command continues where it stopped. Results: OUT/summary.json, OUT/report.md
(with reliability.png and, for grounding, pictures/ of true vs predicted boxes).
VQA runs ask each question twice, with the image and with a black image (the text-only
sanity baseline); --no-baseline skips the second.
"""


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg, unused-ignore]
    p = sub.add_parser(
        "eval",
        help="measure a model on VQA-RAD/SLAKE questions or box datasets",
        description="Measure an installed vision-language model on a public dataset.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    kinds = p.add_subparsers(dest="eval_kind", metavar="KIND", required=True)
    vqa = kinds.add_parser("vqa", help="VQA-RAD or SLAKE questions (JSON + images)")
    _common(vqa)
    vqa.add_argument(
        "--no-baseline", action="store_true", help="skip the blank-image (text-only) baseline"
    )
    vqa.add_argument(
        "--lang",
        default="en",
        help="SLAKE question languages, comma-separated (default: en)",
    )
    vqa.set_defaults(run=run)
    grounding = kinds.add_parser("grounding", help="COCO or [x, y, w, h] box lists + images")
    _common(grounding)
    grounding.set_defaults(run=run)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dataset", required=True, type=Path, help="dataset folder or JSON file")
    p.add_argument("--model", help="catalog name or model file (default: the one in settings)")
    p.add_argument("--backend", help="llama-cpp, transformers or openai (default: settings)")
    p.add_argument("--limit", type=int, help="evaluate a seeded random sample of N items")
    p.add_argument("--seed", type=int, default=0, help="seed for the sample and the model")
    p.add_argument("--out", type=Path, help="run folder (default: under VoxRad's data folder)")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")


def run(args: argparse.Namespace) -> int:
    from voxrad.cli.output import print_json
    from voxrad.core.settings import load_settings
    from voxrad.evaluation.answerer import EngineAnswerer
    from voxrad.evaluation.evaluate import default_folder, evaluate_grounding, evaluate_vqa

    if args.limit is not None and args.limit < 1:
        print("voxrad: --limit must be at least 1", file=sys.stderr)
        return 2
    settings = load_settings()
    model_name = args.model or settings.vlm.model
    folder = args.out or default_folder(args.eval_kind, args.dataset, Path(model_name).name)
    # Read the dataset before loading a multi-GB model, so a wrong path fails in a second.
    _check_dataset(args)
    answerer = EngineAnswerer.from_settings(
        settings, model=args.model, backend=args.backend, seed=args.seed
    )
    try:
        if args.eval_kind == "vqa":
            langs = tuple(s.strip() for s in args.lang.split(",") if s.strip())
            outcome = evaluate_vqa(
                args.dataset,
                answerer,
                folder,
                limit=args.limit,
                seed=args.seed,
                baseline=not args.no_baseline,
                languages=langs,
            )
        else:
            outcome = evaluate_grounding(
                args.dataset, answerer, folder, limit=args.limit, seed=args.seed
            )
    except KeyboardInterrupt:
        print(
            f"voxrad: interrupted; finished items are kept in {folder}. Run the same command "
            "again to continue.",
            file=sys.stderr,
        )
        return 130
    finally:
        answerer.close()
    if args.json:
        print_json({"folder": str(outcome.folder), "summary": outcome.summary})
    else:
        _print(outcome.summary, args.eval_kind)
        print(f"\nReport: {outcome.files['report']}")
    return 0


def _check_dataset(args: argparse.Namespace) -> None:
    from voxrad.evaluation.datasets import load_grounding, load_vqa

    if args.eval_kind == "vqa":
        load_vqa(args.dataset, languages=tuple(args.lang.split(",")))
    else:
        load_grounding(args.dataset)


def _pct(v: float | None) -> str:
    return "n/a" if v is None else f"{100 * v:.1f}%"


def _print(summary: dict[str, Any], kind: str) -> None:
    if kind == "grounding":
        s = summary
        mean_iou = "n/a" if s["mean_iou"] is None else f"{s['mean_iou']:.3f}"
        ap = "n/a" if s["map"] is None else f"{s['map']:.3f}"
        print(
            f"queries {s['queries']}: mean IoU {mean_iou}, hit rate@0.5 {_pct(s['hit_rate'])}, "
            f"mAP@0.5 {ap}, false alarms {_pct(s['false_alarm_rate'])}, errors {s['errors']}"
        )
    else:
        for cond, c in summary["conditions"].items():
            o = c["overall"]
            print(
                f"{cond:>6}: closed accuracy {_pct(o['closed_accuracy'])} (n={o['closed_n']}), "
                f"open recall {_pct(o['open_recall'])}, open F1 {_pct(o['open_f1'])} "
                f"(n={o['open_n']}), errors {c['errors']}"
            )
    ece = summary["calibration"]["ece"]
    print("ECE of the confidence shown: " + ("n/a" if ece is None else f"{ece:.3f}"))
