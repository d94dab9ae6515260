"""What each model family expects as input and how it writes boxes.

One table serves the prompt builder, the image preparation and the answer parser, so the three
can never disagree about a family's coordinate convention. Family names are the catalog's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from voxrad.core.errors import VoxRadError

BoxSyntax = Literal["json", "ref-box", "loc", "none"]


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
    min_pixels: int = 56 * 56
    #: What VoxRad sends at most (~1280 visual tokens for Qwen2.5-VL), not the processor's limit.
    max_pixels: int = 1280 * 28 * 28
    #: The processor's own limit, used when a caller sent an image we did not prepare.
    processor_max_pixels: int = 12_845_056
    #: CT as MedGemma's three windows in R, G, B (see imageprep.CT_THREE_WINDOWS).
    ct_three_windows: bool = False
    max_images: int = 8
    #: Whether the family writes ``<think>`` or ``Final Answer:`` reasoning when asked.
    reasons: bool = True


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
        ),
        FamilyFormat("qwen2.5-vl", "json", box_key="bbox_2d", coordinates="absolute"),
        FamilyFormat("qwen2-vl", "json", box_key="bbox_2d"),
        FamilyFormat(
            "qwen3-vl",
            "json",
            box_key="bbox_2d",
            factor=32,
            min_pixels=64 * 64,
            max_pixels=1280 * 32 * 32,
            processor_max_pixels=16_777_216,
        ),
        FamilyFormat("medrega", "ref-box", scale=999.0, input_size=(448, 448)),
        FamilyFormat("internvl", "ref-box", scale=1000.0, input_size=(448, 448)),
        FamilyFormat(
            "florence2", "loc", bin_centres=True, input_size=(768, 768), max_images=1, reasons=False
        ),
        FamilyFormat("llava-med", "none", input_size=(336, 336), max_images=1),
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
