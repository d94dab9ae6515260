"""Vocabulary biasing: study words + site lexicon + the study's region vocabulary -> a Whisper
initial prompt; and the checks on what comes back (prompt copies, split terms).

Whisper's small models mishear rare medical words ("pneumothorax" -> "a new before-max"). Listing
the words the clinician is likely to say in the decoder's prompt fixes most of these: tiny.en
hears the pneumothorax question right with a glossary prompt. The prompt is limited (Whisper keeps
at most 223 prompt tokens, and long prompts slow decoding), so words are taken in priority order:
the open study's words first, then the site lexicon, then the built-in vocabulary of the study's
modality and body region (:mod:`voxrad.backends.asr.vocabulary`), until the budget is spent.

Why by region, not one list for all: a prompt word pulls sounds like it towards itself. With the
former fixed list (it held "emphysema" for every study) tiny.en heard "pulmonary embolism" as
"pulmonary emphysema"; words of other regions are only risk, so they are left out.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from pathlib import Path

from voxrad.backends.asr.vocabulary import (
    GENERAL_TERMS,
    MODALITY_TERMS,
    REGION_KEYS,
    REGION_TERMS,
    VIEWER_TERMS,
)
from voxrad.core.errors import SettingsError

logger = logging.getLogger(__name__)

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


def build_prompt(
    *sources: Iterable[str],
    max_chars: int = MAX_PROMPT_CHARS,
    lead: str = "Glossary: ",
    end: str = ".",
) -> str | None:
    """A prompt listing terms from sources in priority order, or None when there are no terms.

    ``lead`` and ``end`` frame the list (``"Glossary: a, b."`` by default). Duplicates
    (case-insensitive) are dropped; terms that would overflow ``max_chars`` are left out, so the
    highest-priority words always make it in.
    """
    seen: set[str] = set()
    chosen: list[str] = []
    used = len(lead) + len(end)
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
    return lead + ", ".join(chosen) + end


def study_regions(context: Iterable[str]) -> tuple[str, ...]:
    """Body regions (keys of :data:`REGION_TERMS`) that the study words name, in order.

    Examples
    --------
    >>> study_regions(["CT", "abdomen", "pelvis", "portal", "venous"])
    ('abdomen',)
    """
    found: list[str] = []
    for word in context:
        lower = word.lower()
        for region, keys in REGION_KEYS.items():
            if lower in keys and region not in found:
                found.append(region)
    return tuple(found)


def study_vocabulary(context: Sequence[str]) -> tuple[str, ...]:
    """Built-in terms for a study described by its ``context`` words, most useful first.

    The study's modality words, then its regions' terms, then the viewer words. No region
    (nothing open, or a body part VoxRad has no list for): :data:`GENERAL_TERMS`, common
    findings without the ones measured to replace another finding.
    """
    terms: list[str] = []
    for word in context:
        terms.extend(MODALITY_TERMS.get(word, ()))
    regions = study_regions(context)
    for region in regions:
        terms.extend(REGION_TERMS[region])
    if not regions:
        terms.extend(GENERAL_TERMS)
    terms.extend(VIEWER_TERMS)
    return tuple(dict.fromkeys(terms))


def all_terms() -> tuple[str, ...]:
    """Every built-in term (all regions, modalities and viewer words), without duplicates."""
    terms = [t for group in REGION_TERMS.values() for t in group] + list(GENERAL_TERMS)
    terms += [t for group in MODALITY_TERMS.values() for t in group]
    return tuple(dict.fromkeys([*terms, *VIEWER_TERMS]))


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.lower())


#: Prompt words that also fill ordinary questions: their presence proves no copy.
_COMMON = frozenset(
    {"the", "a", "an", "of", "in", "on", "is", "there", "and", "any", "to", "glossary"}
)


def is_prompt_copy(text: str, prompt: str | None) -> bool:
    """True when ``text`` is (mostly) the decoder prompt coming back instead of speech.

    Whisper given a glossary sometimes returns the glossary ("Glossary, pneumothorax, pleural
    effusion,") for audio it cannot read. A copy is the word "glossary" itself, or a transcript
    of four or more words of which at least 80 % are prompt words and which repeats a run of
    four prompt words in the prompt's order (a list read back, not a question that names two
    or three of its terms).
    """
    if not prompt:
        return False
    words = _words(text)
    if "glossary" in words:
        return True
    if len(words) < 4:
        return False
    vocab = set(_words(prompt))
    content = [w for w in words if w not in _COMMON]
    if not content or sum(w in vocab for w in content) < 0.8 * len(content):
        return False
    prompt_words = _words(prompt)
    runs = {tuple(prompt_words[i : i + 4]) for i in range(len(prompt_words) - 3)}
    return any(tuple(words[i : i + 4]) in runs for i in range(len(words) - 3))


def rejoin_split_terms(text: str, terms: Iterable[str]) -> str:
    """``text`` with one-word ``terms`` that were heard in pieces written whole.

    "pneumo thorax" and "gall-bladder" become "pneumothorax" and "gallbladder" when those are
    terms. Only an exact split of a one-word term of seven letters or more into two pieces of
    three letters or more is joined, so no other word changes: side words ("left", "right")
    are never touched.
    """
    for term in terms:
        if " " in term or len(term) < 7:
            continue
        # Pieces of three letters or more, split once: "pneumo thorax", "hydro nephrosis".
        pattern = "|".join(
            re.escape(term[:i]) + r"[\s-]+" + re.escape(term[i:]) for i in range(3, len(term) - 2)
        )
        text = re.sub(rf"\b(?:{pattern})\b", term, text, flags=re.IGNORECASE)
    return text


#: Words of terms that are ordinary English or side words: never "medical words" to mark.
_NOT_MEDICAL = frozenset(
    {"left", "right", "upper", "lower", "middle", "free", "tube", "window", "slice", "tear"}
    | _COMMON
)


def medical_words(terms: Iterable[str]) -> frozenset[str]:
    """The lower-case words of ``terms`` that mark a medical word in a transcript.

    Examples
    --------
    >>> sorted(medical_words(["left lung", "pleural effusion", "window"]))
    ['effusion', 'lung', 'pleural']
    """
    return frozenset(w for term in terms for w in _words(term) if w not in _NOT_MEDICAL)
