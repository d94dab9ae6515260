"""Tiny random-weight vision-language models in real architectures, built locally.

* :func:`build_tiny_gemma3`: a Gemma 3 (MedGemma's architecture) model with a SigLIP vision
  tower, saved with a byte-level BPE tokenizer trained here with ``tokenizers`` and Gemma's
  chat template. transformers loads it as ``AutoModelForImageTextToText``.
* :func:`build_tiny_qwen25vl`: a Qwen2.5-VL (Qwen2.5-VL's and Lingshu's architecture) model
  with its window-attention vision tower and M-RoPE text model, Qwen's special tokens and a
  PIL-only image processor (no torchvision).
* :func:`convert_to_gguf`: llama.cpp's own converter (``convert_hf_to_gguf.py`` from the
  llama-cpp-python sdist) turns it into a GGUF + mmproj pair for the llama.cpp chat handler.

The weights are random, so what the models say is noise; what the tests check is that the real
code paths (processor, chat template, image encoder, projector, sampler) run end to end.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any

#: Where the llama-cpp-python sdist is looked for (``pip download --no-binary :all:`` output);
#: the last is where :func:`fetch_llama_sdist` puts it.
SDIST_CACHE = Path.home() / ".cache" / "voxrad-tests" / "llama-sdist"
SDIST_DIRS = (Path(os.environ.get("VOXRAD_LLAMA_SDIST", "/tmp/llsdist")), SDIST_CACHE)
IMAGE_SIZE = 64
PATCH = 8
MM_TOKENS = 16

SPECIAL = [
    "<pad>",
    "<eos>",
    "<bos>",
    "<unk>",
    "<start_of_turn>",
    "<end_of_turn>",
    "<start_of_image>",
    "<end_of_image>",
    "<image_soft_token>",
]

GEMMA_TEMPLATE = (
    "{{ bos_token }}"
    "{% for message in messages %}"
    "{% set role = 'model' if message['role'] == 'assistant' else message['role'] %}"
    "{% if role == 'system' %}{% set role = 'user' %}{% endif %}"
    "{{ '<start_of_turn>' + role + '\n' }}"
    "{% if message['content'] is string %}{{ message['content'] | trim }}"
    "{% else %}{% for item in message['content'] %}"
    "{% if item['type'] == 'image' %}{{ '<start_of_image>' }}"
    "{% elif item['type'] == 'text' %}{{ item['text'] | trim }}{% endif %}"
    "{% endfor %}{% endif %}"
    "{{ '<end_of_turn>\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<start_of_turn>model\n' }}{% endif %}"
)

CORPUS = [
    "Is there a pneumothorax in the left lung? Final Answer: No pneumothorax is seen.",
    "The right upper lobe shows a nodule of 8 mm. Confidence: 70%",
    '```json\n[{"box_2d": [100, 200, 300, 400], "label": "nodule"}]\n```',
    "Reason briefly, then answer. The image shows the chest in a lung window.",
    "0 1 2 3 4 5 6 7 8 9 10 100 1000 yes no maybe left right upper lower",
]


def train_tokenizer(folder: Path, vocab_size: int = 400) -> int:
    """A byte-level BPE tokenizer with Gemma's special tokens, saved for transformers."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE(unk_token=None))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(CORPUS * 20, trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        pad_token="<pad>",
        eos_token="<eos>",
        bos_token="<bos>",
        unk_token="<unk>",
        extra_special_tokens={
            "boi_token": "<start_of_image>",
            "eoi_token": "<end_of_image>",
            "image_token": "<image_soft_token>",
        },
    )
    fast.chat_template = GEMMA_TEMPLATE
    fast.save_pretrained(folder)
    return len(fast)


def build_tiny_gemma3(folder: Path) -> Path:
    """Build (once) a tiny Gemma 3 vision-language model in ``folder``."""
    if (folder / "config.json").is_file():
        return folder
    import torch
    from transformers import (
        Gemma3Config,
        Gemma3ForConditionalGeneration,
        Gemma3ImageProcessorPil,
        Gemma3Processor,
        Gemma3TextConfig,
        PreTrainedTokenizerFast,
        SiglipVisionConfig,
    )

    folder.mkdir(parents=True, exist_ok=True)
    vocab = train_tokenizer(folder)
    tokenizer = PreTrainedTokenizerFast.from_pretrained(folder)
    ids = {t: tokenizer.convert_tokens_to_ids(t) for t in SPECIAL}
    text = Gemma3TextConfig(
        vocab_size=vocab,
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=1,
        head_dim=32,
        max_position_embeddings=2048,
        sliding_window=128,
        pad_token_id=ids["<pad>"],
        bos_token_id=ids["<bos>"],
        eos_token_id=ids["<eos>"],
    )
    vision = SiglipVisionConfig(
        # bitsandbytes' CPU kernels need input widths that are multiples of its block (64).
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=1,
        num_attention_heads=2,
        image_size=IMAGE_SIZE,
        patch_size=PATCH,
    )
    config = Gemma3Config(
        text_config=text.to_dict(),
        vision_config=vision.to_dict(),
        mm_tokens_per_image=MM_TOKENS,
        boi_token_index=ids["<start_of_image>"],
        eoi_token_index=ids["<end_of_image>"],
        image_token_index=ids["<image_soft_token>"],
    )
    torch.manual_seed(0)
    model = Gemma3ForConditionalGeneration(config).eval()
    # transformers starts the projector at zero (fine-tuning fills it); random weights make
    # the answer depend on the image, so tests can tell that the pixels reach the model.
    with torch.no_grad():
        torch.nn.init.normal_(model.model.multi_modal_projector.mm_input_projection_weight, std=1.0)
    model.generation_config.eos_token_id = [ids["<eos>"], ids["<end_of_turn>"]]
    model.save_pretrained(folder)
    _published_layout(folder / "model.safetensors")
    image_processor = Gemma3ImageProcessorPil(
        size={"height": IMAGE_SIZE, "width": IMAGE_SIZE}, do_pan_and_scan=False
    )
    processor = Gemma3Processor(
        image_processor=image_processor,
        tokenizer=tokenizer,
        image_seq_length=MM_TOKENS,
        chat_template=GEMMA_TEMPLATE,
    )
    processor.save_pretrained(folder)
    return folder


QWEN_SPECIAL = [
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|image_pad|>",
    "<|video_pad|>",
]


#: The published chat templates (with their sources) that tiny models here carry.
CHAT_TEMPLATES = Path(__file__).parent / "backends" / "vlm" / "data" / "chat_templates.json"


def published_template(name: str) -> str:
    """The published chat template ``name`` ("gemma3", "qwen2.5-vl") from CHAT_TEMPLATES."""
    import json

    return str(json.loads(CHAT_TEMPLATES.read_text(encoding="utf-8"))[name]["template"])


def build_tiny_qwen25vl(folder: Path) -> Path:
    """Build (once) a tiny Qwen2.5-VL model: patch 14, merge 2 (28-pixel tokens) as published,
    with Qwen2.5-VL's published chat template (the converter writes it into the GGUF)."""
    if (folder / "config.json").is_file():
        return folder
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import (
        PreTrainedTokenizerFast,
        Qwen2_5_VLConfig,
        Qwen2_5_VLForConditionalGeneration,
        Qwen2VLImageProcessorPil,
    )

    folder.mkdir(parents=True, exist_ok=True)
    tok = Tokenizer(models.BPE(unk_token=None))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400,
        special_tokens=QWEN_SPECIAL,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(CORPUS * 20, trainer=trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<|endoftext|>"
    )
    tokenizer.chat_template = published_template("qwen2.5-vl")
    tokenizer.save_pretrained(folder)
    ids = {t: tokenizer.convert_tokens_to_ids(t) for t in QWEN_SPECIAL}
    config = Qwen2_5_VLConfig(
        text_config={
            "vocab_size": len(tokenizer),
            "hidden_size": 64,
            "intermediate_size": 128,
            "num_hidden_layers": 2,
            "num_attention_heads": 2,
            "num_key_value_heads": 1,
            "max_position_embeddings": 8192,
            # head_dim 32: M-RoPE sections (t, h, w) must add up to head_dim / 2.
            "rope_parameters": {
                "rope_type": "default",
                "rope_theta": 1e6,
                "mrope_section": [4, 6, 6],
            },
            "bos_token_id": None,
            "eos_token_id": ids["<|im_end|>"],
            "pad_token_id": ids["<|endoftext|>"],
        },
        vision_config={
            # Three blocks: llama.cpp maps the merger's "mlp.2" by block number.
            "depth": 3,
            "hidden_size": 64,
            "intermediate_size": 128,
            "num_heads": 2,
            "out_hidden_size": 64,
            "patch_size": 14,
            "spatial_merge_size": 2,
            "temporal_patch_size": 2,
            "window_size": 112,
            "fullatt_block_indexes": [2],
        },
        image_token_id=ids["<|image_pad|>"],
        video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"],
        vision_end_token_id=ids["<|vision_end|>"],
    )
    torch.manual_seed(0)
    model = Qwen2_5_VLForConditionalGeneration(config).eval()
    model.generation_config.eos_token_id = ids["<|im_end|>"]
    model.save_pretrained(folder)
    # The processor class needs torchvision for its video half; the image half is PIL-only.
    Qwen2VLImageProcessorPil().save_pretrained(folder)
    return folder


def _published_layout(path: Path) -> None:
    """Rename the vision tower's tensors to the layout of the published Gemma 3 / MedGemma
    checkpoints (``vision_tower.vision_model.*``), which is what llama.cpp's converter maps;
    transformers reads both layouts."""
    from safetensors.torch import load_file, save_file

    tensors = load_file(path)
    renamed = {
        (
            k.replace("vision_tower.", "vision_tower.vision_model.", 1)
            if k.startswith("vision_tower.") and not k.startswith("vision_tower.vision_model.")
            else k
        ): v
        for k, v in tensors.items()
    }
    save_file(renamed, path, metadata={"format": "pt"})


def llama_cpp_source() -> Path | None:
    """The vendored llama.cpp of the llama-cpp-python sdist, unpacked, or None."""
    for base in SDIST_DIRS:
        for archive in sorted(base.glob("llama_cpp_python-*.tar.gz")):
            root = base / archive.name.removesuffix(".tar.gz")
            converter = root / "vendor" / "llama.cpp" / "convert_hf_to_gguf.py"
            if not converter.is_file():
                with tarfile.open(archive) as tar:
                    tar.extractall(base, filter="data")
            if converter.is_file():
                return converter.parent
    return None


def fetch_llama_sdist() -> Path | None:
    """The converter's source: a local sdist, else the installed version's sdist from PyPI."""
    found = llama_cpp_source()
    if found is not None:
        return found
    from importlib.metadata import version

    SDIST_CACHE.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--no-binary",
            ":all:",
            f"llama-cpp-python=={version('llama-cpp-python')}",
            "-d",
            str(SDIST_CACHE),
        ],
        check=False,
        capture_output=True,
        timeout=600,
    )
    return llama_cpp_source()


#: Runs llama.cpp's converter with one override: our locally trained BPE tokenizer is unknown
#: to its table of pre-tokenizer hashes, so it is declared as llama.cpp's "default" one.
_CONVERT = """
import sys
sys.path.insert(0, {src!r})
sys.path.insert(0, {src!r} + "/gguf-py")
import convert_hf_to_gguf as conv
from conversion import base
base.TextModel.get_vocab_base_pre = lambda self, tokenizer: "default"
# Qwen2-VL's converter tries SentencePiece first and only falls back on a missing file, not a
# missing sentencepiece package; Qwen's tokenizer is byte-level BPE anyway.
from conversion import qwenvl
qwenvl.Qwen2VLModel.set_vocab = lambda self: self._set_vocab_gpt2()
sys.argv = ["convert_hf_to_gguf.py"] + {args!r}
conv.main()
"""


def convert_to_gguf(
    model_dir: Path, out_dir: Path, source: Path, *, name: str = "tiny-gemma3"
) -> tuple[Path, Path]:
    """Convert ``model_dir`` to ``NAME-f16.gguf`` and ``mmproj-NAME-f16.gguf``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    model = out_dir / f"{name}-f16.gguf"
    mmproj = out_dir / f"mmproj-{name}-f16.gguf"
    jobs = [
        (model, [str(model_dir), "--outfile", str(model), "--outtype", "f16"]),
        (mmproj, [str(model_dir), "--outfile", str(mmproj), "--outtype", "f16", "--mmproj"]),
    ]
    for target, args in jobs:
        if target.is_file():
            continue
        script = _CONVERT.format(src=str(source), args=args)
        done = subprocess.run(
            [sys.executable, "-c", script], check=False, capture_output=True, text=True, timeout=300
        )
        if done.returncode != 0 or not target.is_file():
            raise RuntimeError(f"convert_hf_to_gguf failed:\n{done.stderr[-3000:]}")
    return model, mmproj


def measure_cancel(model: object, request: object, *, after_pieces: int = 3) -> tuple[float, str]:
    """Generate on this thread while another thread sets ``cancel`` once ``after_pieces``
    pieces arrived (as the GUI would). Returns the seconds from setting it to ``generate``
    returning or raising, and the name of what it raised ("" when it returned)."""
    import threading
    import time

    started = threading.Event()
    cancel = threading.Event()
    set_at: list[float] = []
    count = [0]

    def on_token(_: str) -> None:
        count[0] += 1
        if count[0] == after_pieces:
            started.set()

    def canceller() -> None:
        started.wait(120)
        set_at.append(time.perf_counter())
        cancel.set()

    thread = threading.Thread(target=canceller, daemon=True)
    thread.start()
    raised = ""
    try:
        model.generate(request, on_token=on_token, cancel=cancel)  # type: ignore[attr-defined]
    except Exception as exc:  # the caller asserts which
        raised = type(exc).__name__
    end = time.perf_counter()
    started.set()
    thread.join(5)
    return (end - set_at[0] if set_at else float("inf")), raised


LLAVA_SPECIAL = ["<unk>", "<s>", "</s>", "<image>"]
#: The Mistral-instruct layout LLaVA-Med v1.5 uses, with the image before the question.
LLAVA_TEMPLATE = (
    "{{ bos_token }}"
    "{% for message in messages %}"
    "{% if message['role'] == 'user' or message['role'] == 'system' %}{{ '[INST] ' }}"
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for item in message['content'] %}"
    "{% if item['type'] == 'image' %}{{ '<image>\n' }}"
    "{% elif item['type'] == 'text' %}{{ item['text'] }}{% endif %}"
    "{% endfor %}{% endif %}{{ ' [/INST]' }}"
    "{% else %}{{ ' ' + message['content'] + eos_token }}{% endif %}"
    "{% endfor %}"
)


def build_tiny_llava(folder: Path) -> Path:
    """Build (once) a tiny LLaVA 1.5 model (LLaVA-Med's architecture: CLIP + Llama/Mistral)."""
    if (folder / "config.json").is_file():
        return folder
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import (
        CLIPImageProcessorPil,
        LlavaConfig,
        LlavaForConditionalGeneration,
        LlavaProcessor,
        PreTrainedTokenizerFast,
    )

    folder.mkdir(parents=True, exist_ok=True)
    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400,
        special_tokens=LLAVA_SPECIAL,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(CORPUS * 20, trainer=trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        unk_token="<unk>",
        bos_token="<s>",
        eos_token="</s>",
        pad_token="<unk>",
    )
    ids = {t: tokenizer.convert_tokens_to_ids(t) for t in LLAVA_SPECIAL}
    config = LlavaConfig(
        vision_config={
            "model_type": "clip_vision_model",
            "hidden_size": 64,
            "intermediate_size": 128,
            "num_hidden_layers": 2,
            "num_attention_heads": 2,
            "image_size": 32,
            "patch_size": 8,
            "projection_dim": 64,
        },
        text_config={
            "model_type": "llama",
            "vocab_size": len(tokenizer),
            "hidden_size": 64,
            "intermediate_size": 128,
            "num_hidden_layers": 2,
            "num_attention_heads": 2,
            "num_key_value_heads": 1,
            "max_position_embeddings": 2048,
            "bos_token_id": ids["<s>"],
            "eos_token_id": ids["</s>"],
            "pad_token_id": ids["<unk>"],
        },
        image_token_index=ids["<image>"],
        vision_feature_layer=-2,
        vision_feature_select_strategy="default",
    )
    torch.manual_seed(0)
    model = LlavaForConditionalGeneration(config).eval()
    model.generation_config.eos_token_id = ids["</s>"]
    model.save_pretrained(folder)
    processor = LlavaProcessor(
        image_processor=CLIPImageProcessorPil(
            size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}
        ),
        tokenizer=tokenizer,
        patch_size=8,
        vision_feature_select_strategy="default",
        chat_template=LLAVA_TEMPLATE,
        num_additional_image_tokens=1,
    )
    processor.save_pretrained(folder)
    return folder


def ask_request(text: str, *, max_tokens: int = 24, images: tuple[Any, ...] = ()) -> Any:
    """A one-message GenerationRequest: ``images`` then ``text``."""
    from voxrad.backends.vlm.base import ChatMessage, GenerationRequest

    return GenerationRequest((ChatMessage("user", (*images, text)),), max_tokens=max_tokens)


def check_answers_about_the_image(model: Any) -> None:
    """A loaded engine streams an answer about an image, with log-probabilities, and another
    image changes the answer's distribution (the vision path, and the pixels, really used)."""
    import numpy as np

    from voxrad.backends.vlm.base import ImageInput

    rng = np.random.default_rng(0)
    image = ImageInput(rng.integers(0, 255, (48, 80, 3), dtype=np.uint8))
    pieces: list[str] = []
    result = model.generate(
        ask_request("Is there a nodule?", max_tokens=12, images=(image,)), on_token=pieces.append
    )
    assert result.completion_tokens > 0
    assert "".join(pieces) == result.text
    assert result.token_logprobs is not None
    other = ImageInput(np.full((48, 80, 3), 255, np.uint8))
    again = model.generate(ask_request("Is there a nodule?", max_tokens=12, images=(other,)))
    assert again.token_logprobs != result.token_logprobs
