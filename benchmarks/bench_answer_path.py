"""Answer-path benchmarks (no model needed), each against a baseline measured in the same run.

1. Image preparation: VoxRad's numpy resize (antialiased triangle filter, half-pixel centres)
   against Pillow's ``Image.resize(BILINEAR)`` (the same filter) on the real VQA-RAD and CXR
   images, to the sizes MedGemma (896 letterbox) and Qwen2.5-VL (smart_resize) take. Prints the
   time ratio and the largest pixel difference. The assistant layer uses numpy so that it needs
   no imaging library; this shows what that costs.
2. Whole preparation (window, square pixels, fit, region crop and marked context) per family,
   and the 134-slice CT volume question, in ms.
3. Parsing: ``parse_answer`` on typical replies and on adversarial ones, in ms.

Run: ``.venv/bin/python benchmarks/bench_answer_path.py [--repeat N]``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"


def best_ms(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times) * 1000.0


def bench_resize(repeat: int) -> None:
    from PIL import Image

    from voxrad.assistant.request.imageops import resize
    from voxrad.core.families import smart_resize

    paths = sorted((DATA / "vqa-rad-sample" / "images").glob("*.jpg"))
    paths += sorted((DATA / "cxr").glob("*.png"))
    print("1. resize: VoxRad numpy vs Pillow BILINEAR (same filter), best of", repeat)
    ratios = []
    for path in paths:
        with Image.open(path) as img:
            rgb = np.asarray(img.convert("RGB"))
        h, w = rgb.shape[:2]
        s = min(896 / w, 896 / h)
        targets = {
            "medgemma": (round(w * s), round(h * s)),
            "qwen2.5-vl": smart_resize(w, h, factor=28, min_pixels=3136, max_pixels=1003520),
        }
        for name, size in targets.items():
            ours = best_ms(lambda size=size, rgb=rgb: resize(rgb, size), repeat)
            pil_img = Image.fromarray(rgb)
            pil = best_ms(
                lambda size=size, im=pil_img: im.resize(size, Image.Resampling.BILINEAR), repeat
            )
            diff = np.abs(
                resize(rgb, size).astype(int)
                - np.asarray(pil_img.resize(size, Image.Resampling.BILINEAR)).astype(int)
            )
            ratios.append(ours / pil)
            print(
                f"   {path.name:36s} {w}x{h} -> {size[0]}x{size[1]} ({name:10s}) "
                f"voxrad {ours:7.2f} ms  pillow {pil:6.2f} ms  ratio {ours / pil:5.1f}x  "
                f"max |diff| {int(diff.max())}  mean {diff.mean():.3f}"
            )
    print(f"   median ratio {statistics.median(ratios):.1f}x slower than Pillow")


def bench_prepare(repeat: int) -> None:
    from voxrad.assistant.request.imageprep import prepare_question
    from voxrad.core.conversation import Box, Question
    from voxrad.imaging.raster import read_raster
    from voxrad.imaging.registry import open_study

    print("2. prepare_question, best of", repeat)
    volume = read_raster(DATA / "vqa-rad-sample" / "images" / "synpic100132.jpg")
    rows, cols = volume.shape[1:]
    region = Box(cols * 0.4, rows * 0.3, cols * 0.6, rows * 0.5)
    for family in ("medgemma", "qwen2.5-vl", "medrega", "florence2"):
        plain = best_ms(lambda f=family: prepare_question(volume, Question("q"), f), repeat)
        boxed = best_ms(
            lambda f=family: prepare_question(volume, Question("q", region=region), f), repeat
        )
        print(
            f"   {cols}x{rows} radiograph, {family:10s} "
            f"slice {plain:6.1f} ms  region {boxed:6.1f} ms"
        )
    study = open_study(DATA / "ct-abdomen-134")
    ct = study.find().load_volume()
    q = Question("q", slice_index=ct.shape[0] // 2, scope="volume")
    for family, count in (("medgemma", 16), ("qwen2.5-vl", 8)):
        ms = best_ms(lambda f=family, c=count: prepare_question(ct, q, f, max_images=c), repeat)
        print(f"   CT {ct.shape}, {family:10s} {count} slices {ms:7.1f} ms")


def bench_parse(repeat: int) -> None:
    from voxrad.assistant.reply.answers import parse_answer

    print("3. parse_answer, best of", repeat)
    replies = {
        "medgemma typical": (
            "medgemma",
            "The right upper zone shows a patchy opacity.\nFinal Answer: Likely tuberculosis.\n"
            '```json\n[{"box_2d": [248, 746, 335, 824], "label": "tb"}]\n```\nConfidence: 60%',
        ),
        "qwen2.5-vl truncated": (
            "qwen2.5-vl",
            '<think>Looking</think>```json\n[{"bbox_2d": [1, 2, 300, 400], "label": "a"}, {"bb',
        ),
        "300 boxes": (
            "qwen2-vl",
            "["
            + ",".join(f'{{"bbox_2d": [{i}, 1, {i + 5}, 9], "label": "n"}}' for i in range(300))
            + "]",
        ),
        "8000 open braces": ("medgemma", "{" * 8000 + '"box_2d": [1, 2, 3, 4]'),
        "20000 chars, florence2": ("florence2", "confidence " * 2000),
    }
    for name, (family, text) in replies.items():
        ms = best_ms(
            lambda t=text, f=family: parse_answer(t, family=f, image_size=(512, 512)), repeat
        )
        print(f"   {name:26s} {len(text):6d} chars {ms:8.2f} ms")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    if not DATA.is_dir():
        print(f"real data not found at {DATA}", file=sys.stderr)
        return 2
    bench_resize(args.repeat)
    bench_prepare(args.repeat)
    bench_parse(args.repeat)
    return 0


if __name__ == "__main__":
    sys.exit(main())
