"""What each model family expects as input, how it writes boxes and how engines run it.

One table serves the prompt builder, the image preparation, the answer parser and the engines
(llama.cpp's chat handler and chat format, the family a file name suggests), so none of them
can disagree about a family. It sits in ``core`` because both ``assistant`` and ``backends``
read it. Family names are the catalog's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np

from voxrad.core.errors import VoxRadError

BoxSyntax = Literal["json", "ref-box", "loc", "none"]
#: Whose image resize an engine runs: Hugging Face processors (transformers, and servers that
#: use them) or llama.cpp's multimodal library (in-process llama.cpp, llama-server).
ResizeRules = Literal["transformers", "llama.cpp"]


class UnknownModelFamilyError(VoxRadError):
    """A model's catalog entry names a family VoxRad has no prompt or parser for."""

    default_hint = (
        "Check the model's 'family' in the catalog; known families: medgemma, qwen2.5-vl, "
        "lingshu, qwen2-vl, qwen3-vl, medrega, internvl, florence2, llava-med."
    )


@dataclass(frozen=True)
class FamilyFormat:
    """Input and output conventions of one model family.

    Boxes: ``box_syntax`` is how they are written; ``coordinates`` is "absolute" (pixels of the
    model's resized input) or "relative" (``value / scale`` of the image size); ``y_first``
    means ``[y0, x0, y1, x1]``; ``bin_centres`` means each integer is a bin whose centre is
    ``(n + 0.5) / scale`` (Florence-2 quantises with floor, so its own decoder adds half a bin).

    Input: ``input_size`` is a fixed (width, height) the vision encoder resizes to (we letterbox
    to it ourselves so the model's resize is a uniform scale we know), or None for dynamic
    resolution, where sizes are rounded to ``factor`` within ``min_pixels..max_pixels``.
    ``min_pixels`` is VoxRad's floor for what it sends: the larger of the processor's and
    llama.cpp's, so an image VoxRad prepared passes both engines' resize unchanged.
    """

    name: str
    box_syntax: BoxSyntax
    box_key: str = ""
    coordinates: Literal["absolute", "relative"] = "relative"
    scale: float = 1000.0
    y_first: bool = False
    bin_centres: bool = False
    input_size: tuple[int, int] | None = None
    factor: int = 28
    #: 8 visual tokens: llama.cpp's floor for Qwen-VL projectors (the processor's is 4).
    min_pixels: int = 8 * 28 * 28
    #: What VoxRad sends at most (~1280 visual tokens for Qwen2.5-VL), not the processor's limit.
    max_pixels: int = 1280 * 28 * 28
    #: The processor's own limits (Qwen2.5-VL's preprocessor_config.json), used for an image
    #: VoxRad did not prepare.
    processor_min_pixels: int = 56 * 56
    processor_max_pixels: int = 12_845_056
    #: llama.cpp's (min, max) visual tokens for this projector (clip.cpp, Qwen-VL projectors).
    llama_cpp_tokens: tuple[int, int] = (8, 4096)
    #: CT as MedGemma's three windows in R, G, B (see imageprep.CT_THREE_WINDOWS).
    ct_three_windows: bool = False
    max_images: int = 8
    #: Whether the family writes ``<think>`` or ``Final Answer:`` reasoning when asked.
    reasons: bool = True
    #: llama-cpp-python's chat handler; the MTMD handler renders the GGUF's own template.
    llama_cpp_handler: str = "MTMDChatHandler"
    #: Its built-in handler for GGUFs that carry no chat template (empty: none needed).
    llama_cpp_untemplated_handler: str = ""
    #: llama.cpp's text chat format for GGUFs without a template (empty: the GGUF's own).
    text_chat_format: str = ""


_FAMILIES: dict[str, FamilyFormat] = {
    f.name: f
    for f in (
        FamilyFormat(
            "medgemma",
            "json",
            box_key="box_2d",
            y_first=True,
            input_size=(896, 896),
            ct_three_windows=True,
            max_images=85,  # MedGemma 1.5's CT recipe sends up to 85 slices
            text_chat_format="gemma",
        ),
        FamilyFormat(
            "qwen2.5-vl",
            "json",
            box_key="bbox_2d",
            coordinates="absolute",
            llama_cpp_untemplated_handler="Qwen25VLChatHandler",
            text_chat_format="chatml",
        ),
        FamilyFormat("qwen2-vl", "json", box_key="bbox_2d"),
        FamilyFormat(
            "qwen3-vl",
            "json",
            box_key="bbox_2d",
            factor=32,
            min_pixels=8 * 32 * 32,
            max_pixels=1280 * 32 * 32,
            processor_min_pixels=64 * 64,
            processor_max_pixels=16_777_216,
        ),
        FamilyFormat("medrega", "ref-box", scale=999.0, input_size=(448, 448)),
        FamilyFormat("internvl", "ref-box", scale=1000.0, input_size=(448, 448)),
        FamilyFormat(
            "florence2", "loc", bin_centres=True, input_size=(768, 768), max_images=1, reasons=False
        ),
        FamilyFormat(
            "llava-med",
            "none",
            input_size=(336, 336),
            max_images=1,
            llama_cpp_handler="Llava15ChatHandler",
            text_chat_format="mistral-instruct",
        ),
    )
}

# Lingshu is Qwen2.5-VL fine-tuned on medical data and keeps its box format.
_ALIASES = {
    "lingshu": "qwen2.5-vl",
    "qwen2.5vl": "qwen2.5-vl",
    "qwen25-vl": "qwen2.5-vl",
    "qwen2vl": "qwen2-vl",
    "qwen3vl": "qwen3-vl",
    "gemma3": "medgemma",
    "gemma-3": "medgemma",
    "florence-2": "florence2",
    "llava": "llava-med",
    "llavamed": "llava-med",
    "internvl2": "internvl",
    "internvl3": "internvl",
}

KNOWN_FAMILIES: tuple[str, ...] = (*_FAMILIES, "lingshu")

#: What a model file's name says about its family, first match wins (catalog entries name it).
_NAME_KEYS = (
    ("lingshu", "lingshu"),
    ("qwen2.5", "qwen2.5-vl"),
    ("qwen2_5", "qwen2.5-vl"),
    ("qwen3", "qwen3-vl"),
    ("qwen2", "qwen2-vl"),
    ("llava", "llava-med"),
    ("internvl", "internvl"),
    ("florence", "florence2"),
)


def guess_family(name: str) -> str:
    """The family of a model known only by its file name; MedGemma's when nothing matches."""
    low = name.lower()
    return next((family for key, family in _NAME_KEYS if key in low), "medgemma")


def family_format(name: str) -> FamilyFormat | None:
    """The conventions of family ``name`` (case and ``_``/``-`` insensitive), or None."""
    key = str(name).strip().lower().replace("_", "-")
    key = _ALIASES.get(key, key)
    return _FAMILIES.get(key)


def require_family(name: str) -> FamilyFormat:
    """Like :func:`family_format` but raises :class:`UnknownModelFamilyError`."""
    fam = family_format(name)
    if fam is None:
        raise UnknownModelFamilyError(f"VoxRad does not know the model family '{name}'.")
    return fam


def smart_resize(
    width: int, height: int, *, factor: int, min_pixels: int, max_pixels: int
) -> tuple[int, int]:
    """The (width, height) Qwen2-VL-style processors resize an image to.

    Each side rounds to a multiple of ``factor``; the area is then scaled into
    ``[min_pixels, max_pixels]`` keeping the aspect ratio. Same arithmetic (including Python's
    round-half-even) as ``qwen_vl_utils.smart_resize``, so that absolute boxes map back exactly.
    """
    h_bar = max(factor, round(height / factor) * factor)
    w_bar = max(factor, round(width / factor) * factor)
    if h_bar * w_bar > max_pixels:
        beta = math.sqrt((height * width) / max_pixels)
        h_bar = max(factor, math.floor(height / beta / factor) * factor)
        w_bar = max(factor, math.floor(width / beta / factor) * factor)
    elif h_bar * w_bar < min_pixels:
        beta = math.sqrt(min_pixels / (height * width))
        h_bar = math.ceil(height * beta / factor) * factor
        w_bar = math.ceil(width * beta / factor) * factor
    return int(w_bar), int(h_bar)


@dataclass(frozen=True)
class InputFrame:
    """Where an image lies in the input an engine hands the vision encoder.

    ``size`` is the encoder input's (width, height), the frame a Qwen-style model's absolute
    pixel boxes are written in; ``content`` is the image's (x, y, width, height) inside it.
    transformers stretches the image over the whole frame; llama.cpp keeps its aspect ratio
    and pads the rest black, so there ``content`` can be smaller than ``size``.
    """

    size: tuple[int, int]
    content: tuple[int, int, int, int]

    def to_image(self, x: float, y: float, image_size: tuple[float, float]) -> tuple[float, float]:
        """A point written in the frame, in pixels of the ``image_size`` image."""
        cx, cy, cw, ch = self.content
        return (x - cx) * image_size[0] / cw, (y - cy) * image_size[1] / ch


def llama_cpp_frame(
    width: int, height: int, *, factor: int, min_pixels: int, max_pixels: int
) -> InputFrame:
    """The frame llama.cpp's multimodal library puts a ``width`` x ``height`` image in.

    Transcribes ``calc_size_preserved_ratio`` and ``img_tool::resize`` of llama.cpp's
    ``tools/mtmd/mtmd-image.cpp`` (the dynamic-size preprocessor of the Qwen2-VL, Qwen2.5-VL
    and Qwen3-VL projectors): sides round to ``factor`` (patch size x merge size) in float32
    with C's round-half-away-from-zero, the area is scaled into ``[min_pixels, max_pixels]``
    (clip.cpp sets 8 and 4096 tokens for these projectors), and the image is then resized
    *keeping its aspect ratio* (ceil) into that frame and centred on black (``PAD_CEIL``).
    transformers' processors round half to even and stretch instead; see :func:`smart_resize`.
    """
    f32 = np.float32
    fac = f32(factor)
    w_bar = max(factor, _c_round(f32(width) / fac) * factor)
    h_bar = max(factor, _c_round(f32(height) / fac) * factor)
    if max_pixels > 0 and h_bar * w_bar > max_pixels:
        beta = np.sqrt(f32(height) * f32(width) / f32(max_pixels), dtype=f32)
        h_bar = max(factor, int(np.floor(f32(height) / beta / fac)) * factor)
        w_bar = max(factor, int(np.floor(f32(width) / beta / fac)) * factor)
    elif min_pixels > 0 and h_bar * w_bar < min_pixels:
        beta = np.sqrt(f32(min_pixels) / (f32(height) * f32(width)), dtype=f32)
        h_bar = int(np.ceil(f32(height) * beta / fac)) * factor
        w_bar = int(np.ceil(f32(width) * beta / fac)) * factor
    if (w_bar, h_bar) == (width, height):
        return InputFrame((w_bar, h_bar), (0, 0, width, height))
    scale = min(f32(w_bar) / f32(width), f32(h_bar) / f32(height))
    new_w = min(int(np.ceil(f32(width) * scale)), w_bar)
    new_h = min(int(np.ceil(f32(height) * scale)), h_bar)
    return InputFrame((w_bar, h_bar), ((w_bar - new_w) // 2, (h_bar - new_h) // 2, new_w, new_h))


def _c_round(x: np.floating) -> int:
    """C's ``std::round``: halves away from zero (Python's ``round`` goes to the even side)."""
    value = float(x)  # in float64, so that adding 0.5 cannot round up
    return int(math.copysign(math.floor(abs(value) + 0.5), value))


def input_frame(fam: FamilyFormat, width: int, height: int, rules: ResizeRules) -> InputFrame:
    """The frame an engine following ``rules`` puts a ``width`` x ``height`` image in, for a
    dynamic-resolution family (Qwen-VL style)."""
    if rules == "llama.cpp":
        low, high = fam.llama_cpp_tokens
        area = fam.factor * fam.factor
        return llama_cpp_frame(
            width, height, factor=fam.factor, min_pixels=low * area, max_pixels=high * area
        )
    w, h = smart_resize(
        width,
        height,
        factor=fam.factor,
        min_pixels=fam.processor_min_pixels,
        max_pixels=fam.processor_max_pixels,
    )
    return InputFrame((w, h), (0, 0, w, h))
