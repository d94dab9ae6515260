"""transformers + bitsandbytes: ``AutoModelForImageTextToText`` with NF4 4-bit weights.

For models without a GGUF build. On a CUDA GPU: NF4 with double quantisation and bf16
compute (fp16 where the GPU has no bf16). Without a usable GPU VoxRad says so
(:attr:`TransformersVLM.notice`) and still runs NF4 on the CPU where this bitsandbytes
supports it (0.45 and newer), which is slow (minutes per answer for a 4B model) but never
silently different; with ``quantize="none"`` or without bitsandbytes the model runs
unquantised, which needs about 4 bytes of RAM per parameter.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from voxrad.backends.vlm.base import (
    DecodeClock,
    FinishReason,
    GenerationCancelledError,
    GenerationRequest,
    GenerationResult,
    TokenCallback,
)
from voxrad.core.errors import BackendError, DependencyMissingError, ModelNotInstalledError

if TYPE_CHECKING:
    from voxrad.backends.vlm.engines import ModelSpec
    from voxrad.core.settings import PrivacySettings, VlmSettings

logger = logging.getLogger(__name__)

NO_GPU_NOTICE = (
    "No usable CUDA GPU: the model runs 4-bit (NF4) on the CPU, which is slow. A CUDA GPU, or "
    "a GGUF model with the llama.cpp engine, answers much faster."
)
UNQUANTIZED_NOTICE = (
    "bitsandbytes cannot quantise on this machine: the model runs unquantised on the CPU "
    "(about 4 bytes of memory per parameter). Use a GGUF model with the llama.cpp engine."
)


@dataclass(frozen=True)
class TransformersOptions:
    model_dir: Path
    name: str = ""
    quantize: Literal["nf4", "none"] = "nf4"
    #: "auto": CUDA when usable, else the CPU.
    device: Literal["auto", "cuda", "cpu"] = "auto"


class _Streamer:
    """A transformers streamer that emits decoded text pieces on the generating thread."""

    def __init__(self, tokenizer: Any, on_text: TokenCallback, on_piece: Any) -> None:
        self._tokenizer = tokenizer
        self._on_text = on_text
        self._on_piece = on_piece
        self._ids: list[int] = []
        self._sent = ""
        self._prompt_seen = False

    def put(self, value: Any) -> None:
        if not self._prompt_seen:  # the first call carries the prompt
            self._prompt_seen = True
            return
        self._ids.extend(int(v) for v in value.reshape(-1).tolist())
        text = self._tokenizer.decode(self._ids, skip_special_tokens=True)
        if text.endswith("\ufffd"):  # half a multi-byte character: wait for the rest
            return
        piece, self._sent = text[len(self._sent) :], text
        if piece:
            self._on_piece()
            self._on_text(piece)

    def end(self) -> None:
        """Nothing buffered beyond an incomplete character, which is dropped."""


class TransformersVLM:
    """A Hugging Face vision-language model (see the module docstring)."""

    #: Runs on this workstation: nothing leaves it.
    is_remote = False

    def __init__(self, options: TransformersOptions) -> None:
        self.options = options
        self.name = options.name or options.model_dir.name
        self.notice = ""
        self.device = "cpu"
        self.quantized = False
        self._model: Any = None
        self._processor: Any = None
        self.timings: dict[str, float] = {}

    def load(self) -> None:
        opts = self.options
        try:
            import torch
            import transformers
        except ImportError as exc:
            raise DependencyMissingError("The transformers engine", "transformers") from exc
        if not (opts.model_dir / "config.json").is_file():
            raise ModelNotInstalledError(f"No transformers model was found in {opts.model_dir}.")
        self.close()
        start = time.perf_counter()
        cuda = torch.cuda.is_available() and opts.device != "cpu"
        if opts.device == "cuda" and not cuda:
            raise BackendError(
                "No usable CUDA GPU was found for the transformers engine.",
                hint="Check the NVIDIA driver (voxrad doctor), or set vlm.backend to llama-cpp.",
            )
        self.device = "cuda" if cuda else "cpu"
        kwargs: dict[str, Any] = {"device_map": "auto" if cuda else "cpu"}
        self.notice = ""
        self.quantized = False
        if opts.quantize == "nf4":
            quant = self._nf4_config(torch, transformers, cuda)
            if quant is not None:
                kwargs["quantization_config"] = quant
                self.quantized = True
                self.notice = "" if cuda else NO_GPU_NOTICE
            else:
                self.notice = UNQUANTIZED_NOTICE
        if not self.quantized:
            kwargs["dtype"] = torch.bfloat16 if cuda else torch.float32
        if self.notice:
            logger.warning("%s", self.notice)
        try:
            self._processor = transformers.AutoProcessor.from_pretrained(opts.model_dir)
            self._model = transformers.AutoModelForImageTextToText.from_pretrained(
                opts.model_dir, **kwargs
            ).eval()
        except (torch.cuda.OutOfMemoryError, MemoryError) as exc:
            self.close()
            raise BackendError(
                f"Not enough memory to load {self.name}.",
                hint="Close other programs, choose a smaller model, or use a GGUF model with "
                "fewer GPU layers (llama.cpp engine).",
            ) from exc
        except (OSError, ValueError, RuntimeError, ImportError) as exc:
            self.close()
            logger.error("transformers could not load %s: %s", self.name, type(exc).__name__)
            raise BackendError(
                f"The model {self.name} could not be loaded ({type(exc).__name__}).",
                hint="Check the model folder with `voxrad models verify`.",
            ) from exc
        self.timings = {"load": time.perf_counter() - start}

    @staticmethod
    def _nf4_config(torch: Any, transformers: Any, cuda: bool) -> Any:
        try:
            import bitsandbytes  # noqa: F401
        except ImportError:
            return None
        compute = torch.float16
        if cuda and torch.cuda.is_bf16_supported():
            compute = torch.bfloat16
        elif not cuda:
            compute = torch.bfloat16  # bitsandbytes' CPU kernels compute in bf16
        return transformers.BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type="nf4",
            bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=compute,
        )

    def close(self) -> None:
        self._model = None
        self._processor = None
        try:
            import torch

            if torch.cuda.is_available():
                torch.cuda.empty_cache()
        except ImportError:
            pass

    def _inputs(self, request: GenerationRequest) -> Any:
        from PIL import Image

        messages: list[dict[str, Any]] = []
        images = []
        for message in request.messages:
            content: list[dict[str, Any]] = []
            for part in message.parts:
                if isinstance(part, str):
                    content.append({"type": "text", "text": part})
                else:
                    content.append({"type": "image"})
                    images.append(Image.fromarray(part.pixels, mode="RGB"))
            messages.append({"role": message.role, "content": content})
        text = self._processor.apply_chat_template(
            messages, add_generation_prompt=True, tokenize=False
        )
        return self._processor(text=text, images=images or None, return_tensors="pt")

    def generate(
        self,
        request: GenerationRequest,
        *,
        on_token: TokenCallback | None = None,
        cancel: threading.Event | None = None,
    ) -> GenerationResult:
        if self._model is None:
            raise BackendError(f"The model {self.name} is not loaded.", hint="Load it first.")
        import torch
        import transformers

        clock = DecodeClock(time.perf_counter)
        pieces: list[str] = []

        def collect(text: str) -> None:
            pieces.append(text)
            if on_token is not None:
                on_token(text)

        class _Cancel(transformers.StoppingCriteria):
            def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
                stop = cancel is not None and cancel.is_set()
                return torch.full((input_ids.shape[0],), stop, dtype=torch.bool)

        try:
            inputs = self._inputs(request).to(self._model.device)
            sampling = request.temperature > 0
            options: dict[str, Any] = {
                "max_new_tokens": request.max_tokens,
                "do_sample": sampling,
                "streamer": _Streamer(self._processor.tokenizer, collect, clock.piece),
                "stopping_criteria": transformers.StoppingCriteriaList([_Cancel()]),
                "return_dict_in_generate": True,
                "output_logits": request.want_logprobs,
            }
            if sampling:
                options.update(temperature=request.temperature, top_p=request.top_p)
                if request.seed is not None:
                    torch.manual_seed(request.seed)
            with torch.inference_mode():
                out = self._model.generate(**inputs, **options)
        except torch.cuda.OutOfMemoryError as exc:
            self.close()
            raise BackendError(
                f"The GPU ran out of memory while {self.name} was answering.",
                hint="Ask about a smaller region or fewer slices, or use a smaller model; "
                "the model reloads on the next question.",
            ) from exc
        except (RuntimeError, ValueError) as exc:
            logger.error("transformers generation failed: %s", type(exc).__name__)
            logger.debug("generation failure", exc_info=True)
            raise BackendError(
                f"The model {self.name} failed while answering ({type(exc).__name__}).",
                hint="Ask again; if it persists, reload the model or choose another one.",
            ) from exc
        if cancel is not None and cancel.is_set():
            raise GenerationCancelledError("The question was cancelled.")
        prompt_len = int(inputs["input_ids"].shape[1])
        new_ids = [int(t) for t in out.sequences[0, prompt_len:].tolist()]
        tokens: tuple[str, ...] = ()
        logprobs: tuple[float, ...] | None = None
        if request.want_logprobs and getattr(out, "logits", None):
            values = []
            for step, token in zip(out.logits, new_ids, strict=False):
                values.append(float(torch.log_softmax(step[0].float(), dim=-1)[token]))
            special = set(self._processor.tokenizer.all_special_ids)
            kept = [(t, v) for t, v in zip(new_ids, values, strict=False) if t not in special]
            tokens = tuple(
                self._processor.tokenizer.decode([t], skip_special_tokens=True) for t, _ in kept
            )
            logprobs = tuple(v for _, v in kept)
        eos = self._model.generation_config.eos_token_id
        eos_ids = set(eos if isinstance(eos, list) else [eos])
        finish: FinishReason = "complete"
        if len(new_ids) >= request.max_tokens and not (new_ids and new_ids[-1] in eos_ids):
            finish = "length"
        return GenerationResult(
            text="".join(pieces),
            finish_reason=finish,
            tokens=tokens,
            token_logprobs=logprobs,
            prompt_tokens=prompt_len,
            completion_tokens=len(new_ids),
            timings=clock.timings(len(new_ids) or None),
            model=self.name,
        )


def create(spec: ModelSpec, settings: VlmSettings, privacy: PrivacySettings) -> TransformersVLM:
    """Registry factory."""
    if spec.model_path is None or not spec.model_path.is_dir():
        raise BackendError(
            f"The transformers engine needs a model folder; {spec.name} is not one.",
            hint="Pick a '-hf' model from `voxrad models list`, or set vlm.backend to llama-cpp.",
        )
    return TransformersVLM(TransformersOptions(model_dir=spec.model_path, name=spec.name))
