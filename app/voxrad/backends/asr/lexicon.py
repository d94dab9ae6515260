"""Vocabulary biasing: site lexicon + study words -> a Whisper initial prompt.

Whisper's small models mishear rare medical words ("pneumothorax" -> "a new before-max"). Listing
the words the clinician is likely to say in the decoder's prompt fixes most of these: tiny.en
hears the pneumothorax question right with a glossary prompt. The prompt is limited (Whisper keeps
at most 223 prompt tokens, and long prompts slow decoding), so words are taken in priority order:
the open study's words first, then the site lexicon, then VoxRad's built-in list, until the
budget is spent.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from pathlib import Path

from voxrad.core.errors import SettingsError

logger = logging.getLogger(__name__)

#: Words radiology questions use that small Whisper models commonly get wrong.
BUILTIN_TERMS: tuple[str, ...] = (
    "pneumothorax",
    "pleural effusion",
    "consolidation",
    "atelectasis",
    "nodule",
    "mediastinum",
    "hilar",
    "cardiomegaly",
    "emphysema",
    "bronchiectasis",
    "lymphadenopathy",
    "metastasis",
    "hemorrhage",
    "infarct",
    "hydronephrosis",
    "ascites",
    "aneurysm",
    "aorta",
    "fracture",
    "axial",
    "coronal",
    "sagittal",
    # Viewer commands: short phrases without context are the easiest to mishear.
    "lung window",
    "bone window",
    "slice",
)

#: Modality codes spoken as words.
MODALITY_WORDS = {
    "CT": "CT",
    "MR": "MRI",
    "CR": "radiograph",
    "DX": "radiograph",
    "US": "ultrasound",
    "PT": "PET",
    "NM": "nuclear medicine",
    "MG": "mammogram",
    "XA": "angiogram",
}

#: Default prompt budget in characters (~4 characters per token: about 110 tokens).
MAX_PROMPT_CHARS = 450

_WORD = re.compile(r"[A-Za-z][A-Za-z'-]{2,}")
#: Series-description noise that is not vocabulary (acquisition codes, units).
_NOISE = frozenset({"with", "without", "and", "the", "for", "mm", "thin", "thick", "std", "recon"})


def load_lexicon(path: str | Path) -> tuple[str, ...]:
    """Terms from a site lexicon file: one term per line, ``#`` starts a comment.

    Raises
    ------
    SettingsError
        The configured file does not exist or cannot be read as text.
    """
    path = Path(path).expanduser()
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise SettingsError(
            f"The speech lexicon file {path} cannot be read.",
            hint="Fix the path in settings (asr.lexicon_path), or clear it to use no lexicon.",
        ) from exc
    terms = [line.split("#", 1)[0].strip() for line in lines]
    return tuple(dict.fromkeys(t for t in terms if t))


def study_words(
    modality: str = "", body_part: str = "", descriptions: Iterable[str] = ()
) -> tuple[str, ...]:
    """Words worth favouring for one study, from its modality, body part and series names.

    Examples
    --------
    >>> study_words("CT", "CHEST", ["Lung 1.25mm", "Mediastinum W/O contrast"])
    ('CT', 'chest', 'lung', 'mediastinum', 'contrast')
    """
    words: list[str] = []
    if modality.upper() in MODALITY_WORDS:
        words.append(MODALITY_WORDS[modality.upper()])
    for text in (body_part, *descriptions):
        for word in _WORD.findall(text.replace("_", " ")):
            lower = word.lower()
            if lower not in _NOISE:
                words.append(lower)
    return tuple(dict.fromkeys(words))


def build_prompt(*sources: Iterable[str], max_chars: int = MAX_PROMPT_CHARS) -> str | None:
    """A glossary prompt from term sources in priority order, or None when there are no terms.

    Duplicates (case-insensitive) are dropped; terms that would overflow ``max_chars`` are
    left out, so the highest-priority words always make it in.
    """
    seen: set[str] = set()
    chosen: list[str] = []
    used = len("Glossary: .")
    for source in sources:
        for raw in source:
            term = raw.strip()
            key = term.lower()
            if not term or key in seen:
                continue
            if used + len(term) + 2 > max_chars:
                continue
            seen.add(key)
            chosen.append(term)
            used += len(term) + 2
    if not chosen:
        return None
    return "Glossary: " + ", ".join(chosen) + "."
