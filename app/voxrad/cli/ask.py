"""``voxrad ask PATH "QUESTION"``: one question about a study, answered by the local model."""

from __future__ import annotations

import argparse
from typing import Any

from voxrad.core.errors import VoxRadError


class BadRegionError(VoxRadError):
    default_hint = "Give the region as X,Y,W,H in pixels of the slice, e.g. --region 120,80,64,64."


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "ask",
        help="ask the image model a question about a study",
        description=(
            "Ask the vision-language model about one slice, a region of it, or the whole "
            "series. Prints the answer, the model's reasoning, findings with boxes (image "
            "pixels and patient LPS mm) and how sure it is. Decision support, not a diagnosis. "
            "Exit code 4: the answer was cut off (token limit, connection, engine); it is "
            "printed and audited marked as such."
        ),
    )
    p.add_argument("path", help="a DICOM file or folder, NIfTI file, or PNG/JPEG image")
    p.add_argument("question", help="the question, in quotes")
    p.add_argument("--series", help="series UID (or its start, or its number in `voxrad info`)")
    p.add_argument("--slice", type=int, help="slice number, 1-based (default: the middle one)")
    p.add_argument("--region", help="X,Y,W,H in pixels of the slice: ask about this box only")
    p.add_argument(
        "--volume", action="store_true", help="ask about the series: send slices around this one"
    )
    p.add_argument("--model", help="catalog name or GGUF path (default: vlm.model in settings)")
    p.add_argument("--backend", help="llama-cpp, transformers or openai (default: vlm.backend)")
    p.add_argument("--samples", type=int, help="extra sampled answers for self-consistency")
    p.add_argument("--max-tokens", type=int, help="longest answer in tokens")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(run=run)


def parse_region(text: str) -> tuple[float, float, float, float]:
    parts = [p.strip() for p in text.split(",")]
    try:
        x, y, w, h = (float(p) for p in parts)
    except ValueError:
        raise BadRegionError(f"'{text}' is not a region.") from None
    if w <= 0 or h <= 0:
        raise BadRegionError(f"The region '{text}' has no area.")
    return x, y, w, h


def run(args: argparse.Namespace) -> int:
    import sys
    import time

    from voxrad.assistant.answering import AskOptions
    from voxrad.assistant.checks.confidence import describe
    from voxrad.assistant.model_answerer import ModelAnswerer
    from voxrad.assistant.privacy.gate import log_redactor
    from voxrad.backends.vlm.registry import create_vlm
    from voxrad.cli import EXIT_CUT_OFF, EXIT_OK
    from voxrad.cli.output import print_json
    from voxrad.core.conversation import Box, Question, QuestionScope
    from voxrad.core.settings import load_settings
    from voxrad.imaging.registry import open_study

    settings = load_settings()
    vlm = settings.vlm
    if args.model:
        vlm = vlm.model_copy(update={"model": args.model})
    if args.backend:
        vlm = vlm.model_copy(update={"backend": args.backend})
    region = Box.from_xywh(*parse_region(args.region)) if args.region else None

    # The app's own answerer: the same privacy gate, burned-in text check and audit record.
    # Here the engine runs in this process (the app may isolate it in a child).
    answerer = ModelAnswerer(
        vlm,
        settings.models.resolved_directory(),
        privacy=settings.privacy,
        engine_factory=create_vlm,
        options=AskOptions.from_settings(vlm, max_tokens=args.max_tokens, samples=args.samples),
    )
    # Resolve the model before loading anything heavy: "not installed" must be quick and clear.
    answerer.resolve()
    t0 = time.perf_counter()
    study = open_study(args.path)
    log_redactor().set_identity(study.identity)
    for warning in study.warnings:
        print(f"voxrad: warning: {warning}", file=sys.stderr)
    series = study.find(args.series)
    volume = series.load_volume(regularize=settings.imaging.regularize_geometry)
    load_study_s = time.perf_counter() - t0
    n = volume.shape[0]
    index = n // 2 if args.slice is None else args.slice - 1
    scope: QuestionScope = (
        "volume" if args.volume else ("region" if region is not None else "slice")
    )
    question = Question(args.question, slice_index=index, region=region, scope=scope)

    stream = None
    if not args.json and sys.stderr.isatty():

        def stream(piece: str) -> None:
            sys.stderr.write(piece)
            sys.stderr.flush()

    try:
        t1 = time.perf_counter()
        answerer.load()
        load_model_s = time.perf_counter() - t1
        notice = answerer.notice
        if notice and not args.json:
            print(f"note: {notice}", file=sys.stderr)
        # An answer that cannot be recorded is not shown (AnswerNotAuditedError says why).
        answer = answerer.answer(
            question, volume, on_token=stream, identity=study.identity, series=series.info
        )
    finally:
        answerer.close()
    audit_seq = answerer.last_audit_seq
    if stream is not None:
        sys.stderr.write("\n")
    timings = {"load_study": load_study_s, "load_model": load_model_s, **answer.timings}
    payload = answer.to_dict(volume)
    payload["timings_s"] = {k: round(v, 4) for k, v in timings.items()}
    payload["slice"] = index + 1
    payload["question_scope"] = question.scope
    payload["notice"] = notice
    payload["disclaimer"] = "Decision support, not a diagnosis."
    payload["audit_record"] = audit_seq
    # A cut-off answer gets its own exit code: a script must not file a fragment as a reply.
    code = EXIT_CUT_OFF if answer.cut_off else EXIT_OK
    if args.json:
        print_json(payload)
        return code
    if answer.cut_off:
        print(answer.cut_off_note)
    print(answer.answer if answer.answer else "(the model gave no answer)")
    if answer.reasoning:
        print(f"reasoning: {answer.reasoning}")
    findings: list[dict[str, Any]] = payload["findings"]  # type: ignore[assignment]
    for k, finding in enumerate(findings, start=1):
        box = finding.get("box_px")
        centre = finding.get("center_lps_mm")
        where = f" box {box} px" if box else ""
        where += f", centre {centre} mm (LPS)" if centre else ""
        slice_no = (index if finding["slice"] is None else int(finding["slice"])) + 1
        print(f"finding {k}: {finding['label']}{where} on slice {slice_no}")
    conf = answer.confidence
    shown = "unknown" if conf is None else f"{conf:.0%} ({describe(conf)})"
    print(f"confidence: {shown} from {answer.confidence_source}")
    for warning in answer.warnings:
        if warning != answer.cut_off_note:  # printed above the answer already
            print(f"warning: {warning}")
    speed = timings.pop("tokens_per_s", None)
    stages = ", ".join(f"{k} {v:.2f} s" for k, v in timings.items())
    print(f"model: {answer.model}  {stages}" + (f", {speed:.1f} tokens/s" if speed else ""))
    print(f"recorded in the audit log as record {audit_seq}")
    print("Decision support, not a diagnosis.")
    return code
