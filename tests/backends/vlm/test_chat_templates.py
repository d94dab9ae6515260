"""What VoxRad's llama.cpp path really sends, against transformers' ``apply_chat_template``
with the makers' published templates (tests/backends/vlm/data/chat_templates.json, sources
there), for the same VoxRad prompt: system text, one earlier turn, then image + question.

The llama.cpp side is read where it enters llama.cpp: ``mtmd_tokenize`` is wrapped to record
the text it is given and the chunks it makes (text pieces detokenized, each image as <IMG>).
The transformers side is the template rendered by a tokenizer built here and, for Gemma 3,
expanded by the real ``Gemma3Processor`` (its image soft tokens shown as one <IMG>).
"""

from __future__ import annotations

import ctypes
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from vlm_support import published_template
from voxrad.assistant.answering import AskOptions, to_request
from voxrad.assistant.request.imageprep import prepare_question
from voxrad.assistant.request.prompts import build_prompt
from voxrad.backends.vlm.base import GenerationRequest
from voxrad.backends.vlm.llama_cpp import LlamaCppOptions, LlamaCppVLM
from voxrad.core.conversation import Answer, Question, Turn
from voxrad.evaluation.answerer import image_volume

pytestmark = pytest.mark.models
IMAGE = np.random.default_rng(0).integers(0, 255, (64, 80, 3), dtype=np.uint8)


def voxrad_request(family: str) -> GenerationRequest:
    history = [
        Turn(
            Question("Is this a chest film?", slice_index=0),
            Answer(answer="Yes, a frontal chest radiograph."),
        )
    ]
    question = Question("Is there a nodule?", slice_index=0)
    prepared = prepare_question(image_volume(IMAGE), question, family)
    prompt = build_prompt(question, prepared, family=family, history=history)
    return to_request(prompt, prepared, AskOptions(max_tokens=1))


def sent(engine: LlamaCppVLM, request: GenerationRequest, monkeypatch: Any) -> tuple[str, str]:
    """(text given to mtmd_tokenize, the token sequence it made with images as <IMG>)."""
    from llama_cpp import mtmd_cpp

    real = mtmd_cpp.mtmd_tokenize
    seen: dict[str, str] = {}

    def tokenize(ctx: Any, chunks: Any, text: Any, bitmaps: Any, n: int) -> int:
        rc = real(ctx, chunks, text, bitmaps, n)
        seen["text"] = text._obj.text.decode()
        pieces = []
        for i in range(mtmd_cpp.mtmd_input_chunks_size(chunks)):
            chunk = mtmd_cpp.mtmd_input_chunks_get(chunks, i)
            if mtmd_cpp.mtmd_input_chunk_get_type(chunk) != mtmd_cpp.MTMD_INPUT_CHUNK_TYPE_TEXT:
                pieces.append("<IMG>")
                continue
            count = ctypes.c_size_t()
            ptr = mtmd_cpp.mtmd_input_chunk_get_tokens_text(chunk, ctypes.byref(count))
            tokens = [ptr[j] for j in range(count.value)]
            pieces.append(engine._llm.detokenize(tokens, special=True).decode())
        seen["sequence"] = "".join(pieces)
        return int(rc)

    monkeypatch.setattr(mtmd_cpp, "mtmd_tokenize", tokenize)
    engine.generate(request)
    return seen["text"], seen["sequence"]


def hf_messages(request: GenerationRequest) -> list[dict[str, Any]]:
    """The request's messages as transformers' chat templates take them."""
    out = []
    for message in request.openai_messages():
        content = message["content"]
        if isinstance(content, list):
            content = [
                {"type": "image"} if part["type"] == "image_url" else part for part in content
            ]
        out.append({"role": message["role"], "content": content})
    return out


def load(model: Path, mmproj: Path, family: str) -> LlamaCppVLM:
    engine = LlamaCppVLM(
        LlamaCppOptions(model, mmproj, family=family, context_tokens=4096, gpu_layers=0)
    )
    engine.load()
    return engine


def test_medgemma_gets_gemma3s_template_with_the_image_first(
    tiny_hf: Path, tiny_gguf: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    from PIL import Image
    from transformers import AutoProcessor

    engine = load(*tiny_gguf, "medgemma")
    try:
        # The tiny GGUF carries a test template; a MedGemma GGUF carries Gemma 3's.
        engine._llm.metadata["tokenizer.chat_template"] = published_template("gemma3")
        request = voxrad_request("medgemma")
        text, sequence = sent(engine, request, monkeypatch)
    finally:
        engine.close()

    processor = AutoProcessor.from_pretrained(tiny_hf)
    processor.chat_template = published_template("gemma3")
    rendered = processor.apply_chat_template(
        hf_messages(request), tokenize=False, add_generation_prompt=True
    )
    ids = processor(text=rendered, images=[[Image.fromarray(IMAGE)]])["input_ids"][0]
    expected = processor.tokenizer.decode(ids, skip_special_tokens=False)
    expected = re.sub(r"(<image_soft_token>)+", "<IMG>", expected)

    # The template's {{ bos_token }} renders empty in llama-cpp-python (special tokens
    # detokenize to ""); llama.cpp adds the one BOS itself (Gemma GGUFs: add_bos_token true).
    assert "<bos>" not in text and expected.startswith("<bos>")
    expected = expected.removeprefix("<bos>")
    # Kept difference: Gemma3Processor wraps each image in blank lines; llama.cpp's mtmd
    # writes <start_of_image> ... <end_of_image> alone, as llama.cpp's own tools do.
    image_hf = "\n\n<start_of_image><IMG><end_of_image>\n\n"
    assert expected.count(image_hf) == 1
    assert sequence == expected.replace(image_hf, "<start_of_image><IMG><end_of_image>")
    # Image before text (the makers' order): the image opens the turn that asks.
    last_turn = sequence.rsplit("<start_of_turn>user\n", 1)[1]
    assert last_turn.startswith("<start_of_image><IMG><end_of_image>Question: Is there a nodule?")
    # The system text leads the first user turn, as Gemma 3's template puts it.
    assert sequence.startswith("<start_of_turn>user\nYou are the image assistant in VoxRad")


def qwen_expected(tokenizer_dir: Path, request: GenerationRequest) -> str:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
    tokenizer.chat_template = published_template("qwen2.5-vl")
    rendered = tokenizer.apply_chat_template(
        hf_messages(request), tokenize=False, add_generation_prompt=True
    )
    # Qwen2.5-VL's processor repeats <|image_pad|> once per visual token: one <IMG> here.
    return str(rendered).replace("<|image_pad|>", "<IMG>")


def test_qwen25vl_gets_its_published_template_exactly(
    tiny_qwen_gguf: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = load(*tiny_qwen_gguf, "qwen2.5-vl")
    try:
        assert type(engine._llm.chat_handler).__name__ == "MTMDChatHandler"
        request = voxrad_request("qwen2.5-vl")
        _, sequence = sent(engine, request, monkeypatch)
    finally:
        engine.close()
    expected = qwen_expected(tiny_qwen_gguf[0].parent.parent / "hf", request)
    assert sequence == expected
    assert sequence.endswith("<|im_start|>assistant\n")
    last_turn = sequence.rsplit("<|im_start|>user\n", 1)[1]
    assert last_turn.startswith("<|vision_start|><IMG><|vision_end|>Question: Is there a nodule?")


def test_a_qwen_gguf_without_a_template_falls_back_to_the_built_in_handler(
    tiny_qwen_gguf: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    import llama_cpp

    init = llama_cpp.Llama.__init__

    def without_template(self: Any, *args: Any, **kwargs: Any) -> None:
        init(self, *args, **kwargs)
        self.metadata.pop("tokenizer.chat_template", None)

    monkeypatch.setattr(llama_cpp.Llama, "__init__", without_template)
    engine = load(*tiny_qwen_gguf, "lingshu")
    try:
        assert type(engine._llm.chat_handler).__name__ == "Qwen25VLChatHandler"
        request = voxrad_request("lingshu")
        _, sequence = sent(engine, request, monkeypatch)
    finally:
        engine.close()
    # Its copy of the template loses the newline after "assistant" (Jinja strips a template
    # source's last newline): the one difference, and why it is only the fallback.
    expected = qwen_expected(tiny_qwen_gguf[0].parent.parent / "hf", request)
    assert sequence == expected.removesuffix("\n")
