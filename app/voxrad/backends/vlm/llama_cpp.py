"""llama.cpp engine (default): GGUF weights + vision projector through llama-cpp-python.

Chat handler per family: the generic MTMD handler, which renders the GGUF's own chat template
(the makers' text), for Gemma 3, MedGemma, Qwen2.5-VL and Lingshu; llama-cpp-python's built-in
Qwen2.5-VL handler only for a Qwen GGUF without a template (its copy of the template drops the
newline after ``<|im_start|>assistant``); LLaVA 1.5 for LLaVA-Med. GPU
layers are sized from the GPU's free memory when llama.cpp was built with GPU offload, else
the model runs on the CPU. Token log-probabilities are recorded by a logits processor, which
needs no ``logits_all`` buffer (that would cost ``n_ctx * n_vocab`` floats).
"""

from __future__ import annotations

import logging
import math
import os
import shutil
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from voxrad.backends.vlm.base import (
    DecodeClock,
    FinishReason,
    GenerationCancelledError,
    GenerationRequest,
    GenerationResult,
    TokenCallback,
)
from voxrad.core.errors import BackendError, DependencyMissingError, ModelNotInstalledError
from voxrad.core.families import FamilyFormat, family_format

if TYPE_CHECKING:
    from voxrad.backends.vlm.engines import ModelSpec
    from voxrad.core.settings import PrivacySettings, VlmSettings

logger = logging.getLogger(__name__)

#: Memory kept free on the GPU for the KV cache, compute buffers and the display (bytes).
GPU_RESERVE = 1_500_000_000


def _engine_format(family: str) -> FamilyFormat:
    """How llama.cpp runs ``family`` (handler, chat format): the one family table's row, or
    the generic MTMD handler with the GGUF's own template for a family it does not list."""
    return family_format(family) or FamilyFormat(family, "none")


@dataclass(frozen=True)
class LlamaCppOptions:
    model_path: Path
    mmproj_path: Path | None = None
    family: str = "medgemma"
    #: -1: as many layers as free GPU memory allows (all on the CPU without a GPU build).
    gpu_layers: int = -1
    context_tokens: int = 8192
    threads: int | None = None
    name: str = ""


def free_gpu_memory() -> int | None:
    """Free memory of the first CUDA GPU in bytes, from nvidia-smi; None when unknown."""
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return None
    try:
        out = subprocess.run(
            [exe, "--query-gpu=memory.free", "--format=csv,noheader,nounits"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout
        return int(out.split()[0]) * 1024 * 1024
    except (OSError, subprocess.SubprocessError, ValueError, IndexError):
        return None


def plan_gpu_layers(
    requested: int, *, weights_bytes: int, n_layers: int, free_bytes: int | None, offload: bool
) -> int:
    """How many layers to put on the GPU.

    ``requested`` >= 0 is used as given (capped by ``n_layers``); -1 fits layers into
    ``free_bytes`` minus :data:`GPU_RESERVE`, assuming equal-sized layers.
    """
    if not offload:
        return 0
    if requested >= 0:
        return min(requested, n_layers) if n_layers > 0 else requested
    if free_bytes is None or n_layers <= 0 or weights_bytes <= 0:
        return 0
    per_layer = weights_bytes / (n_layers + 1)  # +1: embeddings and output head
    usable = free_bytes - GPU_RESERVE
    if usable >= weights_bytes:
        return n_layers + 1  # everything, output head included
    return max(0, min(n_layers, math.floor(usable / per_layer)))


def _quiet_mtmd() -> None:
    """Route the multimodal library's log through llama-cpp-python's filtered logger.

    Left alone, mtmd prints every prompt piece (the clinician's question included) to stderr;
    llama-cpp-python's callback drops anything below ERROR unless verbose.
    """
    try:
        from llama_cpp import _logger, mtmd_cpp

        mtmd_cpp.mtmd_log_set(_logger.llama_log_callback, None)
        mtmd_cpp.mtmd_helper_log_set(_logger.llama_log_callback, None)
    except (ImportError, AttributeError, TypeError) as exc:  # older llama-cpp-python
        logger.debug("could not quiet mtmd logging: %s", exc)


class _LogprobRecorder:
    """A llama-cpp-python logits processor that records each generated token's log-probability.

    At step ``t`` it sees the logits for token ``t``; the token chosen at step ``t - 1`` is the
    last id in ``input_ids``, whose log-probability is its logit minus the log-sum-exp kept
    from one call earlier. float32 with reused buffers: this runs once per token over the whole
    vocabulary (262k entries for Gemma 3), so it must cost far less than the decode step.
    """

    def __init__(self) -> None:
        self._logits: np.ndarray | None = None
        self._work: np.ndarray | None = None
        self._lse = 0.0
        self.token_ids: list[int] = []
        self.logprobs: list[float] = []

    def __call__(self, input_ids: np.ndarray, scores: np.ndarray) -> np.ndarray:
        if self._logits is not None and len(input_ids):
            token = int(input_ids[-1])
            self.token_ids.append(token)
            self.logprobs.append(float(self._logits[token]) - self._lse)
        if self._logits is None or self._logits.shape != scores.shape:
            self._logits = np.empty(scores.shape, np.float32)
            self._work = np.empty(scores.shape, np.float32)
        assert self._work is not None
        np.copyto(self._logits, scores)
        top = float(self._logits.max())
        np.subtract(self._logits, top, out=self._work)
        np.exp(self._work, out=self._work)
        self._lse = top + math.log(float(self._work.sum(dtype=np.float64)))
        return scores


class LlamaCppVLM:
    """A GGUF vision-language model in this process (see the module docstring)."""

    #: Runs on this workstation: nothing leaves it.
    is_remote = False
    #: Images are resized by llama.cpp's own rules (tools/mtmd), not a Hugging Face
    #: processor's: Qwen-style absolute boxes are read in that frame (core.families).
    image_resize = "llama.cpp"

    def __init__(self, options: LlamaCppOptions) -> None:
        self.options = options
        self.name = options.name or options.model_path.stem
        self._llm: Any = None
        self.gpu_layers = 0
        self.timings: dict[str, float] = {}

    # -- life cycle ---------------------------------------------------------------------------
    def load(self) -> None:
        opts = self.options
        try:
            import llama_cpp
        except ImportError as exc:
            raise DependencyMissingError(
                "The llama.cpp engine (llama-cpp-python)", "llama"
            ) from exc
        for path in (opts.model_path, opts.mmproj_path):
            if path is not None and not path.is_file():
                raise ModelNotInstalledError(
                    f"The model file {path.name} is missing in {path.parent}."
                )
        self.close()
        start = time.perf_counter()
        offload = bool(llama_cpp.llama_supports_gpu_offload())
        n_layers = self._block_count(llama_cpp) if offload and opts.gpu_layers < 0 else 0
        size = opts.model_path.stat().st_size
        if opts.mmproj_path is not None:
            size += opts.mmproj_path.stat().st_size
        self.gpu_layers = plan_gpu_layers(
            opts.gpu_layers,
            weights_bytes=size,
            n_layers=n_layers,
            free_bytes=free_gpu_memory() if offload else None,
            offload=offload,
        )
        kwargs: dict[str, Any] = {
            "model_path": str(opts.model_path),
            "n_ctx": opts.context_tokens,
            "n_gpu_layers": self.gpu_layers,
            "n_threads": opts.threads or max(1, (os.cpu_count() or 2) // 2 or 1),
            "verbose": False,
        }
        if opts.mmproj_path is not None:
            _quiet_mtmd()
            kwargs["chat_handler"] = self._chat_handler(llama_cpp, opts, offload)
        try:
            self._llm = llama_cpp.Llama(**kwargs)
        except (ValueError, RuntimeError, OSError, MemoryError) as exc:
            logger.error("llama.cpp could not load %s: %s", opts.model_path.name, exc)
            raise BackendError(
                f"The model {self.name} could not be loaded ({type(exc).__name__}).",
                hint=_SUGGESTION,
            ) from exc
        has_template = bool(self._llm.metadata.get("tokenizer.chat_template"))
        fam = _engine_format(opts.family)
        if opts.mmproj_path is not None and not has_template and fam.llama_cpp_untemplated_handler:
            self._llm.chat_handler = self._chat_handler(
                llama_cpp, opts, offload, fam.llama_cpp_untemplated_handler
            )
        if opts.mmproj_path is None and not has_template:
            # Without a template llama-cpp-python falls back to Llama-2 markup, which other
            # families answer with nothing at all.
            self._llm.chat_format = fam.text_chat_format or self._llm.chat_format
        self.timings = {"load": time.perf_counter() - start}
        logger.info(
            "loaded %s with %d GPU layers in %.1f s",
            self.name,
            self.gpu_layers,
            self.timings["load"],
        )

    def _block_count(self, llama_cpp: Any) -> int:
        """Layer count from the GGUF header (a vocab-only load reads no weights)."""
        try:
            probe = llama_cpp.Llama(str(self.options.model_path), vocab_only=True, verbose=False)
        except (ValueError, RuntimeError, OSError):
            return 0
        try:
            meta = probe.metadata
            arch = meta.get("general.architecture", "")
            return int(meta.get(f"{arch}.block_count", 0))
        finally:
            probe.close()

    @staticmethod
    def _chat_handler(
        llama_cpp: Any, opts: LlamaCppOptions, offload: bool, cls_name: str = ""
    ) -> Any:
        from llama_cpp import llama_chat_format

        cls_name = cls_name or _engine_format(opts.family).llama_cpp_handler
        cls = getattr(llama_chat_format, cls_name, None)
        if cls is None:
            raise BackendError(
                f"This llama-cpp-python has no {cls_name} for {opts.family} models.",
                hint="Update it: pip install -U 'voxrad[llama]'.",
            )
        try:
            if cls_name == "MTMDChatHandler":
                return cls(clip_model_path=str(opts.mmproj_path), verbose=False, use_gpu=offload)
            return cls(clip_model_path=str(opts.mmproj_path), verbose=False)
        except (ValueError, RuntimeError) as exc:
            raise BackendError(
                f"The vision projector {opts.mmproj_path} could not be opened.",
                hint="Check the file with `voxrad models verify`, or pull the model again.",
            ) from exc

    def close(self) -> None:
        llm, self._llm = self._llm, None
        if llm is not None:
            llm.close()

    @property
    def loaded(self) -> bool:
        return self._llm is not None

    # -- generation ---------------------------------------------------------------------------
    def generate(
        self,
        request: GenerationRequest,
        *,
        on_token: TokenCallback | None = None,
        cancel: threading.Event | None = None,
    ) -> GenerationResult:
        if self._llm is None:
            raise BackendError(f"The model {self.name} is not loaded.", hint="Load it first.")
        if request.images and self.options.mmproj_path is None:
            raise BackendError(
                f"The model {self.name} has no vision projector, so it cannot see images.",
                hint="Install a model with an mmproj file (see `voxrad models list`).",
            )
        recorder = _LogprobRecorder() if request.want_logprobs else None
        clock = DecodeClock(time.perf_counter)
        pieces: list[str] = []
        finish: FinishReason = "complete"
        stream = None
        try:
            stream = self._llm.create_chat_completion(
                messages=request.openai_messages(),
                stream=True,
                max_tokens=request.max_tokens,
                temperature=request.temperature,
                top_p=request.top_p,
                seed=request.seed,
                stop=list(request.stop) or None,
                logits_processor=[recorder] if recorder is not None else None,
            )
            for chunk in stream:
                if cancel is not None and cancel.is_set():
                    raise GenerationCancelledError("The question was cancelled.")
                choice = chunk["choices"][0]
                text = choice.get("delta", {}).get("content") or ""
                if text:
                    clock.piece()
                    pieces.append(text)
                    if on_token is not None:
                        on_token(text)
                if choice.get("finish_reason") == "length":
                    finish = "length"
        except GenerationCancelledError:
            logger.info("generation cancelled after %d pieces", clock.pieces)
            raise
        except (ValueError, RuntimeError, MemoryError) as exc:
            logger.error("llama.cpp generation failed: %s", type(exc).__name__)
            logger.debug("generation failure", exc_info=True)
            self.close()  # a failed context is not reused; load() again to recover
            raise BackendError(
                f"The model {self.name} failed while answering ({type(exc).__name__}).",
                hint=_SUGGESTION,
            ) from exc
        finally:
            if stream is not None and hasattr(stream, "close"):
                stream.close()
        text = "".join(pieces)
        tokens: tuple[str, ...] = ()
        logprobs: tuple[float, ...] | None = None
        if recorder is not None and recorder.token_ids:
            tokens = tuple(self._piece(t) for t in recorder.token_ids)
            logprobs = tuple(recorder.logprobs)
        n = len(recorder.token_ids) if recorder is not None else clock.pieces
        return GenerationResult(
            text=text,
            finish_reason=finish,
            tokens=tokens,
            token_logprobs=logprobs,
            completion_tokens=n,
            timings=clock.timings(n or None),
            model=self.name,
        )

    def _piece(self, token: int) -> str:
        raw: bytes = self._llm.detokenize([token])
        return raw.decode("utf-8", errors="replace")


_SUGGESTION = (
    "Try a smaller model, fewer GPU layers (vlm.gpu_layers, 0 = CPU only) or a shorter "
    "context (vlm.context_tokens); then ask again: the model reloads."
)


def create(spec: ModelSpec, settings: VlmSettings, privacy: PrivacySettings) -> LlamaCppVLM:
    """Registry factory: the llama.cpp engine for a resolved model."""
    if spec.model_path is None or spec.model_path.is_dir():
        raise BackendError(
            f"The llama.cpp engine needs a GGUF file; {spec.name} is not one.",
            hint="Pick a GGUF model, or set vlm.backend to transformers for this one.",
        )
    return LlamaCppVLM(
        LlamaCppOptions(
            model_path=spec.model_path,
            mmproj_path=spec.mmproj_path,
            family=spec.family,
            gpu_layers=settings.gpu_layers,
            context_tokens=settings.context_tokens,
            name=spec.name,
        )
    )
